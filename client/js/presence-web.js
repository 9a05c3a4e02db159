// `@ferrocast/client/presence/web`: `Presence` as a plain ES module for pages without a bundler; `await init()`
// loads its wasm (from beside this file, or from what it is given), as the core's own `init()` does its.

export * from "./presence-index.js"
export { default } from "./init.js"
export { initSync } from "ferrocast-machine"
