
/** `EventStream`'s options; see README. */
export interface EventStreamOptions {
  /** Request headers, or a function giving them (or a promise of them), called before every request. */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /** The id to resume from, until the stream gives one: an earlier stream's `lastEventId`. */
  lastEventId?: string;
  /** Full-jitter backoff between requests; the server's `retry` replaces the base. */
  backoff?: { baseMs?: number; maxMs?: number; jitter?: number };
}

/**
 * Server-sent events from a Ferrocast relay (`new EventStream("/sse?topic=room:lobby", {headers})`), or from any
 * event stream. Connects at once, as EventSource does, and reconnects until `close()` or a refusal; as
 * EventSource, it keeps going when the page lets go of the object.
 */
export class EventStream {
  constructor(url: string, options?: EventStreamOptions);
  /**
   * Calls `callback(data, {event, topic, lastEventId})` for every `event` (`"message"` for unnamed ones), with
   * `data` parsed as JSON (the raw text when it is not JSON) and `topic` `null` when the server gave none; returns a
   * ref for `off`.
   */
  on(event: string, callback: (data: any, meta: { event: string; topic: string | null; lastEventId: string }) => void): number;
  /** Removes the callback registered under `ref` (by `on`, `onOpen`, `onError` or `onRecoveryFailed`). */
  off(ref: number): void;
  /** Calls `callback()` whenever the stream opens (the server answered 200 with an event stream). */
  onOpen(callback: () => void): number;
  /**
   * Calls `callback({status, message})` when a request fails or the stream drops: then `readyState` is 0 and the
   * stream reconnects. A refusal (a status below 500, `message` the server's reason) is final: `readyState` is 2.
   * `status` is 0 when there was no HTTP answer or the stream broke mid-way.
   */
  onError(callback: (error: { status: number; message: string }) => void): number;
  /**
   * Calls `callback({topic, offset, epoch, recovered: false})` when a resume could not replay everything the topic
   * broadcast meanwhile: reload what the topic feeds. The stream goes on from the topic's current position.
   */
  onRecoveryFailed(callback: (lost: { topic: string; offset: number; epoch: string; recovered: false }) => void): number;
  /** Stops the stream for good: the request is aborted, no reconnect follows and no callback runs after this. */
  close(): void;
  /** 0 connecting (or waiting to reconnect), 1 open, 2 closed, as EventSource's. */
  readonly readyState: number;
  /** The id the next connection resumes from: hand it to a later stream's `lastEventId` option. */
  readonly lastEventId: string;
}

/** A WebSocket-shaped connection over server-sent events and POST requests; pass `transport: "sse"` to `Socket`. */
export class SseSocket {
  /**
   * `new SseSocket(url)`, `url` being the socket's WebSocket URL (`ws://host/socket/websocket?…`): the event stream
   * is the same path with `/sse`, over HTTP.
   */
  constructor(url: string, protocols?: string | string[]);
  /** The socket at its event-stream URL (`http://host/socket/sse?…`), `authToken` sent as `Authorization: Bearer`. */
  static connect(streamUrl: string, authToken?: string): SseSocket;
  onopen: ((event: {}) => void) | null;
  /** `status` is the HTTP status of a stream request the server refused. */
  onclose: ((event: { code: number; reason: string; wasClean: boolean; status?: number }) => void) | null;
  onerror: ((event: {}) => void) | null;
  onmessage: ((event: { data: string | ArrayBuffer }) => void) | null;
  /** Accepted for the WebSocket's sake; binary frames arrive as `ArrayBuffer`s. */
  binaryType: string;
  /** Sends a frame: text as it is, an `ArrayBuffer` (a binary frame) in base64. */
  send(frame: string | ArrayBuffer): void;
  /** Ends the stream; `onclose` follows, as a WebSocket's does. */
  close(code?: number, reason?: string): void;
}
