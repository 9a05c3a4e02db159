// `@ferrocast/client/core`: `Socket`, `Channel` and `Push`, with recovery, the offline queue, backoff, receipts
// and batching, over the protocol machine in wasm; WebSockets only. `Presence` is `@ferrocast/client/presence`,
// server-sent events and the event-stream socket `@ferrocast/client/sse`.

export { Channel } from "./channel.js"
export { Push } from "./push.js"
export { Socket } from "./socket.js"
