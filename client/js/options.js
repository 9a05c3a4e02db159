// The `Socket` constructor's options: phoenix.js's, and Ferrocast's own, read and checked before the machine is
// made. A misspelt or mistyped option throws an `Error` that names it; options phoenix.js has and this client
// does not need (`longPollFallbackMs`, `encode`, ...) are accepted and ignored, so switching from phoenix.js stays
// a one-line change. What is not given is left `undefined`, and the machine takes the protocol's default.

const PHOENIX_OPTIONS = [
  "transport",
  "encode",
  "decode",
  "timeout",
  "heartbeatIntervalMs",
  "reconnectAfterMs",
  "rejoinAfterMs",
  "logger",
  "longpollerTimeout",
  "params",
  "vsn",
  "binaryType",
  "sessionStorage",
  "longPollFallbackMs",
  "debug",
  "authToken",
]
const FERROCAST_OPTIONS = ["backoff", "queue", "heartbeatTimeoutMs", "probeTimeoutMs", "recovery", "batch"]

/** A test that a value is of JavaScript type `type`. */
const typed = (type) => (value) => typeof value === type

/**
 * Typed reads of the options object of `owner`'s constructor (`Socket`, `EventStream`), or of one of its nested
 * objects (`name`), which may hold only the `known` keys (any key when `known` is null), naming what is wrong.
 * Each read gives the value, `undefined` when it is not given (or `null`), and throws what it must be otherwise.
 */
export class Fields {
  constructor(object, name, known, owner = "Socket") {
    const what = name ? `${owner} option \`${name}\`` : `${owner} options`
    if (object === null || typeof object !== "object") throw new Error(`${what} must be an object`)
    const unknown = known && Object.keys(object).find((key) => !known.includes(key))
    if (unknown !== undefined && unknown !== null) {
      throw new Error(
        name
          ? `unknown ${owner} option \`${name}.${unknown}\`: expected ${known.join(", ")}`
          : `unknown ${owner} option \`${unknown}\``,
      )
    }
    this._object = object
    this._name = name
    this._owner = owner
  }

  _value(key) {
    const value = this._object[key]
    return value === null ? undefined : value
  }

  _wrong(key, expected) {
    return new Error(`${this._owner} option \`${this._name ? `${this._name}.${key}` : key}\` must be ${expected}`)
  }

  /** The value of `key`, given that `test` holds for it: what it must be otherwise is `expected`. */
  _checked(key, test, expected) {
    const value = this._value(key)
    if (value !== undefined && !test(value)) throw this._wrong(key, expected)
    return value
  }

  _number(key) {
    return this._checked(key, Number.isFinite, "a number")
  }

  /** A non-negative whole number (milliseconds, counts, bytes). */
  _ms(key) {
    this._number(key)
    return this._checked(key, (value) => value >= 0 && Number.isInteger(value), "a whole number, 0 or more")
  }

  _boolean(key) {
    return this._checked(key, typed("boolean"), "true or false")
  }

  _string(key) {
    return this._checked(key, typed("string"), "a string")
  }

  _function(key) {
    return this._checked(key, typed("function"), "a function")
  }

  /** A string among `allowed` (or nothing), which `expected` lists for the error, with the value given. */
  _oneOf(key, allowed, expected) {
    const value = this._string(key)
    return this._checked(key, (given) => allowed.includes(given), `${expected}, not "${value}"`)
  }
}

/**
 * Reads `new Socket(endPoint, opts)`'s options: what the machine is made with, and what stays on this side
 * (`params`, `authToken`, the WebSocket class, the logger).
 */
export function readOptions(opts) {
  const options = {
    v1: false,
    batch: true,
    // 0: WebSocket or the event-stream socket; 1: WebSocket only; 2: the event-stream socket only.
    transports: 0,
    backoff: [NaN, NaN, NaN],
    queue: [NaN, NaN, NaN],
    dropOldest: false,
  }
  if (opts === undefined || opts === null) return options
  if (typeof opts !== "object") throw new Error("Socket options must be an object")
  const fields = new Fields(opts, null, [...PHOENIX_OPTIONS, ...FERROCAST_OPTIONS])
  options.timeout = fields._ms("timeout")
  options.heartbeatInterval = fields._ms("heartbeatIntervalMs")
  options.heartbeatTimeout = fields._ms("heartbeatTimeoutMs")
  options.probeTimeout = fields._ms("probeTimeoutMs")
  options.recovery = fields._boolean("recovery")
  options.batch = fields._boolean("batch") ?? true
  options.v1 = fields._oneOf("vsn", ["1.0.0", "2.0.0"], '"1.0.0" or "2.0.0"') === "1.0.0"
  fields._oneOf("binaryType", ["arraybuffer"], '"arraybuffer" (binary payloads are ArrayBuffers)')
  options.reconnectAfter = fields._function("reconnectAfterMs")
  const backoff = opts.backoff
  if (options.reconnectAfter && backoff !== undefined) {
    throw new Error("give either `reconnectAfterMs` or `backoff`, not both")
  }
  if (backoff !== undefined) options.backoff = readBackoff(backoff, "Socket")
  options.rejoinAfter = fields._function("rejoinAfterMs")
  if (opts.queue !== undefined) {
    const nested = new Fields(opts.queue, "queue", ["maxMessages", "maxBytes", "ttlMs", "overflow"])
    const overflow = nested._oneOf("overflow", ["reject", "drop-oldest"], '"reject" or "drop-oldest"')
    options.dropOldest = overflow === "drop-oldest"
    options.queue = ["maxMessages", "maxBytes", "ttlMs"].map((key) => nested._ms(key) ?? NaN)
  }
  const or = (type) => (value) => typeof value === type || typeof value === "function"
  const returning = "a function returning one (or a promise of one)"
  options.params = fields._checked("params", or("object"), `an object or ${returning}`)
  options.authToken = fields._checked("authToken", or("string"), `a string or ${returning}`)
  if (typeof opts.transport === "string") {
    const transport = fields._oneOf("transport", ["sse", "websocket"], '"websocket", "sse" or a WebSocket class')
    options.transports = transport === "sse" ? 2 : 1
  } else {
    options.transportClass = fields._function("transport")
    if (options.transportClass) options.transports = 1
  }
  options.logger = fields._function("logger")
  return options
}

/**
 * `owner`'s `backoff` option, `{baseMs, maxMs, jitter}`, as the machine takes it: `[baseMs, maxMs, jitter]`, `NaN`
 * for what is not given (the protocol's default).
 */
export function readBackoff(backoff, owner) {
  const nested = new Fields(backoff, "backoff", ["baseMs", "maxMs", "jitter"], owner)
  nested._number("jitter")
  const jitter = nested._checked("jitter", (jitter) => jitter >= 0 && jitter <= 1, "between 0 and 1")
  return [nested._ms("baseMs"), nested._ms("maxMs"), jitter].map((value) => value ?? NaN)
}
