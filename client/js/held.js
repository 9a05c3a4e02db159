// The machines of `Presence` and the event streams (`client/src/presence.rs`, `event_stream.rs`, `sse_transport.rs`,
// `transport_choice.rs`), behind one wasm entry point (`held.rs`) taking a handle, an operation and its arguments
// as bytes (`boundary.js`). Operation 0, `FREE`, lets go of a machine of any kind; each kind is made by an
// operation of its own, which returns its handle, and numbers its operations apart from the others'. The socket's
// machine (`machine.js`) has an entry point of its own and refuses calls made from inside its backoff functions.

import { held } from "ferrocast-machine"
import { run as exchange } from "./boundary.js"

const FREE = 0

/** The results of operation `op` on the machine behind `handle` (any for an operation of none). */
export function run(handle, op, ...args) {
  return exchange(held, handle, op, args)
}

// A machine the page dropped lets go of its slot too; one freed by `_free()` is no longer watched, as its handle may
// already be another machine's.
const dropped = typeof FinalizationRegistry === "function" && new FinalizationRegistry((handle) => run(handle, FREE))

/** One machine, made by its kind's operation `make` of `args`; the subclasses name its operations. */
export class Held {
  constructor(make, ...args) {
    this._handle = run(0, make, ...args)[0]
    if (dropped) dropped.register(this, this._handle, this)
  }

  _call(op, ...args) {
    return run(this._handle, op, ...args)
  }

  _one(op, ...args) {
    return this._call(op, ...args)[0]
  }

  _free() {
    if (dropped) dropped.unregister(this)
    this._call(FREE)
  }
}
