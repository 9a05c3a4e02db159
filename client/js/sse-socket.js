// `SseSocket`: a connection that behaves as a WebSocket to the socket, over a relay's event-stream socket
// (`GET /socket/sse` to receive, `POST /socket/sse?token=…` to send), for networks that block WebSockets.
//
// It has the WebSocket members the socket uses (`onopen`, `onclose`, `onerror`, `onmessage`, `binaryType`, `send`,
// `close`), so `Socket` drives it exactly as a WebSocket. It opens when the stream's first event gives the
// session's token; every later event is one frame. Frames sent while a POST is on its way wait and go together in
// the next one, so they reach the relay in order. When the server answers the stream's request with something other
// than an event stream, the close event carries its HTTP `status` beside `code` and `reason`: the socket's
// transport choice learns from it whether the server has an event-stream socket at all.
//
// This class owns the requests and the handlers; the framing (what each event says, how frames are posted, binary
// ones in base64) is the protocol's `sse_socket`, behind `SseSocketMachine` (in wasm), the relay's too.

import { CLOSED, REFUSED, fetchStream } from "./fetch-stream.js"
import { keepRaw } from "./raw.js"
import { SseSocketMachine, TransportChoice } from "./stream-machines.js"

/** The close code for a connection that broke, as a browser reports a WebSocket that did. */
const CLOSE_ABNORMAL = 1006

// `SseSocketMachine.feed`'s records: a tag, then the session's POST URL, a text frame, a binary frame, or why the
// stream is not the socket's.
const SESSION = 0
const TEXT = 1
const BINARY = 2

/** What `connect` gives the constructor in place of a WebSocket's protocols: the URL is the stream's already. */
const STREAM_URL = Symbol()

export class SseSocket {
  #machine
  #stream = null
  /** Where frames go, once the session's token is known. */
  #postUrl = null
  #posting = false
  #closed = false

  /**
   * `new SseSocket(url)`, `url` being the socket's WebSocket URL (`ws://host/socket/websocket?…`): the event stream
   * is the same path with `/sse`, over HTTP.
   */
  constructor(url, protocols, authToken) {
    keepRaw(this)
    this.onopen = null
    this.onclose = null
    this.onerror = null
    this.onmessage = null
    /** Accepted for the WebSocket's sake; binary frames arrive as `ArrayBuffer`s. */
    this.binaryType = "arraybuffer"
    const atStreamUrl = protocols === STREAM_URL
    const streamUrl = atStreamUrl ? url : TransportChoice.streamUrl(url)
    // `Authorization: Bearer`, which the relay reads where a WebSocket would carry the token as a subprotocol.
    const headers = atStreamUrl && typeof authToken === "string" ? { Authorization: `Bearer ${authToken}` } : {}
    this.#machine = new SseSocketMachine(streamUrl)
    try {
      this.#stream = fetchStream(streamUrl, headers, {
        _opened() {},
        _chunk: (text) => this.#received(text),
        _ended: (how, status, message) => {
          const reason = how === CLOSED ? "" : how === REFUSED ? `${status} ${message}` : message
          this.#fire(this.onerror, {})
          this.#finish(CLOSE_ABNORMAL, reason, false, how === REFUSED ? status : undefined)
        },
      })
    } catch {
      throw new Error('no fetch in this environment: the "sse" transport needs fetch')
    }
  }

  /**
   * The socket at its event-stream URL (`http://host/socket/sse?…`), `authToken` (if any) sent as `Authorization:
   * Bearer`: how `Socket` opens one when its transport choice says so.
   */
  static connect(streamUrl, authToken) {
    return new SseSocket(streamUrl, STREAM_URL, authToken)
  }

  /** Sends a frame: text as it is, an `ArrayBuffer` (a binary frame) in base64. */
  send(frame) {
    if (typeof frame === "string") this.#machine._sendText(frame)
    else if (frame instanceof ArrayBuffer) this.#machine._sendBinary(new Uint8Array(frame))
    else throw new Error("a frame is a string or an ArrayBuffer")
    this.#flush()
  }

  /** Ends the stream; `onclose` follows, as a WebSocket's does. */
  close(code, reason) {
    this.#finish(code ?? 1000, reason ?? "", true, undefined)
  }

  #received(text) {
    const out = this.#machine._feed(text)
    for (let i = 0; i < out.length && !this.#closed; i += 2) {
      const [tag, value] = [out[i], out[i + 1]]
      if (tag === SESSION) {
        this.#postUrl = value
        this.#fire(this.onopen, {})
        this.#flush()
      } else if (tag === TEXT || tag === BINARY) {
        this.#fire(this.onmessage, { data: value })
      } else {
        this.#finish(CLOSE_ABNORMAL, value, false, undefined)
      }
    }
  }

  /** Posts what waits, unless a POST is on its way (it posts the rest when it returns) or there is no session. */
  #flush() {
    if (this.#posting || this.#closed || this.#postUrl === null) return
    const body = this.#machine._takeBody()
    if (body === "") return
    let posted
    try {
      posted = fetch(this.#postUrl, { method: "POST", body, headers: { "content-type": "text/plain" } })
    } catch {
      return this.#finish(CLOSE_ABNORMAL, "could not post", false, undefined)
    }
    this.#posting = true
    posted.then(
      (response) => this.#posted(response.ok),
      () => this.#posted(false),
    )
  }

  /** A POST returned: frames that waited go next; a refused or failed one means the session is gone. */
  #posted(ok) {
    this.#posting = false
    if (ok) this.#flush()
    else this.#finish(CLOSE_ABNORMAL, "the session is gone", false, undefined)
  }

  /**
   * Ends the connection once, and calls `onclose` after the current task, as a WebSocket does. `status` is the HTTP
   * status of a refused stream request.
   */
  #finish(code, reason, wasClean, status) {
    if (this.#closed) return
    this.#closed = true
    this.#stream?._abort()
    this.#stream = null
    const onclose = this.onclose
    if (!onclose) return
    const event = { code, reason, wasClean }
    if (status !== undefined) event.status = status
    Promise.resolve().then(() => invoke(onclose, event))
  }

  /** Calls a handler unless the connection is closed. */
  #fire(handler, event) {
    if (!this.#closed) invoke(handler, event)
  }
}

/** Calls a handler, if there is one; what it throws stays with it, as what a WebSocket's handler throws does. */
function invoke(handler, event) {
  try {
    handler?.(event)
  } catch {}
}
