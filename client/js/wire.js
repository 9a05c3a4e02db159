// What the JavaScript layer takes from the protocol crate rather than spelling out itself: the event names it acts
// on, asked of the wasm module once, on first use (after `init()`).

import { protocolEvents as names } from "./machine.js"

let wire

/** `{close, error, reply}`: a channel's close and error events, and a reply's. */
export function protocolEvents() {
  if (!wire) {
    const [close, error, reply] = names()
    wire = { close, error, reply }
  }
  return wire
}
