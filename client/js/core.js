// `@ferrocast/client/core`: `Socket`, `Channel` and `Push`, with recovery, the offline queue, backoff, receipts
// and batching, over the protocol machine in wasm; WebSockets only, no `Presence`, no server-sent events.

export { Channel } from "./channel.js"
export { Push } from "./push.js"
export { Socket } from "./socket.js"
