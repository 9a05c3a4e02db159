// What the JavaScript layer takes from the protocol crate rather than spelling out itself: the event names it acts
// on and the binary frame decoder, asked of the wasm module once, on first use (after `init()`).

import { Machine, protocolEvents as names } from "ferrocast-machine"

let wire

/** `{close, error, reply, decodeBinary}`: a channel's close and error events, a reply's, and the binary decoder. */
export function protocolEvents() {
  if (!wire) {
    const [close, error, reply] = names()
    wire = { close, error, reply, decodeBinary: Machine.decodeBinary }
  }
  return wire
}
