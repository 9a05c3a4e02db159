// The machines behind the entries of `Presence` and the event streams (`client/src/presence.rs`, `streams.rs`), each
// behind a wasm entry point taking a handle, an operation and its arguments as bytes (`boundary.js`). Every such
// entry lets go of a machine with operation 0, `FREE`, and makes one with the operation its kind gives, which
// returns its handle. The socket's machine (`machine.js`) numbers its operations its own way and refuses calls made
// from inside its backoff functions.

import { run as exchange } from "./boundary.js"

const FREE = 0

/** The results of operation `op` of `entry` on the machine behind `handle` (any for an operation of none). */
export function run(entry, handle, op, ...args) {
  return exchange(entry, handle, op, args)
}

// A machine the page dropped lets go of its slot too; one freed by `free()` is no longer watched, as its handle may
// already be another machine's.
const dropped =
  typeof FinalizationRegistry === "function" && new FinalizationRegistry(([entry, handle]) => run(entry, handle, FREE))

/** One machine behind `entry`, made by its operation `make` of `args`; the subclasses name its operations. */
export class Held {
  constructor(entry, make, ...args) {
    this.entry = entry
    this.handle = run(entry, 0, make, ...args)[0]
    if (dropped) dropped.register(this, [entry, this.handle], this)
  }

  call(op, ...args) {
    return run(this.entry, this.handle, op, ...args)
  }

  one(op, ...args) {
    return this.call(op, ...args)[0]
  }

  free() {
    if (dropped) dropped.unregister(this)
    this.call(FREE)
  }
}
