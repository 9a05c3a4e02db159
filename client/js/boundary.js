// The JavaScript side of the byte boundary (`client/src/boundary.rs` lays out the values): a call's arguments are
// written as one byte string of typed values, and its results read back from another, so each machine has one
// entry point in wasm instead of a generated class with a wrapper for each method.

const UNDEFINED = 0
const NULL = 1
const FALSE = 2
const NUMBER = 4
const STRING = 5
const BYTES = 6

const encoder = new TextEncoder()
const decoder = new TextDecoder()

// One buffer for every call's arguments, grown when a call needs more; wasm copies them in before it runs.
let buffer = new Uint8Array(1024)
let view = new DataView(buffer.buffer)
let at = 0

function room(len) {
  if (at + len <= buffer.length) return
  const bigger = new Uint8Array(2 * (at + len))
  bigger.set(buffer)
  buffer = bigger
  view = new DataView(bigger.buffer)
}

/** `values` (`undefined`, `null`, booleans, numbers, strings, `Uint8Array`s) as the boundary's bytes. */
export function encode(values) {
  at = 0
  for (const value of values) {
    room(9)
    if (value == null) buffer[at++] = value === null ? NULL : UNDEFINED
    else if (typeof value === "boolean") buffer[at++] = FALSE + value
    else if (typeof value === "number") {
      buffer[at] = NUMBER
      view.setFloat64(at + 1, value, true)
      at += 9
    } else if (typeof value === "string") {
      // UTF-8 takes at most three bytes for each UTF-16 unit.
      room(5 + 3 * value.length)
      const { written } = encoder.encodeInto(value, buffer.subarray(at + 5))
      sized(STRING, written)
    } else {
      room(5 + value.length)
      buffer.set(value, at + 5)
      sized(BYTES, value.length)
    }
  }
  return buffer.subarray(0, at)
}

function sized(kind, len) {
  buffer[at] = kind
  view.setUint32(at + 1, len, true)
  at += 5 + len
}

/** The values in `bytes`, in order; bytes come out as `ArrayBuffer`s of their own. */
export function decode(bytes) {
  const values = []
  const data = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  for (let i = 0; i < bytes.length; ) {
    const kind = bytes[i++]
    if (kind < NUMBER) values.push(kind === UNDEFINED ? undefined : kind === NULL ? null : kind > FALSE)
    else if (kind === NUMBER) {
      values.push(data.getFloat64(i, true))
      i += 8
    } else {
      const len = data.getUint32(i, true)
      const value = bytes.subarray(i + 4, (i += 4 + len))
      values.push(kind === STRING ? decoder.decode(value) : value.slice().buffer)
    }
  }
  return values
}
