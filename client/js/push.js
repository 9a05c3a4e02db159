// `Push`: one message sent to a channel (or a channel's join or leave), and the callbacks for its outcome, as
// phoenix.js's `Push`. `receive(status, callback)` chains.
//
// Every push ends in exactly one outcome: the server's reply ("ok", "error", ...) or "timeout". A join reports
// every attempt, so its callbacks run again on each rejoin. A callback added after the outcome runs at once.

import { call } from "./calls.js"

export class Push {
  constructor() {
    this._hooks = []
    this._received = null
    // A channel's join, which reports every attempt (set by `Channel.join`).
    this._join = false
  }

  /** Calls `callback(response)` when the outcome has this status (at once if it already has); returns the push. */
  receive(status, callback) {
    if (this._received && this._received[0] === status) call(callback, [this._received[1]])
    this._hooks.push([status, callback])
    return this
  }

  /** The machine's outcome: queues the matching callbacks on `calls` and keeps it for later ones. */
  _settle(status, response, calls) {
    for (const [wanted, callback] of this._hooks) if (wanted === status) calls.push([callback, [response]])
    this._received = [status, response]
  }
}
