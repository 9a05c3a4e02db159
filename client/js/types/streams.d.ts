
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
  /**
   * Opens the stream at once.
   * @param url The stream's URL, e.g. "/sse?topic=room:lobby&topic=room:news".
   * @param options Headers, where to resume from, and the backoff between reconnects.
   */
  constructor(url: string, options?: EventStreamOptions);
  /**
   * Listens for an event.
   * @param event The event's name; `"message"` for unnamed ones.
   * @param callback Called as `callback(data, {event, topic, lastEventId})` for every such event, `data` parsed as
   * JSON (the raw text when it is not JSON) and `topic` `null` when the server gave none.
   * @returns A ref for `off`.
   */
  on(event: string, callback: (data: any, meta: { event: string; topic: string | null; lastEventId: string }) => void): number;
  /**
   * Removes a callback.
   * @param ref The ref `on`, `onOpen`, `onError` or `onRecoveryFailed` returned.
   */
  off(ref: number): void;
  /**
   * Listens for the stream opening (the server answered 200 with an event stream), every time it does.
   * @param callback Called with no arguments.
   * @returns A ref for `off`.
   */
  onOpen(callback: () => void): number;
  /**
   * Calls `callback({status, message})` when a request fails or the stream drops: then `readyState` is 0 and the
   * stream reconnects. A refusal (a status below 500, `message` the server's reason) is final: `readyState` is 2.
   * `status` is 0 when there was no HTTP answer or the stream broke mid-way.
   * @param callback Called with `{status, message}`.
   * @returns A ref for `off`.
   */
  onError(callback: (error: { status: number; message: string }) => void): number;
  /**
   * Calls `callback({topic, offset, epoch, recovered: false})` when a resume could not replay everything the topic
   * broadcast meanwhile: reload what the topic feeds. The stream goes on from the topic's current position.
   * @param callback Called with `{topic, offset, epoch, recovered: false}`, the position the stream had.
   * @returns A ref for `off`.
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
   * @param url The socket's WebSocket URL.
   * @param protocols Accepted for the WebSocket's sake, and ignored.
   */
  constructor(url: string, protocols?: string | string[]);
  /**
   * Opens a socket at its event-stream URL.
   * @param streamUrl The URL, e.g. `http://host/socket/sse?…`.
   * @param authToken Sent as `Authorization: Bearer`.
   * @returns The socket.
   */
  static connect(streamUrl: string, authToken?: string): SseSocket;
  /** Called when the stream opens, as a WebSocket's `onopen`. */
  onopen: ((event: {}) => void) | null;
  /** Called when the socket closes, as a WebSocket's; `status` is the HTTP status of a request the server refused. */
  onclose: ((event: { code: number; reason: string; wasClean: boolean; status?: number }) => void) | null;
  /** Called when a request fails, as a WebSocket's `onerror`. */
  onerror: ((event: {}) => void) | null;
  /** Called with every frame received, as a WebSocket's `onmessage`. */
  onmessage: ((event: { data: string | ArrayBuffer }) => void) | null;
  /** Accepted for the WebSocket's sake; binary frames arrive as `ArrayBuffer`s. */
  binaryType: string;
  /**
   * Sends a frame, in a POST.
   * @param frame Text, sent as it is, or an `ArrayBuffer` (a binary frame), sent in base64.
   */
  send(frame: string | ArrayBuffer): void;
  /**
   * Ends the stream; `onclose` follows, as a WebSocket's does.
   * @param code The close code `onclose` reports.
   * @param reason The reason `onclose` reports.
   */
  close(code?: number, reason?: string): void;
}
