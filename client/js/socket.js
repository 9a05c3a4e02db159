// `Socket`: one connection to a Phoenix Channels server (`/socket` on a Ferrocast relay or a Phoenix app), as
// phoenix.js's `Socket`.
//
// Reconnects with jittered backoff, rejoins its channels, queues pushes while offline (bounded, and every drop
// reported), and checks the connection when the page comes back. Nothing happens before `connect()`, and nothing
// global (the WebSocket class, timers, the page) is touched before it, so the module can be imported during
// server-side rendering.
//
// The protocol machine (`Machine`, in wasm) decides everything; this class owns what the browser gives: the
// connection, one timer, page events and the application's callbacks. After every input it drains the machine
// (`_pump`): transport actions first, then the callbacks, then the timer is armed for the machine's next deadline.
// No machine call is under way while a callback runs, so callbacks may call back into the socket.

import { runAll, call } from "./calls.js"
import { Channel } from "./channel.js"
import { gather, valueOf } from "./connection-values.js"
import { absolute, query } from "./end-point.js"
import { decode } from "./decode.js"
import { eventStreamSocket } from "./event-stream-socket.js"
import { json } from "./payload.js"
import {
  CHANNEL,
  CLOSED,
  CONNECT,
  CONNECTION_STATE,
  DISCONNECT,
  ERRORED,
  FAILED,
  IS_CONNECTED,
  Machine,
  OPENED,
  PROBE,
  SET_PARAMS,
  STATS,
  TIMEOUT,
} from "./machine.js"
import { readOptions } from "./options.js"
import { listenToPage } from "./page-events.js"
import { Push } from "./push.js"
import { route } from "./records.js"
import { protocolEvents } from "./wire.js"

const now = () => performance.now()

/** No records. */
const NOTHING = []

/** `Machine._frame`'s flag for an extension with a position. */
const POSITION = 4

export class Socket {
  /** `new Socket("/socket", {params: {token}})`; see README for every option. */
  constructor(endPoint, opts) {
    const options = readOptions(opts)
    // The relay's event-stream socket, when an entry that has it is loaded: `{open, TransportChoice}`.
    const streams = eventStreamSocket()
    if (options.transports === 2 && !streams) {
      throw new Error('Socket option `transport: "sse"` needs the event-stream socket: import @ferrocast/client, or @ferrocast/client/sse beside the core')
    }
    // Which transport each attempt goes over; without the event-stream socket in this entry, WebSockets always.
    this._streams = streams
    this._transports = streams && new streams.TransportChoice(options.transports)
    this._machine = new Machine(endPoint, options)
    this._v1 = options.v1
    this.params = options.params
    this.authToken = options.authToken
    this._transportClass = options.transportClass
    this.logger = options.logger
    // The frame being handled: the machine's records about its message stand for this one's fields and payload.
    this._frame = null
    // The topic, event and epoch of the last frame handed to the machine, which remembers them too.
    this._last = { topic: undefined, event: undefined, epoch: undefined }
    this._hooks = { open: [], close: [], error: [], message: [], queueDrop: [] }
    this._channels = new Map()
    this._pushes = new Map()
    // The application wants a connection (`connect` was called, `disconnect` was not).
    this._wanted = false
    // The page was hidden while connected; `pageshow` reconnects.
    this._suspended = false
    this._connection = null
    // Each attempt's number: events of a connection already let go of, and values gathered for an attempt
    // already replaced, are recognized by it and ignored.
    this._generation = 0
    this._timer = undefined
    this._timerAt = -1
    this._listening = false
    this._lastError = undefined
    this._disconnected = null
  }

  /** Opens the connection, and keeps it open (reconnecting as needed) until `disconnect()`. */
  connect() {
    this._wanted = true
    this._suspended = false
    this._machine._call(CONNECT)
    this._pump()
  }

  /**
   * Closes the connection and stops reconnecting; `callback` runs once it is closed. Channels rejoin on the next
   * `connect()`.
   */
  disconnect(callback, code, reason) {
    this._wanted = false
    this._suspended = false
    this._disconnected = callback ?? null
    this._machine._call(DISCONNECT, now(), code, reason)
    this._pump()
    // Already closed: the machine had nothing to close, so the callback is due now.
    const left = this._disconnected
    this._disconnected = null
    if (left) call(left, [])
  }

  /** Calls `callback()` whenever the connection opens; returns a ref for `off`. */
  onOpen(callback) {
    return this._hook(this._hooks.open, callback)
  }

  /** Calls `callback({code, reason, wasClean})` whenever the connection closes; returns a ref for `off`. */
  onClose(callback) {
    return this._hook(this._hooks.close, callback)
  }

  /** Calls `callback(error)` on transport errors; returns a ref for `off`. */
  onError(callback) {
    return this._hook(this._hooks.error, callback)
  }

  /** Calls `callback({join_ref, ref, topic, event, payload})` for every frame received; returns a ref for `off`. */
  onMessage(callback) {
    return this._hook(this._hooks.message, callback)
  }

  /**
   * Calls `callback({topic, event, reason})` for every push the offline queue drops without sending (`reason`:
   * "queue_full", "expired" or "channel_closed"); the push's `timeout` callbacks follow.
   */
  onQueueDrop(callback) {
    return this._hook(this._hooks.queueDrop, callback)
  }

  /** Removes the callbacks registered under these refs. */
  off(refs) {
    for (const name of Object.keys(this._hooks)) {
      this._hooks[name] = this._hooks[name].filter(([ref]) => !refs.includes(ref))
    }
  }

  /** Whether the connection is open. */
  isConnected() {
    return this._machine._one(IS_CONNECTED)
  }

  /** "connecting", "open" or "closed". */
  connectionState() {
    return this._machine._one(CONNECTION_STATE)
  }

  /** A fresh message ref. */
  makeRef() {
    return this._machine._makeRef()
  }

  /**
   * The URL the next connection opens, params and `vsn` included. A `params` function is called for it, as
   * phoenix.js does; one that is async cannot be waited for here, and the URL then has no params.
   */
  endPointURL() {
    let params
    try {
      params = valueOf(this.params)
    } catch {
      params = undefined
    }
    return absolute(this._machine._url(query(params)))
  }

  /** A channel object for `topic`, joined with `params` (an object, or a function called before each join). */
  channel(topic, params) {
    // A params function is called by `join()`, before every join; until then the params are empty.
    const given = typeof params === "function" ? undefined : json(params, `channel "${topic}" params`)
    const id = this._machine._one(CHANNEL, topic, given)
    const channel = new Channel(this, id, topic, params)
    this._channels.set(id, channel)
    return channel
  }

  /**
   * Counters for dashboards: `{state, reconnectAttempts, nextRetryInMs, queuedPushes, queuedBytes, awaitingReply,
   * lastHeartbeatRttMs}`; the times are `null` when there is none.
   */
  getStats() {
    const [reconnectAttempts, nextRetry, queuedPushes, queuedBytes, awaitingReply, rtt] = this._machine._call(STATS, now())
    return {
      state: this.connectionState(),
      reconnectAttempts,
      nextRetryInMs: nextRetry,
      queuedPushes,
      queuedBytes,
      awaitingReply,
      lastHeartbeatRttMs: rtt,
    }
  }

  // ----- What the channels, the records and the page ask of the socket -----

  _hook(list, callback) {
    const ref = this._machine._makeRef()
    list.push([ref, callback])
    return ref
  }

  /**
   * Runs a push-making operation on the machine (`JOIN`, `PUSH` or `LEAVE`, with `now` and `args`), with the push's
   * object made before the machine can report its outcome (a push refused by a full queue times out at once).
   * Throws what the machine refused (a push before `join()`, a second `join()`).
   */
  _start(op, ...args) {
    try {
      const id = this._accepted(this._machine._outcome(op, now(), ...args))
      let push = this._pushes.get(id)
      if (!push) this._pushes.set(id, (push = new Push()))
      return push
    } finally {
      this._pump()
    }
  }

  /** A machine call's number, unless it is -1: the call was refused, for the reason the machine gives. */
  _accepted(result) {
    if (result < 0) throw new Error(this._machine._refused())
    return result
  }

  /** Calls the logger, if there is one. */
  log(kind, message, data) {
    if (typeof this.logger === "function") call(this.logger, [kind, message, data])
  }

  /** Checks the connection now: the page came back, or the network did. */
  _probe() {
    this._machine._call(PROBE, now())
    this._pump()
  }

  /** The page is being hidden: close cleanly, to reconnect when it is shown again. */
  _suspend() {
    if (!this._wanted) return
    this._suspended = true
    this._machine._call(DISCONNECT, now(), 1000, "page hidden")
    this._pump()
  }

  _resume() {
    const suspended = this._suspended
    this._suspended = false
    if (suspended && this._wanted) {
      this._machine._call(CONNECT)
      this._pump()
    }
  }

  /**
   * Calls the params functions of channels that have one (all of them, or `only` that one), so their next join
   * sends fresh params (phoenix.js evaluates them on every join). A function that throws, or returns something that
   * is not JSON, leaves that channel's last params in place: the error is thrown to `join()`, and logged on a
   * reconnect.
   */
  _refreshParams(only, throwing) {
    for (const channel of only ? [only] : this._channels.values()) {
      if (typeof channel.params !== "function") continue
      const what = `channel "${channel.topic}" params`
      try {
        let params
        try {
          params = channel.params()
        } catch {
          throw new Error(`${what}: the function threw`)
        }
        this._accepted(this._machine._outcome(SET_PARAMS, channel._id, json(params, what) ?? "{}"))
      } catch (error) {
        if (throwing) throw error
        this.log("channel", what, error)
      }
    }
  }

  // ----- The loop -----

  /**
   * Acts on the machine's records (`records`, or a drain's) until it has nothing left, then (unless told not to) arms
   * the timer for its next deadline.
   */
  _pump(arming = true, records = this._machine._drain()) {
    // Until a round's records and callbacks made no call into the machine, which alone can give it more to say.
    for (let out = records; out.length > 0; out = this._machine._changed() ? this._machine._drain() : NOTHING) {
      const calls = []
      route(this, out, calls)
      runAll(calls)
    }
    if (arming) this._arm()
  }

  _arm() {
    const at = this._machine._deadline()
    if (at === this._timerAt) return
    clearTimeout(this._timer)
    this._timerAt = at
    if (at < 0) return
    this._timer = setTimeout(() => {
      this._timerAt = -1
      this._machine._call(TIMEOUT, now())
      this._pump()
    }, Math.max(0, at - now()))
  }

  // ----- The connection -----

  /**
   * Starts a connection attempt: gathers the `params` and `authToken` values, then opens the connection, at once
   * when they are plain values, or once their promises settle, unless `disconnect()` or a newer attempt made them
   * stale by then.
   */
  _open() {
    if (!this._listening) {
      this._listening = true
      listenToPage(this)
    }
    const generation = ++this._generation
    const gathered = gather(this.params, this.authToken, (gathered) => {
      if (this._generation !== generation || this.connectionState() !== "connecting") return
      this._openWith(gathered)
      this._pump()
    })
    // Ready now: this runs inside the pump, which goes on draining the machine after it.
    if (gathered) this._openWith(gathered)
  }

  /**
   * Opens the attempt's connection with the values gathered for it, or fails the attempt as a refused
   * connection fails: the machine reports the error and schedules the next attempt; queued pushes stay queued.
   */
  _openWith({ params, token, error }) {
    let reason = "could not get `params` or `authToken`"
    try {
      if (error !== undefined) throw error
      reason = "could not open the WebSocket"
      this._attach(this._connectTo(absolute(this._machine._url(query(params))), token))
    } catch (thrown) {
      // The constructor threw (a malformed URL, a blocked port), or the values could not be had.
      this._lastError = thrown
      this._machine._call(FAILED, now(), reason)
    }
  }

  /** A WebSocket to `websocketUrl`, or the relay's event-stream socket beside it, as the transport choice says. */
  _connectTo(websocketUrl, token) {
    const WebSocketClass = this._transportClass ?? globalThis.WebSocket
    const stream = this._transports?.attempt(typeof WebSocketClass === "function")
    const url = stream ? this._streams.TransportChoice.streamUrl(websocketUrl) : websocketUrl
    this.log("transport", `connecting to ${url}`)
    if (stream) return this._streams.open(url, token)
    if (typeof WebSocketClass !== "function") {
      throw new Error(
        "no WebSocket in this environment: pass the `transport` option (under Node, the `ws` package's WebSocket)",
      )
    }
    if (token === undefined) return new WebSocketClass(url)
    return new WebSocketClass(url, ["phoenix", Machine._tokenProtocol(token)])
  }

  /** Routes a connection's events to the machine while it is this attempt's. */
  _attach(connection) {
    const current = () => this._connection === connection
    connection.binaryType = "arraybuffer"
    connection.onopen = () => current() && this._opened()
    connection.onclose = (event) => current() && this._closed(event)
    connection.onerror = (event) => current() && this._errored(event)
    connection.onmessage = (event) => current() && this._received(event.data)
    this._connection = connection
  }

  _opened() {
    this._refreshParams(null, false)
    this._transports?.opened()
    this._machine._call(OPENED, now())
    this._pump()
  }

  _closed(event) {
    detach(this._connection)
    this._connection = null
    const code = typeof event.code === "number" ? event.code : 1006
    const reason = typeof event.reason === "string" ? event.reason : ""
    // The HTTP status of a refused event-stream request (the event-stream socket says it; a WebSocket never can).
    const status = typeof event.status === "number" ? event.status : undefined
    // What the choice did about it, said by the entry that has it.
    const switched = this._transports?.closed(status)
    if (switched) this.log("transport", switched)
    this._machine._call(CLOSED, now(), code, reason)
    this._pump()
  }

  _errored(event) {
    this._lastError = event
    this._machine._call(ERRORED, now())
    this._pump()
  }

  /**
   * One message from the server: each frame in it is handed to the machine and its callbacks run before the next
   * frame is, then `onMessage` callbacks get the frame, as phoenix.js orders them.
   */
  _received(data) {
    const at = now()
    const last = this._last
    for (const frame of decode(this._v1, data, protocolEvents())) {
      if (typeof frame === "string") {
        this.log("transport", `ignored a frame: ${frame}`, data)
        continue
      }
      const { joinRef, ref, topic, event, status, ext } = frame
      // What the last frame had is left out: the machine keeps it (the frames of a batch mostly share it).
      const epoch = ext?.epoch
      const flags = ext && ext.recovered | (epoch === undefined ? 0 : POSITION)
      this._frame = frame
      const records = this._machine._frame(
        at,
        joinRef,
        ref,
        topic === last.topic ? undefined : (last.topic = topic),
        event === last.event ? undefined : (last.event = event),
        status,
        flags,
        ext?.offset ?? -1,
        epoch === last.epoch ? undefined : (last.epoch = epoch),
      )
      this._pump(false, records)
      this._frame = null
      if (this._hooks.message.length === 0) continue
      const message = { join_ref: joinRef, ref, topic, event, payload: frame.payload }
      for (const [, callback] of this._hooks.message) call(callback, [message])
    }
    // Once for the whole message: its frames came together.
    this._arm()
  }

  _send(data) {
    if (!this._connection) return
    this.log("push", "send", typeof data === "string" ? data : `<${data.byteLength} bytes>`)
    try {
      this._connection.send(data)
    } catch (error) {
      this.log("transport", "send failed", error)
    }
  }

  /** Closes the connection and lets go of it; `disconnect()`'s callback runs when the close completes. */
  _close(code, reason) {
    const [connection, disconnected] = [this._connection, this._disconnected]
    this._connection = null
    this._disconnected = null
    if (!connection) {
      if (disconnected) call(disconnected, [])
      return
    }
    detach(connection)
    connection.onclose = disconnected
    // Closing a connection that is still opening fires `error`. A browser only dispatches it; Node's `ws` throws it
    // when nobody listens, which would end the process, so a listener that ignores it stays.
    connection.onerror = ignore
    try {
      connection.close(code, reason)
    } catch {
      // Browsers only let a page close with 1000 or 3000-4999.
      connection.close()
    }
  }
}

function detach(connection) {
  connection.onopen = connection.onclose = connection.onerror = connection.onmessage = null
}

function ignore() {}
