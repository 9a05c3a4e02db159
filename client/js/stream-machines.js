// The machines of the event streams in wasm, as `EventStream`, `SseSocket`, `fetch-stream.js` and `Socket` call
// them: `EventStreamMachine` (`client/src/event_stream.rs`), `SseSocketMachine` (`sse_transport.rs`) and
// `TransportChoice` (`transport_choice.rs`). Each method is one operation on the machine's handle (`held.js`); the
// numbers below are those files' `op`, numbered apart.

import { Held, run } from "./held.js"

export class EventStreamMachine extends Held {
  /** `backoff`: `[baseMs, maxMs, jitter]`, NaN for the default. */
  constructor(firstId, seed, backoff) {
    super(1, firstId, seed, ...backoff)
  }

  _url(url) {
    return this._one(2, url)
  }

  _restart() {
    this._call(3)
  }

  _opened() {
    this._call(4)
  }

  /** The events `chunk` (text) completed, five values each (`feed` in event_stream.rs). */
  _feed(chunk) {
    return this._call(5, chunk)
  }

  _ended(end, status, now) {
    return this._one(6, end, status, now)
  }

  _close() {
    this._call(7)
  }

  get _readyState() {
    return this._one(8)
  }

  get _lastEventId() {
    return this._one(9)
  }
}

/** Whether an answer with this status and `Content-Type` is an event stream to read. */
export function isEventStream(status, contentType) {
  return run(0, 10, status, contentType)[0]
}

export class SseSocketMachine extends Held {
  constructor(streamUrl) {
    super(11, streamUrl)
  }

  /** What the events of `chunk` (text) say, as records of two values (`Tag` in sse_transport.rs). */
  _feed(chunk) {
    return this._call(12, chunk)
  }

  _sendText(frame) {
    this._call(13, frame)
  }

  _sendBinary(frame) {
    this._call(14, frame)
  }

  _takeBody() {
    return this._one(15)
  }
}

export class TransportChoice extends Held {
  constructor(allowed) {
    super(16, allowed)
  }

  attempt(websockets) {
    return this._one(17, websockets)
  }

  static streamUrl(websocketUrl) {
    return run(0, 18, websocketUrl)[0]
  }

  opened() {
    this._call(19)
  }

  /** The attempt closed (`status`: a refused event-stream request's); what the choice did about it, for the log. */
  closed(status) {
    switch (this._one(20, status)) {
      case 1:
        return "could not open twice: trying server-sent events"
      case 2:
        return "could not open twice: trying WebSocket"
      case 3:
        return `the server has no event-stream socket (${status}): WebSocket only from now on`
    }
  }
}
