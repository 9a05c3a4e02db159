// `init()` of the entries for pages without a bundler (`web.js`, `core-web.js`, `presence-web.js`, `sse-web.js`):
// gets the wasm (from beside this module unless told where), compiles it, and instantiates it with the glue's
// imports through the glue's `initSync`. It takes what wasm-bindgen's own loader takes, in less code: that loader
// was 0.9 KB of a core page's gzip. `client/tests/browser/page/tests/loading.mjs` feeds it each kind of input.

import { initSync } from "ferrocast-machine"

let loading

/**
 * Loads the wasm once: from a URL, path or `Request`, a `Response`, bytes or a compiled module, or a promise of one,
 * given as it is or as `{module_or_path}`. A failed load can be tried again.
 */
export default function init(input) {
  loading ??= load(input)
  loading.catch(() => (loading = undefined))
  return loading
}

async function load(input) {
  if (input && Object.getPrototypeOf(input) === Object.prototype) input = input.module_or_path
  input = await (input ?? new URL("ferrocast_client_bg.wasm", import.meta.url))
  if (typeof input === "string" || input instanceof URL || (typeof Request === "function" && input instanceof Request)) {
    input = await fetch(input)
  }
  if (typeof Response === "function" && input instanceof Response) {
    if (!input.ok) throw new Error(`could not load the wasm: ${input.status} ${input.statusText} from ${input.url}`)
    // Compiling while it downloads needs the `application/wasm` type; bytes served as another are compiled whole.
    const streaming = input.headers.get("Content-Type") === "application/wasm"
    input = await (streaming ? WebAssembly.compileStreaming(input) : input.arrayBuffer())
  }
  return initSync({ module: input })
}
