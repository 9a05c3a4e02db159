// `@ferrocast/client/sse`: server-sent events (`EventStream`) and the relay's event-stream socket (`SseSocket`),
// for a page on `@ferrocast/client/core`. Importing it lets the core's sockets fall back to the event-stream socket
// when WebSockets cannot open, or use it with `transport: "sse"`, as sockets of the full entry do.

import { useEventStreamSocket } from "./event-stream-socket.js"
import { SseSocket } from "./sse-socket.js"
import { TransportChoice } from "./stream-machines.js"

useEventStreamSocket((url, token) => SseSocket.connect(url, token), TransportChoice)

export { EventStream } from "./event-stream.js"
export { SseSocket } from "./sse-socket.js"
