/** A push (or a channel's join or leave): `receive(status, callback)` chains. */
export class Push {
  private constructor();
  /**
   * Calls `callback(response)` when the outcome has this status; at once if it has already.
   * @param status "ok", "error" or "timeout".
   * @param callback Gets the server's reply payload (`{}` or `undefined` for a timeout).
   * @returns This push, so calls chain: `push.receive("ok", …).receive("error", …)`.
   */
  receive(status: string, callback: (response: any) => void): Push;
}

/** A channel object, made by `socket.channel(topic, params)`. */
export class Channel {
  private constructor();
  /**
   * Joins the topic. Throws if called twice on one channel object.
   * @param timeout Milliseconds to wait for the reply before "timeout" (the socket's `timeout` by default).
   * @returns A push that reports this join and every later rejoin attempt.
   */
  join(timeout?: number): Push;
  /**
   * Leaves the topic.
   * @param timeout Milliseconds to wait for the server's confirmation.
   * @returns A push that gets "ok" when the server confirms, or at once when offline.
   */
  leave(timeout?: number): Push;
  /**
   * Sends an event on the topic; queued while the channel is not joined (bounded by the socket's `queue` option).
   * @param event The event's name.
   * @param payload JSON-able data, or an `ArrayBuffer` to send a binary frame.
   * @param timeout Milliseconds to wait for the reply before "timeout".
   * @returns A push whose `receive` gets the reply.
   */
  push(event: string, payload?: any, timeout?: number): Push;
  /**
   * Listens for an event on the topic.
   * @param event The event's name (e.g. "new_msg", "presence_diff").
   * @param callback Called as `callback(payload, ref, joinRef)` for every such event.
   * @returns A ref to pass to `off`.
   */
  on(event: string, callback: (payload: any, ref: string | null, joinRef: string | null) => void): number;
  /**
   * Stops listening for an event.
   * @param event The event's name.
   * @param ref The ref `on` returned; without it, every callback of the event is removed.
   */
  off(event: string, ref?: number): void;
  /**
   * Listens for the channel closing (left, or closed by the server).
   * @param callback Called with no arguments.
   * @returns A ref to pass to `off("phx_close", ref)`.
   */
  onClose(callback: () => void): number;
  /**
   * Listens for the channel erroring; it then rejoins by itself.
   * @param callback Called with the reason.
   * @returns A ref to pass to `off("phx_error", ref)`.
   */
  onError(callback: (reason: any) => void): number;
  /**
   * Listens for a rejoin that could not replay every broadcast missed meanwhile: reload what the channel feeds.
   * @param callback Called with `{topic, offset, epoch}`, the last position the channel had.
   * @returns A ref for `off`.
   */
  onRecoveryFailed(callback: (lost: { topic: string; offset?: number; epoch?: string }) => void): number;
  /**
   * The ref of the current join, as phoenix.js's `channel.joinRef()`.
   * @returns The ref, or `undefined` before the first join.
   */
  joinRef(): string | undefined;
  /** "closed", "errored", "joined", "joining" or "leaving". */
  readonly state: string;
  /** The topic given to `socket.channel`. */
  readonly topic: string;
}

/** A connection to a Phoenix Channels server; see README for every option. */
export class Socket {
  /**
   * Makes a socket; nothing connects until `connect()`.
   * @param endPoint The socket's path or URL, as for phoenix.js: `"/socket"` or `"wss://host/socket"`.
   * @param opts `params`, `authToken`, `reconnectAfterMs`, `backoff`, `queue`, `transport`, `logger` and the others
   * README lists; an unknown option throws.
   */
  constructor(endPoint: string, opts?: Record<string, any>);
  /** Opens the connection, and keeps it open (reconnecting as needed) until `disconnect()`. */
  connect(): void;
  /**
   * Closes the connection and stops reconnecting; channels rejoin on the next `connect()`.
   * @param callback Runs once the connection is closed (at once if it was).
   * @param code The WebSocket close code.
   * @param reason The close reason.
   */
  disconnect(callback?: () => void, code?: number, reason?: string): void;
  /**
   * Listens for the connection opening, every time it does.
   * @param callback Called with no arguments.
   * @returns A ref to pass to `off([ref])`.
   */
  onOpen(callback: () => void): string;
  /**
   * Listens for the connection closing, every time it does.
   * @param callback Called with the close event's `{code, reason, wasClean}`.
   * @returns A ref to pass to `off([ref])`.
   */
  onClose(callback: (event: { code: number; reason: string; wasClean: boolean }) => void): string;
  /**
   * Listens for connection errors.
   * @param callback Called with the error.
   * @returns A ref to pass to `off([ref])`.
   */
  onError(callback: (error: any) => void): string;
  /**
   * Listens for every message the socket receives, on every topic.
   * @param callback Called with the decoded message.
   * @returns A ref to pass to `off([ref])`.
   */
  onMessage(
    callback: (message: { join_ref: string | null; ref: string | null; topic: string; event: string; payload: any }) => void,
  ): string;
  /**
   * Listens for pushes the offline queue dropped, which phoenix.js would have kept unbounded; the push's "timeout"
   * callbacks follow.
   * @param callback Called with the dropped push's `{topic, event, reason}`, `reason` being "queue_full", "expired"
   * or "channel_closed".
   * @returns A ref to pass to `off([ref])`.
   */
  onQueueDrop(callback: (dropped: { topic: string; event: string; reason: string }) => void): string;
  /**
   * Removes callbacks.
   * @param refs The refs the `on…` methods returned.
   */
  off(refs: string[]): void;
  /**
   * Whether the connection is open now.
   * @returns `true` when open.
   */
  isConnected(): boolean;
  /**
   * The connection's state.
   * @returns "connecting", "open" or "closed".
   */
  connectionState(): string;
  /**
   * A new message ref, as phoenix.js's.
   * @returns The ref, a decimal string.
   */
  makeRef(): string;
  /**
   * The URL the next connection opens.
   * @returns The URL, with the params and `vsn` in its query.
   */
  endPointURL(): string;
  /**
   * Makes a channel object; nothing is sent until its `join()`.
   * @param topic The topic, e.g. "room:lobby".
   * @param params The join's params: an object, or a function called before each join (for fresh values).
   * @returns The channel.
   */
  channel(topic: string, params?: Record<string, any> | (() => Record<string, any>)): Channel;
  /**
   * Counters for dashboards.
   * @returns The state, reconnects, queue and round-trip figures; the times are `null` when there is none.
   */
  getStats(): SocketStats;
  /**
   * Calls the `logger` option, if one was given, as phoenix.js's `socket.log`.
   * @param kind What is logged, e.g. "push" or "receive".
   * @param message The message.
   * @param data Anything more.
   */
  log(kind: string, message: string, data?: any): void;
}

/** `socket.getStats()`. */
export interface SocketStats {
  /** The connection's state. */
  state: "connecting" | "open" | "closed";
  /** Reconnect attempts since the connection was last open. */
  reconnectAttempts: number;
  /** Milliseconds until the next reconnect attempt; `null` when none is waiting. */
  nextRetryInMs: number | null;
  /** Pushes waiting in the offline queue. */
  queuedPushes: number;
  /** Their bytes. */
  queuedBytes: number;
  /** Pushes sent and waiting for their reply. */
  awaitingReply: number;
  /** The last heartbeat's round trip in milliseconds; `null` before the first. */
  lastHeartbeatRttMs: number | null;
}
