// `@ferrocast/client/core`: `Socket`, `Channel` and `Push`, with recovery, the offline queue, backoff, receipts
// and batching, over the protocol machine in wasm. `await init()` loads the wasm (from beside this file, or from
// what it is given) before the first `new Socket`.

export { default, initSync } from "ferrocast-machine"
export { Channel } from "./channel.js"
export { Push } from "./push.js"
export { Socket } from "./socket.js"
