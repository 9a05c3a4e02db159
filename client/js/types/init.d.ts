
/** Where `init` may load the wasm from. */
export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;
/** What `initSync` may load the wasm from. */
export type SyncInitInput = BufferSource | WebAssembly.Module;

/**
 * Loads the wasm; await it before the first `new Socket`.
 * @param module_or_path Where the wasm is: a URL, a response, bytes or a compiled module (by default the file beside
 * this module).
 * @returns A promise that settles once the wasm is ready.
 */
export default function init(
  module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>,
): Promise<unknown>;

/**
 * Loads the wasm from bytes or a compiled module, at once.
 * @param module The bytes or the module.
 * @returns The wasm's exports (not needed: the classes use them).
 */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): unknown;
