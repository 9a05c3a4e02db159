// `PresenceMachine`: the protocol's presence tracker in wasm (`client/src/presence.rs`), as `Presence` calls it.
// Each method is one operation on the tracker's handle (`held.js`); the records and the shape of a payload cross
// as the bytes of a `Uint32Array`, the keys as one string.

import { Held } from "./held.js"

// The operations, as `client/src/presence.rs` (`op`) numbers and describes them.
const NEW = 21
const FRAME = 22
const LIST = 23
const PENDING = 24

export class PresenceMachine extends Held {
  constructor() {
    super(NEW)
  }

  /** Hands the tracker a flattened payload (`Flat` in presence.rs); `[names, records]`. */
  _frame(diff, joinRef, text, shape) {
    return this._records(FRAME, diff, joinRef, text, new Uint8Array(Uint32Array.from(shape).buffer))
  }

  /** The presences, as `[names, records]`. */
  _list() {
    return this._records(LIST)
  }

  _pending(joinRef) {
    return this._one(PENDING, joinRef)
  }

  _records(op, ...args) {
    const [names, records] = this._call(op, ...args)
    return [names, new Uint32Array(records)]
  }
}
