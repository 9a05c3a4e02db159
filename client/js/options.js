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

/**
 * Typed reads of the options object of `owner`'s constructor (`Socket`, `EventStream`), or of one of its nested
 * objects (`name`), which may hold only the `known` keys (any key when `known` is null), naming what is wrong.
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
    this.object = object
    this.name = name
    this.owner = owner
  }

  value(key) {
    const value = this.object[key]
    return value === null ? undefined : value
  }

  wrong(key, expected) {
    return new Error(`${this.owner} option \`${this.name ? `${this.name}.${key}` : key}\` must be ${expected}`)
  }

  number(key) {
    const value = this.value(key)
    if (value !== undefined && !(typeof value === "number" && Number.isFinite(value))) throw this.wrong(key, "a number")
    return value
  }

  /** A non-negative whole number (milliseconds, counts, bytes). */
  ms(key) {
    const value = this.number(key)
    if (value !== undefined && !(value >= 0 && Number.isInteger(value))) throw this.wrong(key, "a whole number, 0 or more")
    return value
  }

  boolean(key) {
    const value = this.value(key)
    if (value !== undefined && typeof value !== "boolean") throw this.wrong(key, "true or false")
    return value
  }

  string(key) {
    const value = this.value(key)
    if (value !== undefined && typeof value !== "string") throw this.wrong(key, "a string")
    return value
  }

  function(key) {
    const value = this.value(key)
    if (value !== undefined && typeof value !== "function") throw this.wrong(key, "a function")
    return value
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
  options.timeout = fields.ms("timeout")
  options.heartbeatInterval = fields.ms("heartbeatIntervalMs")
  options.heartbeatTimeout = fields.ms("heartbeatTimeoutMs")
  options.probeTimeout = fields.ms("probeTimeoutMs")
  options.recovery = fields.boolean("recovery")
  options.batch = fields.boolean("batch") ?? true
  const vsn = fields.string("vsn")
  if (!(vsn === undefined || vsn === "2.0.0" || vsn === "1.0.0")) {
    throw new Error(`Socket option \`vsn\` must be "1.0.0" or "2.0.0", not "${vsn}"`)
  }
  options.v1 = vsn === "1.0.0"
  const binaryType = fields.string("binaryType")
  if (!(binaryType === undefined || binaryType === "arraybuffer")) {
    throw new Error(
      `Socket option \`binaryType\` must be "arraybuffer" (binary payloads are ArrayBuffers), not "${binaryType}"`,
    )
  }
  options.reconnectAfter = fields.function("reconnectAfterMs")
  const backoff = opts.backoff
  if (options.reconnectAfter && backoff !== undefined) {
    throw new Error("give either `reconnectAfterMs` or `backoff`, not both")
  }
  if (backoff !== undefined) options.backoff = readBackoff(backoff, "Socket")
  options.rejoinAfter = fields.function("rejoinAfterMs")
  if (opts.queue !== undefined) {
    const nested = new Fields(opts.queue, "queue", ["maxMessages", "maxBytes", "ttlMs", "overflow"])
    const overflow = nested.string("overflow")
    if (!(overflow === undefined || overflow === "reject" || overflow === "drop-oldest")) {
      throw new Error(`Socket option \`queue.overflow\` must be "reject" or "drop-oldest", not "${overflow}"`)
    }
    options.dropOldest = overflow === "drop-oldest"
    options.queue = [nested.ms("maxMessages"), nested.ms("maxBytes"), nested.ms("ttlMs")].map((value) => value ?? NaN)
  }
  const params = opts.params
  if (!(params === undefined || (params !== null && typeof params === "object") || typeof params === "function")) {
    throw fields.wrong("params", "an object or a function returning one (or a promise of one)")
  }
  options.params = params
  const token = fields.value("authToken")
  if (!(token === undefined || typeof token === "string" || typeof token === "function")) {
    throw fields.wrong("authToken", "a string or a function returning one (or a promise of one)")
  }
  options.authToken = token
  const transport = opts.transport
  if (typeof transport === "string") {
    if (transport !== "sse" && transport !== "websocket") {
      throw new Error(`Socket option \`transport\` must be "websocket", "sse" or a WebSocket class, not "${transport}"`)
    }
    options.transports = transport === "sse" ? 2 : 1
  } else {
    options.transportClass = fields.function("transport")
    if (options.transportClass) options.transports = 1
  }
  options.logger = fields.function("logger")
  return options
}

/**
 * `owner`'s `backoff` option, `{baseMs, maxMs, jitter}`, as the machine takes it: `[baseMs, maxMs, jitter]`, `NaN`
 * for what is not given (the protocol's default).
 */
export function readBackoff(backoff, owner) {
  const nested = new Fields(backoff, "backoff", ["baseMs", "maxMs", "jitter"], owner)
  const jitter = nested.number("jitter")
  if (jitter !== undefined && !(jitter >= 0 && jitter <= 1)) throw nested.wrong("jitter", "between 0 and 1")
  return [nested.ms("baseMs"), nested.ms("maxMs"), jitter].map((value) => value ?? NaN)
}
