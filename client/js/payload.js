// Outgoing payloads, as the machine takes them: JSON text, or bytes for a binary frame.

/**
 * A JSON payload as text; `undefined` stays `undefined` (the protocol's `{}`). Throws an `Error` naming `what`
 * when the value has no JSON form.
 */
export function json(value, what) {
  if (value === undefined) return undefined
  let text
  try {
    text = JSON.stringify(value)
  } catch {
    // A cycle, or a BigInt: said below.
  }
  if (typeof text !== "string") {
    throw new Error(`${what}: the payload cannot be sent as JSON (a function, a symbol, a cycle?)`)
  }
  return text
}

/** A push's payload: `[undefined, bytes]` for an `ArrayBuffer` or a typed array, `[jsonText]` for the rest. */
export function outgoing(payload, what) {
  if (payload instanceof ArrayBuffer) return [undefined, new Uint8Array(payload)]
  if (ArrayBuffer.isView(payload)) {
    return [undefined, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)]
  }
  return [json(payload, what)]
}
