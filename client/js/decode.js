// Frames from the server: text decoded with `JSON.parse`, binary frames read here byte by byte.
//
// The rules are the protocol crate's (`protocol/PROTOCOL.md`, and its native decoder in `protocol/src/codec`): V2
// frames are arrays of five elements plus Ferrocast's optional extension, V1 frames are objects, a `phx_reply`
// carries `{status, response}`, and a V1 server's `phx_close` and `phx_error` carry the join ref in `ref` (a V1
// server frame has no join ref of its own), binary frames are a kind byte, one length byte per header field, the
// fields, then the payload (`protocol/src/codec/binary.rs` has the table). Payloads stay the values `JSON.parse`
// made, or an `ArrayBuffer` of their own. The native decoder and this one read the protocol's fuzz corpus alike:
// `client/tests/decoder_parity.rs` checks it.
//
// A frame is `{joinRef, ref, topic, event, payload, status, response, ext}`: `status` and `response` for a reply
// only, `ext` (`{recovered, offset, epoch}`) when the frame has Ferrocast's extension.

/**
 * The frames of one WebSocket message's `data`: a string holds one frame, or on V2 a batch of them (`[frame,
 * frame, ...]`, which the relay sends to sockets that asked for batches); binary data (an `ArrayBuffer`) holds one
 * binary frame. Each is a frame, or a string saying why it cannot be read. `wire` has the protocol's event names:
 * `close`, `error` and `reply`.
 */
export function decode(v1, data, wire) {
  if (typeof data !== "string") {
    if (v1) return ["a binary frame on a vsn 1.0.0 socket"]
    return [attempt(binary, new Uint8Array(data), wire)]
  }
  let value
  try {
    value = JSON.parse(data)
  } catch {
    return ["a text frame that is not JSON"]
  }
  if (v1) return [attempt(fromV1, value, wire)]
  // A batch is an array whose first element is an array; a frame's first element is its join ref.
  if (!(Array.isArray(value) && Array.isArray(value[0]))) return [attempt(fromV2, value, wire)]
  const frames = new Array(value.length)
  for (let i = 0; i < value.length; i++) frames[i] = attempt(fromV2, value[i], wire)
  return frames
}

/** `read(value, wire)`, or the reason it gives (a string) for a frame it cannot read. */
function attempt(read, value, wire) {
  try {
    return read(value, wire)
  } catch (why) {
    if (typeof why === "string") return why
    throw why
  }
}

function fromV2(value, wire) {
  if (!Array.isArray(value)) throw "a vsn 2.0.0 text frame that is not an array"
  if (value.length < 5 || value.length > 6) throw `a frame of ${value.length} elements, not 5`
  return frame(
    optionalString(value[0], "join_ref"),
    optionalString(value[1], "ref"),
    string(value[2], "topic"),
    string(value[3], "event"),
    value[4],
    ext(value[5]),
    wire,
  )
}

function fromV1(value, wire) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw "a vsn 1.0.0 frame that is not an object"
  const event = string(value.event, "event")
  const ref = optionalString(value.ref, "ref")
  // A V1 server's wire has no join ref field, so a `join_ref` key is no field at all, as in the native decoder.
  const joinRef = event === wire.close || event === wire.error ? ref : null
  return frame(joinRef, ref, string(value.topic, "topic"), event, value.payload, ext(value.ext), wire)
}

function frame(joinRef, ref, topic, event, payload, ext, wire) {
  const decoded = { joinRef, ref, topic, event, payload, ext }
  if (event === wire.reply) {
    const status = payload?.status
    if (typeof status !== "string") throw "a phx_reply without a string status"
    decoded.status = status
    decoded.response = payload.response
  }
  return decoded
}

// The binary frame kinds a server sends, and the header fields of each, in order: Phoenix's push (to one channel),
// reply and broadcast, and Ferrocast's broadcast with a position, whose 8-byte big-endian offset follows its fields.
const KINDS = [
  ["join_ref", "topic", "event"],
  ["join_ref", "ref", "topic", "status"],
  ["topic", "event"],
  ["topic", "event", "epoch"],
]
const REPLY_KIND = 1
const POSITIONED_KIND = 3
const utf8 = new TextDecoder("utf-8", { fatal: true })

/** One binary frame from the server. A missing ref or join ref has length 0, so an empty one reads as missing. */
function binary(bytes, wire) {
  if (bytes.length === 0) throw "binary frame is empty: it has no kind byte"
  const kind = bytes[0]
  const names = KINDS[kind]
  if (!names) throw `unknown binary frame kind ${kind}`
  let at = 1 + names.length
  if (bytes.length < at) throw `binary frame truncated: a kind ${kind} header has ${names.length} length bytes`
  const field = {}
  names.forEach((name, i) => {
    const end = at + bytes[1 + i]
    if (end > bytes.length) throw `binary frame truncated: header says ${name} is ${bytes[1 + i]} bytes`
    try {
      field[name] = utf8.decode(bytes.subarray(at, end))
    } catch {
      throw `binary frame's ${name} is not UTF-8`
    }
    at = end
  })
  let ext
  if (kind === POSITIONED_KIND) {
    if (at + 8 > bytes.length) throw "binary frame truncated: its offset needs 8 bytes"
    const offset = new DataView(bytes.buffer, bytes.byteOffset + at, 8).getBigUint64(0)
    if (offset > Number.MAX_SAFE_INTEGER) throw `binary frame's offset ${offset} is past 2^53 - 1`
    ext = extension(0, Number(offset), field.epoch)
    at += 8
  }
  const payload = bytes.slice(at).buffer
  const [joinRef, ref] = [field.join_ref || null, field.ref || null]
  if (kind === REPLY_KIND) {
    // phoenix.js hands `onMessage` a reply's payload as it travels: `{status, response}`.
    const { status } = field
    return { joinRef, ref, topic: field.topic, event: wire.reply, payload: { status, response: payload }, status, response: payload }
  }
  if (field.event === wire.reply) throw `binary frame kind ${kind} is a message, which a server cannot name ${wire.reply}`
  return { joinRef, ref, topic: field.topic, event: field.event, payload, ext }
}

function string(value, name) {
  if (typeof value !== "string") throw `a frame whose ${name} is not a string`
  return value
}

function optionalString(value, name) {
  return value === null || value === undefined ? null : string(value, name)
}

/**
 * Ferrocast's extension object, `{offset, epoch, recovered}`. Anything else (a Phoenix peer's extra element, an
 * object with unknown keys or wrong types, an offset past 2^53 - 1, only one of `offset` and `epoch`) is not an
 * extension.
 */
function ext(value) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined
  const { offset, epoch, recovered } = value
  const known = [offset, epoch, recovered].filter((field) => field !== undefined).length
  if (Object.keys(value).length !== known) return undefined
  if (recovered !== undefined && typeof recovered !== "boolean") return undefined
  const flag = recovered === undefined ? 0 : recovered ? 2 : 1
  if (offset === undefined && epoch === undefined) return extension(flag, -1, undefined)
  if (offset === undefined || epoch === undefined) return undefined
  if (!(Number.isSafeInteger(offset) && offset >= 0)) return undefined
  if (typeof epoch !== "string") return undefined
  return extension(flag, offset, epoch)
}

/** The extension as the machine takes it: `recovered` 0 (none), 1 (false) or 2 (true), a position if `epoch`. */
function extension(recovered, offset, epoch) {
  return { recovered, offset, epoch }
}
