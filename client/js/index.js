// `@ferrocast/client`: the full API. `Socket`, `Channel` and `Push` (the core, in JavaScript over the protocol
// machine), with `Presence`, `EventStream` and the relay's event-stream socket (`SseSocket`), which sockets made
// from this entry fall back to when WebSockets cannot open (or use, with `transport: "sse"`).

import { SseSocket, TransportChoice } from "ferrocast-machine"
import { useEventStreamSocket } from "./event-stream-socket.js"

useEventStreamSocket((url, token) => SseSocket.connect(url, token), TransportChoice)

export { EventStream, Presence, SseSocket } from "ferrocast-machine"
export { Channel } from "./channel.js"
export { Push } from "./push.js"
export { Socket } from "./socket.js"
