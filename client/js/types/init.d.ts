
export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;
export type SyncInitInput = BufferSource | WebAssembly.Module;

/** Loads the wasm (by default from beside this module); await it before the first `new Socket`. */
export default function init(
  module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>,
): Promise<unknown>;

/** Loads the wasm from bytes or a compiled module, at once. */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): unknown;
