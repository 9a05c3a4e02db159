// Types of @ferrocast/client/vue (vue.js, written by hand).

import type { ComputedRef, MaybeRefOrGetter, Ref, ShallowRef } from "vue";
import type { Channel, Presence, Socket, SocketStats } from "@ferrocast/client";

export type { SocketStats };

/** What `useSocket` returns. */
export interface UseSocket {
  /** `null` on the server and until the component mounts. */
  socket: ShallowRef<Socket | null>;
  /** The connection's state, refreshed every `statsIntervalMs` and on open and close. */
  state: Ref<"closed" | "connecting" | "open" | "closing">;
  /** `socket.getStats()`, refreshed with `state`; `null` until the socket exists. */
  stats: Ref<SocketStats | null>;
  /** Whether `state` is "open". */
  connected: ComputedRef<boolean>;
}

/** The Socket's options, plus how often `state` and `stats` are refreshed (ms, default 500). */
export type UseSocketOptions = Record<string, unknown> & { statsIntervalMs?: number };

/**
 * Makes, connects and provides a Socket when the component mounts (never during server rendering); disconnects it
 * when the component's scope is disposed.
 * @param endPoint The socket's path or URL, as for `new Socket`.
 * @param options The Socket's options, plus `statsIntervalMs`.
 * @returns `{socket, state, stats, connected}`.
 */
export function useSocket(endPoint: MaybeRefOrGetter<string>, options?: UseSocketOptions): UseSocket;
/**
 * The socket the nearest ancestor's `useSocket(endPoint)` provided.
 * @returns `{socket, state, stats, connected}`.
 */
export function useSocket(): UseSocket;

/** An event `useChannel` collected into `messages`. */
export interface ChannelMessage {
  /** Its name. */
  event: string;
  /** Its payload. */
  payload: any;
  /** `Date.now()` when it arrived. */
  at: number;
}

/** Why a `push` of `useChannel` was rejected. */
export interface PushFailure {
  /** "error" (the server's error reply), "timeout", or "not_joined" (no channel yet). */
  status: "error" | "timeout" | "not_joined";
  /** The server's reply, for "error". */
  response?: any;
}

/** What `useChannel` returns. */
export interface UseChannel {
  /** The channel, once the socket exists in the browser; `null` before and on the server. */
  channel: ShallowRef<Channel | null>;
  /** The channel's state. */
  state: Ref<"closed" | "joining" | "joined" | "errored" | "leaving">;
  /** The join's ok reply. */
  joinResponse: Ref<any>;
  /** The join's error reply, or `"timeout"`; `null` otherwise. */
  error: Ref<any>;
  /** The `events` received, at most `keep`, newest last. */
  messages: Ref<ChannelMessage[]>;
  /**
   * Pushes an event on the channel.
   * @param event The event's name.
   * @param payload JSON-able data, or an `ArrayBuffer`.
   * @param timeout Milliseconds to wait for the reply.
   * @returns A promise of the ok reply; it rejects with a `PushFailure`.
   */
  push(event: string, payload?: any, timeout?: number): Promise<any>;
  /**
   * Listens for an event on the channel, on this channel and the ones after a topic change.
   * @param event The event's name.
   * @param callback Called as `callback(payload, ref, joinRef)`.
   * @returns A function that stops listening.
   */
  on(event: string, callback: (payload: any, ref?: string, joinRef?: string) => void): () => void;
  /** Set when a rejoin could not replay everything missed: reload what the channel feeds. */
  recoveryFailed: Ref<{ topic: string; offset: number; epoch: string } | null>;
}

/** `useChannel`'s options. */
export interface UseChannelOptions {
  /** A Socket, a ref or getter of one, or what `useSocket` returned; default: the provided one. */
  socket?: MaybeRefOrGetter<Socket | null> | UseSocket;
  /** Events collected into `messages`. */
  events?: string[];
  /** The most messages kept (default 100). */
  keep?: number;
}

/**
 * Joins a topic on the socket the component's `useSocket` provides (or `options.socket`) once that exists in the
 * browser; leaves when the scope is disposed, and leaves and joins again when the topic or the socket changes.
 * @param topic The topic: a string, or a ref or getter of one.
 * @param params The join's params: an object, a ref of one, or a function called before each join.
 * @param options The socket, the events collected into `messages`, and how many are kept.
 * @returns `{channel, state, joinResponse, error, messages, push, on, recoveryFailed}`.
 */
export function useChannel(
  topic: MaybeRefOrGetter<string>,
  params?: object | Ref<object> | (() => object),
  options?: UseChannelOptions,
): UseChannel;

/** One presence in `usePresence`'s `list`. */
export interface PresenceEntry {
  /** Its key (a user id, say). */
  id: string;
  /** Its metas, one per connection. */
  metas: any[];
}

/**
 * Who is on a channel's topic, refreshed on every sync.
 * @param channel What `useChannel` returned, a Channel, or a ref or getter of one.
 * @returns `{list, presence}`: `list` is `[{id, metas}]`; `presence` the `Presence` tracker.
 */
export function usePresence(channel: UseChannel | MaybeRefOrGetter<Channel | null>): {
  /** The presences, `[{id, metas}]`. */
  list: Ref<PresenceEntry[]>;
  /** The `Presence` tracker, once the channel exists. */
  presence: ShallowRef<Presence | null>;
};

/** An event `useEventStream` collected. */
export interface StreamEvent {
  /** Its name. */
  event: string;
  /** Its data, parsed as JSON when it is JSON. */
  data: any;
  /** Its topic; `null` when the server gave none. */
  topic: string | null;
  /** The stream's id after it. */
  lastEventId: string;
  /** `Date.now()` when it arrived. */
  at: number;
}

/** `useEventStream`'s options. */
export interface UseEventStreamOptions {
  /** Event names to listen for. */
  events?: string[];
  /** The most events kept (default 100). */
  max?: number;
  /** Request headers, or a function giving them (async allowed), called before every request. */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /** The id to resume from: an earlier stream's `lastEventId`. */
  lastEventId?: string;
  /** Full-jitter backoff between reconnects. */
  backoff?: { baseMs?: number; maxMs?: number; jitter?: number };
}

/**
 * Reads server-sent events (an `EventStream`) in the browser: opened when the component mounts, closed when its
 * scope is disposed, and opened anew when the URL changes.
 * @param url The stream's URL: a string, or a ref or getter of one.
 * @param options The events listened for, how many are kept, headers, where to resume from, and the backoff.
 * @returns `{events, state, lastEventId, error, recoveryFailed, close}`.
 */
export function useEventStream(
  url: MaybeRefOrGetter<string>,
  options?: UseEventStreamOptions,
): {
  /** Newest last, at most `max`. */
  events: Ref<StreamEvent[]>;
  /** The stream's state. */
  state: Ref<"connecting" | "open" | "closed">;
  /** The id a later stream resumes from. */
  lastEventId: Ref<string>;
  /** The last `{status, message}` from `onError`; `null` once open. */
  error: Ref<{ status: number; message: string } | null>;
  /** Set when a resume could not replay everything a topic broadcast meanwhile: reload what it feeds. */
  recoveryFailed: Ref<{ topic: string; offset: number; epoch: string; recovered: false } | null>;
  /** Closes the stream for good. */
  close(): void;
};
