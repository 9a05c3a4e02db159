// One request for an event stream, for `EventStream` and `SseSocket`: `fetch`, then the response body read chunk by
// chunk, each chunk decoded from UTF-8 (as EventSource decodes a stream) and handed to the owner, whose machine (in
// wasm) reads it. The browser's `EventSource` cannot send
// headers and decides by itself when to reconnect, so streams are read this way; whether and when to make the next
// request is the owner's decision.
//
// The owner hears, in this order: `_opened()` once, `_chunk(text)` for each chunk, then
// `_ended(how, status, message)` once (or `_ended` at once when it never opened). Nothing follows `_ended` or
// `_abort()`, even from promises already settling.

import { isEventStream } from "./stream-machines.js"

/** How a stream ended: the server ended the response body. */
export const CLOSED = 0
/** The server answered with something other than an event stream: its status, and its body for `message`. */
export const REFUSED = 1
/** There was no answer, or the connection broke mid-stream: the browser's message. */
export const FAILED = 2

/**
 * `fetch(url, {headers, signal})`, read for `owner` (`{_opened, _chunk, _ended}`); returns
 * `{_stopped, _abort()}`.
 * Throws where `fetch` or `AbortController` does not exist.
 */
export function fetchStream(url, headers, owner) {
  const controller = new AbortController()
  // A stream is never the same twice; a cache could only hand back a stale one.
  const answered = fetch(url, { headers, signal: controller.signal, cache: "no-store" })
  const stream = {
    _stopped: false,
    _abort() {
      stream._stopped = true
      controller.abort()
    },
  }
  follow(stream, answered, owner)
  return stream
}

async function follow(stream, answered, owner) {
  let end
  try {
    const response = await answered
    if (stream._stopped) return
    const { status } = response
    if (!isEventStream(status, response.headers.get("content-type") ?? "")) {
      // The body is the server's reason; one that cannot be read leaves the status to speak.
      let message = ""
      try {
        message = (await response.text()).replace(/\n+$/, "")
      } catch {}
      end = [REFUSED, status, message]
    } else if (!response.body) {
      end = [FAILED, 0, "no response body"]
    } else {
      const body = response.body.getReader()
      // One decoder for the whole body: it skips a byte order mark at its start, reads what is not UTF-8 as U+FFFD,
      // and holds back a character cut between two chunks until it is whole.
      const text = new TextDecoder()
      owner._opened()
      for (;;) {
        if (stream._stopped) return
        const { done, value } = await body.read()
        if (stream._stopped) return
        if (done) break
        owner._chunk(text.decode(value, { stream: true }))
      }
      end = [CLOSED, 0, ""]
    }
  } catch (error) {
    end = [FAILED, 0, typeof error?.message === "string" ? error.message : "network error"]
  }
  if (stream._stopped) return
  stream._stopped = true
  owner._ended(...end)
}
