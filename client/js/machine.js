// `Machine`: the protocol's client state machine in wasm (`client/src/machine.rs`), as `Socket` calls it. A call is
// one operation on the machine's handle, its arguments and results crossing as bytes (`boundary.js`): most are made
// by their number (`machine._call(CONNECT)`), and a method wraps the few that do more.

import { machine, machineDeadline } from "ferrocast-machine"
import { begin, put, resultsOf, run, written } from "./boundary.js"

// The operations, as `client/src/machine.rs` (`op`) numbers and describes them: the exported ones are called by
// their number, with the arguments `op` lists; the others through a method below.
const FREE = 0
const DRAIN = 1
export const TIMEOUT = 3
export const CONNECT = 4
export const DISCONNECT = 5
export const PROBE = 6
const URL = 7
const TOKEN_PROTOCOL = 8
export const OPENED = 9
export const CLOSED = 10
export const ERRORED = 11
export const FAILED = 12
const FRAME = 13
export const CHANNEL = 14
export const SET_PARAMS = 15
export const JOIN = 16
export const PUSH = 17
export const LEAVE = 18
export const JOIN_PUSH = 19
export const CHANNEL_STATE = 20
const JOIN_REF = 21
export const CONNECTION_STATE = 22
export const IS_CONNECTED = 23
const MAKE_REF = 24
export const STATS = 25
const PROTOCOL_EVENTS = 26
const NEW = 27

// The application's `reconnectAfterMs` and `rejoinAfterMs`, by keys unique on the page, which the wasm calls them by
// (`custom_backoff` in `client/src/machine.rs` says why the map is global).
const functions = (globalThis[Symbol.for("@ferrocast/client: backoff functions")] ??= new Map())

/** `delay`'s key: the function, made to give a number or `NaN`, never to throw. */
function keep(delay) {
  if (!delay) return undefined
  let key
  do key = Math.floor(Math.random() * 2 ** 32)
  while (functions.has(key))
  functions.set(key, (tries) => {
    try {
      const ms = delay(tries)
      return typeof ms === "number" ? ms : NaN
    } catch {
      return NaN
    }
  })
  return key
}

// A socket the page dropped lets go of its machine and its functions too.
const machines =
  typeof FinalizationRegistry === "function" &&
  new FinalizationRegistry(([handle, keys]) => {
    run(machine, handle, FREE, [])
    for (const key of keys) functions.delete(key)
  })

// Whether a call is under way: the only code that runs inside one is a `reconnectAfterMs` or `rejoinAfterMs`.
let calling = false
// Calls made so far, by every socket: a machine that was not called since its last drain has nothing to drain.
let calls = 0

/** The results of operation `op` on the machine behind `handle`. */
function call(handle, op, ...args) {
  enter()
  try {
    return run(machine, handle, op, args)
  } finally {
    calling = false
  }
}

function enter() {
  if (calling) throw new Error("reconnectAfterMs and rejoinAfterMs may not call a socket")
  calling = true
  calls++
}

export class Machine {
  /** A machine with `options` as `client/js/options.js` reads them (`op::NEW` in `client/src/machine.rs` lists them). */
  constructor(endPoint, options) {
    const { reconnectAfter, rejoinAfter } = options
    const { v1, batch, timeout, heartbeatInterval, heartbeatTimeout, probeTimeout, recovery } = options
    const seed = Math.random() * 2 ** 53
    const keys = [keep(reconnectAfter), keep(rejoinAfter)]
    const args = [seed, v1, batch, timeout, heartbeatInterval, heartbeatTimeout, probeTimeout, recovery]
    this._handle = run(machine, 0, NEW, [...args, ...options.backoff, ...options.queue, options.dropOldest, ...keys])[0]
    if (machines) machines.register(this, [this._handle, keys])
    // As phoenix.js keeps it.
    this._endPoint = `${endPoint}/websocket`
    this._why = ""
    this._drained = -1
  }

  /** The records of everything the machine produced since the last drain (`client/js/records.js` reads them). */
  _drain() {
    const records = call(this._handle, DRAIN)
    this._drained = calls
    return records
  }

  /** Whether there may be records to drain: a call was made since the last drain. */
  _changed() {
    return calls !== this._drained
  }

  /** When to call `TIMEOUT` next, in machine time; -1 for never. */
  _deadline() {
    return machineDeadline(this._handle)
  }

  /** The results of operation `op` (one of those exported above) with its arguments. */
  _call(op, ...args) {
    return call(this._handle, op, ...args)
  }

  /**
   * The URL the next connection opens: the endpoint, the application's `query` (its `params`, as phoenix.js writes
   * them), then the parameters the machine adds (this socket's id when it recovers, the batch parameter, `vsn`).
   */
  _url(query) {
    const added = call(this._handle, URL, crypto.getRandomValues(new Uint8Array(16)))
    const parts = query ? [query] : []
    for (let i = 0; i < added.length; i += 2) parts.push(`${added[i]}=${added[i + 1]}`)
    return `${this._endPoint}${this._endPoint.includes("?") ? "&" : "?"}${parts.join("&")}`
  }

  static _tokenProtocol(token) {
    return call(0, TOKEN_PROTOCOL, token)[0]
  }

  /**
   * Hands the machine a frame; the records it produced, as `_drain` returns them. A `topic`, `event` or `epoch` left
   * `undefined` is the last frame's; `ext` is the extension's flags, or `undefined` for none.
   */
  _frame(now, joinRef, ref, topic, event, status, ext, offset, epoch) {
    // This is a call for every frame a page receives: the numbers go as arguments, and only the strings the frame
    // has are written, each with its bit in `texts` (`op::FRAME` in `client/src/machine.rs`).
    enter()
    try {
      begin()
      let texts = 0
      if (joinRef != null) texts |= text(joinRef, 1)
      if (ref != null) texts |= text(ref, 2)
      if (topic !== undefined) texts |= text(topic, 4)
      if (event !== undefined) texts |= text(event, 8)
      if (status !== undefined) texts |= text(status, 16)
      if (epoch !== undefined) texts |= text(epoch, 32)
      this._drained = calls
      return resultsOf(machine(this._handle, FRAME, written(), now, ext ?? -1, offset, texts))
    } finally {
      calling = false
    }
  }

  // The calls that may be refused return -1, and `_refused()` says why.

  /** Operation `op` that may be refused (`SET_PARAMS`, `JOIN`, `PUSH`, `LEAVE`): its number, or -1. */
  _outcome(op, ...args) {
    const [result, why] = this._call(op, ...args)
    if (result < 0) this._why = why
    return result
  }

  _refused() {
    return this._why
  }

  /** The first result of operation `op`. */
  _one(op, ...args) {
    return this._call(op, ...args)[0]
  }

  /** The ref of the channel's current join, as text, or `undefined`. */
  _joinRef(channel) {
    return this._one(JOIN_REF, channel)?.toString()
  }

  _makeRef() {
    return `${this._one(MAKE_REF)}`
  }
}

/** The event names the JavaScript layer acts on: `[close, error, reply]`. */
export function protocolEvents() {
  return call(0, PROTOCOL_EVENTS)
}

/** Writes a frame's string; its bit. */
function text(value, bit) {
  put(value)
  return bit
}
