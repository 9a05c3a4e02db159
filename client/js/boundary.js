// The JavaScript side of the byte boundary (`client/src/boundary.rs` lays out the values): a call's arguments are
// written as typed values into the wasm's memory, where its entry point reads them, and its results read back from
// there, so each kind of machine has one entry point in wasm instead of a generated class with a wrapper for each
// method, and a call allocates nothing and copies nothing through the glue.

import { argumentsAt, resultsAt, wasmMemory } from "ferrocast-machine"

const UNDEFINED = 0
const NULL = 1
const FALSE = 2
const TRUE = 3
const NUMBER = 4
const STRING = 5
const BYTES = 6

const encoder = new TextEncoder()
const decoder = new TextDecoder()

// The wasm's memory, as bytes and as a view for numbers, remade when it grows; and where the arguments go, with
// room for how many bytes (asked for again only when a call needs more, which keeps what was written).
let wasm, bytes, view
let at = 0
let room = 0

function over() {
  // A memory that grew left the old views detached, and a detached view's length is 0.
  if (!bytes?.length) {
    const buffer = (wasm ??= wasmMemory()).buffer
    bytes = new Uint8Array(buffer)
    view = new DataView(buffer)
  }
}

/**
 * Operation `op` of the entry point `entry` on the machine behind `handle`, with `args` (`undefined`, `null`,
 * booleans, numbers, strings, `Uint8Array`s): its results, in order, bytes as `ArrayBuffer`s of their own.
 */
export function run(entry, handle, op, args) {
  begin()
  for (const value of args) put(value)
  return finish(entry, handle, op)
}

// A call written value by value, for the hot path, which has no array of arguments to make: `begin()`, `put` for
// each argument, then the entry point called with `written()` bytes of them, and `resultsOf` what it returned.
let end = 0

export function begin() {
  over()
  end = at
}

export function put(value) {
  if (value == null) {
    fit(1)
    bytes[end++] = value === null ? NULL : UNDEFINED
  } else if (typeof value === "boolean") {
    fit(1)
    bytes[end++] = value ? TRUE : FALSE
  } else if (typeof value === "number") {
    fit(9)
    bytes[end] = NUMBER
    view.setFloat64(end + 1, value, true)
    end += 9
  } else if (typeof value === "string") {
    // UTF-8 takes at most three bytes for each UTF-16 unit.
    const most = 3 * value.length
    fit(5 + most)
    sized(STRING, encoder.encodeInto(value, bytes.subarray(end + 5, end + 5 + most)).written)
  } else {
    fit(5 + value.length)
    bytes.set(value, end + 5)
    sized(BYTES, value.length)
  }
}

function finish(entry, handle, op) {
  return resultsOf(entry(handle, op, written()))
}

/** How many bytes of arguments were written since `begin()`, for an entry point that takes more than `finish`'s. */
export function written() {
  return end - at
}

/** The results of a call that returned `len` bytes of them, as `run` gives them. */
export function resultsOf(len) {
  return len ? results(resultsAt(), len) : NONE
}

/** Room for `len` more bytes at `end`: the mailbox grows, keeping what it has. */
function fit(len) {
  if (end + len <= at + room) return
  const written = end - at
  room = 2 * (written + len)
  at = argumentsAt(room)
  over()
  end = at + written
}

// The results of a call that returned none, shared: most calls return none.
const NONE = Object.freeze([])

/** The kind and length of a value of `len` bytes written at `end + 5`; `end` moves past it. */
function sized(kind, len) {
  bytes[end] = kind
  view.setUint32(end + 1, len, true)
  end += 5 + len
}

function results(start, len) {
  over()
  const values = []
  for (let i = start, end = start + len; i < end; ) {
    const kind = bytes[i++]
    if (kind < NUMBER) values.push(kind === UNDEFINED ? undefined : kind === NULL ? null : kind > FALSE)
    else if (kind === NUMBER) {
      values.push(view.getFloat64(i, true))
      i += 8
    } else {
      const len = view.getUint32(i, true)
      const value = bytes.subarray(i + 4, (i += 4 + len))
      values.push(kind === STRING ? decoder.decode(value) : value.slice().buffer)
    }
  }
  return values
}
