/** A push (or a channel's join or leave): `receive(status, callback)` chains. */
export class Push {
  private constructor();
  /** Calls `callback(response)` when the outcome has this status ("ok", "error", "timeout"); at once if it has. */
  receive(status: string, callback: (response: any) => void): Push;
}

/** A channel object, made by `socket.channel(topic, params)`. */
export class Channel {
  private constructor();
  /** Joins the topic; the returned push reports this and every later (re)join attempt. Throws if called twice. */
  join(timeout?: number): Push;
  /** Leaves the topic; the returned push gets "ok" when the server confirms (or at once when offline). */
  leave(timeout?: number): Push;
  /** Sends `event` with `payload` (JSON, or an `ArrayBuffer` for a binary frame); queued while not joined. */
  push(event: string, payload?: any, timeout?: number): Push;
  /** Calls `callback(payload, ref, joinRef)` for every `event` on the topic; returns a ref for `off`. */
  on(event: string, callback: (payload: any, ref: string | null, joinRef: string | null) => void): number;
  /** Removes the callbacks for `event`: the one under `ref`, or all of them. */
  off(event: string, ref?: number): void;
  /** Calls `callback()` when the channel closes (left, or closed by the server). */
  onClose(callback: () => void): number;
  /** Calls `callback(reason)` when the channel errors (it then rejoins by itself). */
  onError(callback: (reason: any) => void): number;
  /** Calls `callback({topic, offset, epoch})` when a rejoin could not replay every broadcast missed. */
  onRecoveryFailed(callback: (lost: { topic: string; offset?: number; epoch?: string }) => void): number;
  /** The ref of the current join, as phoenix.js's `channel.joinRef()`. */
  joinRef(): string | undefined;
  /** "closed", "errored", "joined", "joining" or "leaving". */
  readonly state: string;
  readonly topic: string;
}

/** A connection to a Phoenix Channels server; see README for every option. */
export class Socket {
  constructor(endPoint: string, opts?: Record<string, any>);
  /** Opens the connection, and keeps it open (reconnecting as needed) until `disconnect()`. */
  connect(): void;
  /** Closes the connection and stops reconnecting; `callback` runs once it is closed. */
  disconnect(callback?: () => void, code?: number, reason?: string): void;
  onOpen(callback: () => void): string;
  onClose(callback: (event: { code: number; reason: string; wasClean: boolean }) => void): string;
  onError(callback: (error: any) => void): string;
  onMessage(
    callback: (message: { join_ref: string | null; ref: string | null; topic: string; event: string; payload: any }) => void,
  ): string;
  onQueueDrop(callback: (dropped: { topic: string; event: string; reason: string }) => void): string;
  /** Removes the callbacks registered under these refs. */
  off(refs: string[]): void;
  isConnected(): boolean;
  /** "connecting", "open" or "closed". */
  connectionState(): string;
  makeRef(): string;
  /** The URL the next connection opens, params and `vsn` included. */
  endPointURL(): string;
  /** A channel object for `topic`, joined with `params` (an object, or a function called before each join). */
  channel(topic: string, params?: Record<string, any> | (() => Record<string, any>)): Channel;
  /** Counters for dashboards; the times are `null` when there is none. */
  getStats(): SocketStats;
}

/** `socket.getStats()`. */
export interface SocketStats {
  state: "connecting" | "open" | "closed";
  reconnectAttempts: number;
  nextRetryInMs: number | null;
  queuedPushes: number;
  queuedBytes: number;
  awaitingReply: number;
  lastHeartbeatRttMs: number | null;
}
