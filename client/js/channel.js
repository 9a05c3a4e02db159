// `Channel`: one topic joined over a socket, as phoenix.js's `Channel`, made by `socket.channel(topic, params)`.
// The machine owns its state and its pushes; this object holds its bindings (`on`) and its params.

import { protocolEvents } from "./wire.js"
import { CHANNEL_STATE, JOIN, LEAVE, PUSH } from "./machine.js"
import { outgoing } from "./payload.js"

/** The binding `onRecoveryFailed` registers under: not an event name a server sends. */
export const RECOVERY_FAILED = "ferrocast:recovery_failed"

export class Channel {
  constructor(socket, id, topic, params) {
    this.socket = socket
    this._id = id
    this._topic = topic
    // The join params: an object, or a function called before each join.
    this.params = params
    this._bindings = []
    this._nextBinding = 1
  }

  /** Joins the topic; the returned push reports this and every later (re)join attempt. Throws if called twice. */
  join(timeout) {
    this.socket._refreshParams(this, true)
    const push = this.socket._start(JOIN, this._id, timeout)
    push._join = true
    return push
  }

  /** Calls `callback(payload, ref, joinRef)` for every `event` on the topic; returns a ref for `off`. */
  on(event, callback) {
    if (!this.socket._channels.has(this._id)) return 0
    const ref = this._nextBinding++
    this._bindings.push([event, ref, callback])
    return ref
  }

  /** Removes the callbacks for `event`: the one under `ref`, or all of them. */
  off(event, ref) {
    this._bindings = this._bindings.filter(([bound, boundRef]) => !(bound === event && (ref == null || ref === boundRef)))
  }

  /** Calls `callback()` when the channel closes (left, or closed by the server). */
  onClose(callback) {
    return this.on(protocolEvents().close, callback)
  }

  /** Calls `callback(reason)` when the channel errors (it then rejoins by itself). */
  onError(callback) {
    return this.on(protocolEvents().error, callback)
  }

  /**
   * Calls `callback({topic, offset, epoch})` when a rejoin could not replay every broadcast missed while the
   * channel was away (the relay's history did not reach back far enough, or it restarted): reload the state the
   * channel feeds. The channel goes on from the position given. Not called by servers without history.
   */
  onRecoveryFailed(callback) {
    return this.on(RECOVERY_FAILED, callback)
  }

  /**
   * Sends `event` with `payload` (JSON, or an `ArrayBuffer` for a binary frame). Waits in the offline queue while
   * the channel is not joined. Throws before `join()` and after `leave()`.
   */
  push(event, payload, timeout) {
    const [text, bytes] = outgoing(payload, `push "${event}" to "${this._topic}"`)
    return this.socket._start(PUSH, this._id, event, text, bytes, timeout)
  }

  /** Leaves the topic; the returned push gets "ok" when the server confirms (or at once when offline). */
  leave(timeout) {
    return this.socket._start(LEAVE, this._id, timeout)
  }

  /** "closed", "errored", "joined", "joining" or "leaving". */
  get state() {
    return this.socket._machine._one(CHANNEL_STATE, this._id)
  }

  get topic() {
    return this._topic
  }

  /** The ref of the current join, as phoenix.js's `channel.joinRef()`. */
  joinRef() {
    return this.socket._machine._joinRef(this._id)
  }

  /** Queues the callbacks bound to `event` with `args` on `calls`. */
  _trigger(event, args, calls) {
    for (const [bound, , callback] of this._bindings) if (bound === event) calls.push([callback, args])
  }
}
