// `@ferrocast/client/core/web`: the core as a plain ES module for pages without a bundler; `await init()` loads the
// wasm (from beside this file, or from what it is given) before the first `new Socket`.

export * from "./core.js"
export { default } from "./init.js"
export { initSync } from "ferrocast-machine"
