// `@ferrocast/client`: the full API. `Socket`, `Channel` and `Push` (the core, in JavaScript over the protocol
// machine), with `Presence`, `EventStream` and the relay's event-stream socket (`SseSocket`), which sockets made
// from this entry fall back to when WebSockets cannot open (or use, with `transport: "sse"`).

import { useEventStreamSocket } from "./event-stream-socket.js"
import { SseSocket } from "./sse-socket.js"
import { TransportChoice } from "./stream-machines.js"

useEventStreamSocket((url, token) => SseSocket.connect(url, token), TransportChoice)

export { Channel } from "./channel.js"
export { EventStream } from "./event-stream.js"
export { Presence } from "./presence.js"
export { Push } from "./push.js"
export { SseSocket } from "./sse-socket.js"
export { Socket } from "./socket.js"
