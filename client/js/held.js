// The machines behind the entries of `Presence` and the event streams (`client/src/presence.rs`, `event_stream.rs`,
// `sse_transport.rs`, `transport_choice.rs`), each kind behind one wasm entry point taking a handle, an operation
// and its arguments as bytes (`boundary.js`). Every such entry numbers its first two operations alike: `FREE` lets
// go of the machine, `NEW` makes one and returns its handle. The socket's machine (`machine.js`) numbers its
// operations its own way (`NEW` is 27) and refuses calls made from inside its backoff functions.

import { run as exchange } from "./boundary.js"

const FREE = 0
const NEW = 1

/** The results of operation `op` of `entry` on the machine behind `handle` (any for an operation of none). */
export function run(entry, handle, op, ...args) {
  return exchange(entry, handle, op, args)
}

// A machine the page dropped lets go of its slot too; one freed by `free()` is no longer watched, as its handle may
// already be another machine's.
const dropped =
  typeof FinalizationRegistry === "function" && new FinalizationRegistry(([entry, handle]) => run(entry, handle, FREE))

/** One machine behind `entry`, made of `args`; the subclasses name its operations. */
export class Held {
  constructor(entry, ...args) {
    this.entry = entry
    this.handle = run(entry, 0, NEW, ...args)[0]
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
