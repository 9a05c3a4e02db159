// `@ferrocast/client/sse/web`: `EventStream` and `SseSocket` as a plain ES module for pages without a bundler;
// `await init()` loads its wasm before the first socket or stream, as the core's own `init()` does its.

export * from "./sse-index.js"
export { default } from "./init.js"
export { initSync } from "ferrocast-machine"
