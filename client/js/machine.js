// `Machine`: the protocol's client state machine in wasm (`client/src/machine.rs`), as `Socket` calls it. Each
// method is one operation on the machine's handle, its arguments and results crossing as bytes (`boundary.js`).

import { machine, machineDeadline } from "ferrocast-machine"
import { begin, put, resultsOf, run, written } from "./boundary.js"

// The operations, as `client/src/machine.rs` (`op`) numbers and describes them.
const FREE = 0
const DRAIN = 1
const TIMEOUT = 3
const CONNECT = 4
const DISCONNECT = 5
const PROBE = 6
const URL = 7
const TOKEN_PROTOCOL = 8
const OPENED = 9
const CLOSED = 10
const ERRORED = 11
const FAILED = 12
const FRAME = 13
const CHANNEL = 14
const SET_PARAMS = 15
const JOIN = 16
const PUSH = 17
const LEAVE = 18
const JOIN_PUSH = 19
const CHANNEL_STATE = 20
const JOIN_REF = 21
const CONNECTION_STATE = 22
const IS_CONNECTED = 23
const MAKE_REF = 24
const STATS = 25
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
    this.handle = run(machine, 0, NEW, [...args, ...options.backoff, ...options.queue, options.dropOldest, ...keys])[0]
    if (machines) machines.register(this, [this.handle, keys])
    // As phoenix.js keeps it.
    this.endPoint = `${endPoint}/websocket`
    this.why = ""
    this.drained = -1
  }

  /** The records of everything the machine produced since the last drain (`client/js/records.js` reads them). */
  drain() {
    const records = call(this.handle, DRAIN)
    this.drained = calls
    return records
  }

  /** Whether there may be records to drain: a call was made since the last drain. */
  changed() {
    return calls !== this.drained
  }

  /** When to call `timeout` next, in machine time; -1 for never. */
  deadline() {
    return machineDeadline(this.handle)
  }

  timeout(now) {
    call(this.handle, TIMEOUT, now)
  }

  connect() {
    call(this.handle, CONNECT)
  }

  disconnect(now, code, reason) {
    call(this.handle, DISCONNECT, now, code, reason)
  }

  probe(now) {
    call(this.handle, PROBE, now)
  }

  /**
   * The URL the next connection opens: the endpoint, the application's `query` (its `params`, as phoenix.js writes
   * them), then the parameters the machine adds (this socket's id when it recovers, the batch parameter, `vsn`).
   */
  url(query) {
    const added = call(this.handle, URL, crypto.getRandomValues(new Uint8Array(16)))
    const parts = query ? [query] : []
    for (let i = 0; i < added.length; i += 2) parts.push(`${added[i]}=${added[i + 1]}`)
    return `${this.endPoint}${this.endPoint.includes("?") ? "&" : "?"}${parts.join("&")}`
  }

  static tokenProtocol(token) {
    return call(0, TOKEN_PROTOCOL, token)[0]
  }

  opened(now) {
    call(this.handle, OPENED, now)
  }

  closed(now, code, reason) {
    call(this.handle, CLOSED, now, code, reason)
  }

  errored(now) {
    call(this.handle, ERRORED, now)
  }

  failed(now, reason) {
    call(this.handle, FAILED, now, reason)
  }

  /**
   * Hands the machine a frame; the records it produced, as `drain` returns them. A `topic`, `event` or `epoch` left
   * `undefined` is the last frame's; `ext` is the extension's flags, or `undefined` for none.
   */
  frame(now, joinRef, ref, topic, event, status, ext, offset, epoch) {
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
      this.drained = calls
      return resultsOf(machine(this.handle, FRAME, written(), now, ext ?? -1, offset, texts))
    } finally {
      calling = false
    }
  }

  channel(topic, params) {
    return this.one(CHANNEL, topic, params)
  }

  // The calls that may be refused return -1, and `refused()` says why.

  setParams(channel, params) {
    return this.outcome(SET_PARAMS, channel, params)
  }

  join(now, channel, timeout) {
    return this.outcome(JOIN, now, channel, timeout)
  }

  push(now, channel, event, json, bytes, timeout) {
    return this.outcome(PUSH, now, channel, event, json, bytes, timeout)
  }

  leave(now, channel, timeout) {
    return this.outcome(LEAVE, now, channel, timeout)
  }

  refused() {
    return this.why
  }

  joinPush(channel) {
    return this.one(JOIN_PUSH, channel)
  }

  channelState(channel) {
    return this.one(CHANNEL_STATE, channel)
  }

  /** The ref of the channel's current join, as text, or `undefined`. */
  joinRef(channel) {
    return this.one(JOIN_REF, channel)?.toString()
  }

  connectionState() {
    return this.one(CONNECTION_STATE)
  }

  isConnected() {
    return this.one(IS_CONNECTED)
  }

  makeRef() {
    return `${this.one(MAKE_REF)}`
  }

  /** `getStats()`'s figures (`client/src/machine.rs`, `op::STATS`, lists them). */
  stats(now) {
    return call(this.handle, STATS, now)
  }

  one(op, ...args) {
    return call(this.handle, op, ...args)[0]
  }

  outcome(op, ...args) {
    const [result, why] = call(this.handle, op, ...args)
    if (result < 0) this.why = why
    return result
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
