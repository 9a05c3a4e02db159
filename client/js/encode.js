// A client's frames on the wire, laid out as `ferrocast-protocol`'s encoder writes them (`protocol/src/codec`):
// V1 and V2 JSON, whose strings `JSON.stringify` escapes exactly as the native encoder does, and V2's binary push.
// The machine decides every frame and its fields (`client/src/machine.rs`, `Tag::Send`); this only writes them, so
// the wasm carries no encoder. `client/tests/encoder_parity.rs` holds this to the native encoder's bytes.

const json = JSON.stringify
const utf8 = new TextEncoder()

/** Binary frame kind of a client's push. */
const PUSH = 0

/**
 * The frame a socket speaking V1 (`v1`) or V2 sends: a string, or an `ArrayBuffer` when `payload` is one. `payload`
 * is JSON text otherwise; `ext`, Ferrocast's extension, is an object or `undefined`.
 */
export function encode(v1, joinRef, ref, topic, event, payload, ext) {
  if (typeof payload !== "string") return binaryPush([joinRef, ref, topic, event], new Uint8Array(payload))
  const extension = ext === undefined ? "" : json(ext)
  if (v1) {
    const joined = joinRef == null ? "" : `,"join_ref":${json(joinRef)}`
    const extended = extension && `,"ext":${extension}`
    return `{"topic":${json(topic)},"event":${json(event)},"payload":${payload},"ref":${json(ref ?? null)}${joined}${extended}}`
  }
  return `[${json(joinRef ?? null)},${json(ref ?? null)},${json(topic)},${json(event)},${payload}${extension && `,${extension}`}]`
}

/** Kind, the four fields' lengths, the fields, the payload: a missing ref is empty. */
function binaryPush(fields, payload) {
  const parts = fields.map((field) => utf8.encode(field ?? ""))
  let at = 1 + parts.length
  const frame = new Uint8Array(parts.reduce((len, part) => len + part.length, at + payload.length))
  frame[0] = PUSH
  parts.forEach((part, i) => {
    frame[1 + i] = part.length
    frame.set(part, at)
    at += part.length
  })
  frame.set(payload, at)
  return frame.buffer
}
