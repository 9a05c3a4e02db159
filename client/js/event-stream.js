// `EventStream`: a relay's server-sent events (`GET /sse?topic=…`), read as the browser's `EventSource` reads them,
// with what EventSource lacks: request headers (`Authorization`), data parsed as JSON and given with its Ferrocast
// topic, reconnects with full-jitter backoff that resume from the last id as a query parameter, a final error that
// says why (status and the server's message), and a callback when a resume could not replay everything.
//
// Like EventSource it connects when constructed and until `close()`, so it is made where the page runs (a mounted
// hook), not while a module is imported or a page is rendered on the server; importing the module touches nothing.
// As EventSource, it keeps going when the page lets go of the object: its request and its timer hold it.
//
// This class owns the browser's side: each request (`fetch-stream.js`), the reconnect timer, the `headers` option
// and the callbacks. The protocol's rules are the machine's (`EventStreamMachine`, in wasm): it reads the chunks
// into events, and, told how each request ended, answers when to reconnect (or to stay closed) and which URL
// resumes. No machine call is under way while a callback runs, so callbacks may call `close()` or `off()`.

import { call } from "./calls.js"
import { CLOSED, FAILED, fetchStream } from "./fetch-stream.js"
import { Fields, readBackoff } from "./options.js"
import { keepRaw } from "./raw.js"
import { EventStreamMachine } from "./stream-machines.js"

// `EventStreamMachine.ended`'s ends: a dropped stream (or one whose headers could not be had), a refusal, and no
// `fetch` any more.
const DROPPED = 0
const REFUSED = 1
const CANNOT_REQUEST = 2

// The names `onOpen`, `onError` and `onRecoveryFailed` register under among the event bindings: an event name is
// one line of the stream, so none starts with a line break.
const OPEN = "\nopen"
const ERROR = "\nerror"
const RECOVERY_FAILED = "\nrecovery_failed"

const now = () => performance.now()

/** Whose options the errors name. */
const OWNER = "EventStream"

export class EventStream {
  #url
  /** The request headers (with `Accept`), or the function that gives them before every request. */
  #headers
  #machine
  /** The request under way, if any. */
  #request = null
  #timer = undefined
  #timerAt = -1
  /** Callbacks as `[ref, name, callback]`, lifecycle ones under the names above. */
  #hooks = []
  #nextRef = 1

  /**
   * `new EventStream(url, {headers, lastEventId, backoff: {baseMs, maxMs, jitter}})`, `headers` an object or a
   * function returning one (or a promise of one); see README.
   */
  constructor(url, options) {
    keepRaw(this)
    const { headers, lastEventId, backoff } = readOptions(options)
    this.#url = url
    this.#headers = headers
    this.#machine = new EventStreamMachine(lastEventId, Math.random() * 2 ** 53, backoff)
    // A `headers` function is first called from the timer, once the constructor has returned and the page has
    // registered `onError`, which must hear what the function throws.
    if (typeof headers === "function") this.#arm(now())
    else if (!this.#open(headers)) throw new Error("EventStream needs `fetch` and `AbortController`")
  }

  /**
   * Calls `callback(data, {event, topic, lastEventId})` for every `event` (`"message"` for unnamed ones), with
   * `data` parsed as JSON (the raw text when it is not JSON) and `topic` `null` when the server gave none; returns a
   * ref for `off`.
   */
  on(event, callback) {
    return this.#hook(event, callback)
  }

  /** Removes the callback registered under `ref` (by `on`, `onOpen`, `onError` or `onRecoveryFailed`). */
  off(ref) {
    this.#hooks = this.#hooks.filter(([hooked]) => hooked !== ref)
  }

  /** Calls `callback()` whenever the stream opens (the server answered 200 with an event stream). */
  onOpen(callback) {
    return this.#hook(OPEN, callback)
  }

  /**
   * Calls `callback({status, message})` when a request fails or the stream drops: then `readyState` is 0 and the
   * stream reconnects. A refusal (a status below 500, `message` the server's reason) is final: `readyState` is 2.
   * `status` is 0 when there was no HTTP answer or the stream broke mid-way.
   */
  onError(callback) {
    return this.#hook(ERROR, callback)
  }

  /**
   * Calls `callback({topic, offset, epoch, recovered: false})` when a resume could not replay everything the topic
   * broadcast meanwhile (the relay's history did not reach back, or it restarted): reload what the topic feeds. The
   * stream goes on from the topic's current position.
   */
  onRecoveryFailed(callback) {
    return this.#hook(RECOVERY_FAILED, callback)
  }

  /** 0 connecting (or waiting to reconnect), 1 open, 2 closed, as EventSource's. */
  get readyState() {
    return this.#machine._readyState
  }

  /**
   * The id the next connection resumes from: hand it to a later stream's `lastEventId` option to go on where this
   * one stopped.
   */
  get lastEventId() {
    return this.#machine._lastEventId
  }

  /** Stops the stream for good: the request is aborted, no reconnect follows and no callback runs after this. */
  close() {
    this.#machine._close()
    clearTimeout(this.#timer)
    this.#timerAt = -1
    this.#request?._abort()
    this.#request = null
  }

  #hook(name, callback) {
    const ref = this.#nextRef++
    this.#hooks.push([ref, name, callback])
    return ref
  }

  /** The callbacks registered under `name`, as they are now. */
  #callbacks(name) {
    return this.#hooks.filter(([, hooked]) => hooked === name).map(([, , callback]) => callback)
  }

  /** Between requests, with the next one yet to be made. */
  #waiting() {
    return this.#machine._readyState === 0 && !this.#request
  }

  /** Makes the reconnect timer fire at `at` (machine time); a timer already set for then is kept. */
  #arm(at) {
    if (at === this.#timerAt) return
    clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(() => {
      this.#timerAt = -1
      if (this.#waiting()) this.#connect()
    }, Math.max(0, at - now()))
  }

  /** Starts the next request: at once with fixed headers, or once the `headers` function's value is ready. */
  #connect() {
    const headers = this.#headers
    if (typeof headers !== "function") return this.#openOrEnd(headers)
    let value
    try {
      value = headers()
    } catch (thrown) {
      return this.#headersFailed(thrown)
    }
    if (value === null || typeof value !== "object" || typeof value.then !== "function") {
      return this.#headersGiven(value)
    }
    value.then(
      (given) => this.#waiting() && this.#headersGiven(given),
      (reason) => this.#waiting() && this.#headersFailed(reason),
    )
  }

  /** Opens the request with the headers the function gave, or fails it when they are not an object of strings. */
  #headersGiven(given) {
    let headers
    try {
      headers = withAccept(given)
    } catch (unusable) {
      return this.#ended(0, unusable.message, DROPPED)
    }
    this.#openOrEnd(headers)
  }

  /**
   * A `headers` function that threw or rejected fails its request as a dropped stream does: `onError`, then a
   * reconnect after the backoff, which calls it again.
   */
  #headersFailed(reason) {
    const message = typeof reason?.message === "string" ? reason.message : typeof reason === "string" ? reason : ""
    this.#ended(0, `EventStream option \`headers\` failed: ${message}`, DROPPED)
  }

  #openOrEnd(headers) {
    // `fetch` was there when the stream was made; should it have gone, there is nothing to retry with.
    if (!this.#open(headers)) this.#ended(0, "fetch is no longer available", CANNOT_REQUEST)
  }

  /** Opens a request with `headers`, resuming from the last id; false where `fetch` does not exist. */
  #open(headers) {
    const url = this.#machine._url(this.#url)
    let request
    const owner = {
      _opened: () => {
        this.#machine._opened()
        for (const callback of this.#callbacks(OPEN)) call(callback, [])
      },
      _chunk: (text) => {
        const out = this.#machine._feed(text)
        for (let i = 0; i < out.length && !request._stopped; i += 5) {
          this.#deliver(out[i], out[i + 1], out[i + 2], out[i + 3], out[i + 4])
        }
      },
      _ended: (how, status, message) => {
        if (how === CLOSED) this.#ended(0, "the server ended the stream", DROPPED)
        else if (how === FAILED) this.#ended(0, message, DROPPED)
        else this.#ended(status, message || `HTTP status ${status}`, REFUSED)
      },
    }
    try {
      request = fetchStream(url, headers, owner)
    } catch {
      return false
    }
    this.#machine._restart()
    this.#request = request
    return true
  }

  /** Calls the event's callbacks, and the recovery callbacks when a topic's resume came back incomplete. */
  #deliver(event, text, lastEventId, topic, subscribed) {
    const bound = this.#callbacks(event)
    const recovery = subscribed ? this.#callbacks(RECOVERY_FAILED) : []
    if (bound.length === 0 && recovery.length === 0) return
    let data
    try {
      data = JSON.parse(text)
    } catch {
      data = text
    }
    const meta = { event, topic, lastEventId }
    for (const callback of bound) call(callback, [data, meta])
    if (data?.recovered === false) for (const callback of recovery) call(callback, [data])
  }

  /** The request is over: reconnect when the machine says, or stay closed; `onError` either way. */
  #ended(status, message, end) {
    const at = this.#machine._ended(end, status, now())
    this.#request = null
    if (at >= 0) this.#arm(at)
    const error = { status, message }
    for (const callback of this.#callbacks(ERROR)) call(callback, [error])
  }
}

// ----- The options -----

/** Reads `{headers, lastEventId, backoff}`, with errors that name the option. */
function readOptions(options) {
  const read = { headers: withAccept(undefined), lastEventId: "", backoff: [NaN, NaN, NaN] }
  if (options === undefined || options === null) return read
  const given = new Fields(options, null, ["headers", "lastEventId", "backoff"], OWNER)
  const headers = given._value("headers")
  if (typeof headers === "function") read.headers = headers
  else if (headers !== undefined) read.headers = withAccept(headers)
  read.lastEventId = given._string("lastEventId") ?? ""
  const backoff = given._value("backoff")
  if (backoff !== undefined) read.backoff = readBackoff(backoff, OWNER)
  return read
}

/**
 * The application's headers (an object of strings, or nothing), with `Accept` as EventSource sends it. Throws an
 * `Error` naming what is wrong.
 */
function withAccept(given) {
  const headers = { accept: "text/event-stream" }
  if (given === undefined || given === null) return headers
  const field = new Fields(given, "headers", null, OWNER)
  for (const name of Object.keys(given)) {
    const value = field._string(name)
    if (value !== undefined) headers[name] = value
  }
  return headers
}
