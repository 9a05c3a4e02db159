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

  url(url) {
    return this.one(2, url)
  }

  restart() {
    this.call(3)
  }

  opened() {
    this.call(4)
  }

  /** The events `chunk` (text) completed, five values each (`feed` in event_stream.rs). */
  feed(chunk) {
    return this.call(5, chunk)
  }

  ended(end, status, now) {
    return this.one(6, end, status, now)
  }

  close() {
    this.call(7)
  }

  get readyState() {
    return this.one(8)
  }

  get lastEventId() {
    return this.one(9)
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
  feed(chunk) {
    return this.call(12, chunk)
  }

  sendText(frame) {
    this.call(13, frame)
  }

  sendBinary(frame) {
    this.call(14, frame)
  }

  takeBody() {
    return this.one(15)
  }
}

export class TransportChoice extends Held {
  constructor(allowed) {
    super(16, allowed)
  }

  attempt(websockets) {
    return this.one(17, websockets)
  }

  static streamUrl(websocketUrl) {
    return run(0, 18, websocketUrl)[0]
  }

  opened() {
    this.call(19)
  }

  /** The attempt closed (`status`: a refused event-stream request's); what the choice did about it, for the log. */
  closed(status) {
    switch (this.one(20, status)) {
      case 1:
        return "could not open twice: trying server-sent events"
      case 2:
        return "could not open twice: trying WebSocket"
      case 3:
        return `the server has no event-stream socket (${status}): WebSocket only from now on`
    }
  }
}
