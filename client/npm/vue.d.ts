// Types of @ferrocast/client/vue (vue.js, written by hand).

import type { ComputedRef, MaybeRefOrGetter, Ref, ShallowRef } from "vue";
import type { Channel, Presence, Socket, SocketStats } from "@ferrocast/client";

export type { SocketStats };

export interface UseSocket {
  /** `null` on the server and until the component mounts. */
  socket: ShallowRef<Socket | null>;
  state: Ref<"closed" | "connecting" | "open" | "closing">;
  stats: Ref<SocketStats | null>;
  connected: ComputedRef<boolean>;
}

/** The Socket's options, plus how often `state` and `stats` are refreshed (ms, default 500). */
export type UseSocketOptions = Record<string, unknown> & { statsIntervalMs?: number };

/** Makes, connects and provides a Socket when the component mounts; disconnects it on dispose. */
export function useSocket(endPoint: MaybeRefOrGetter<string>, options?: UseSocketOptions): UseSocket;
/** The socket the nearest ancestor's `useSocket(endPoint)` provided. */
export function useSocket(): UseSocket;

export interface ChannelMessage {
  event: string;
  payload: any;
  /** `Date.now()` when it arrived. */
  at: number;
}

export interface PushFailure {
  status: "error" | "timeout" | "not_joined";
  response?: any;
}

export interface UseChannel {
  channel: ShallowRef<Channel | null>;
  state: Ref<"closed" | "joining" | "joined" | "errored" | "leaving">;
  /** The join's ok reply. */
  joinResponse: Ref<any>;
  /** The join's error reply, or `"timeout"`; `null` otherwise. */
  error: Ref<any>;
  /** The `events` received, at most `keep`, newest last. */
  messages: Ref<ChannelMessage[]>;
  /** Resolves with the ok response; rejects with a `PushFailure`. */
  push(event: string, payload?: any, timeout?: number): Promise<any>;
  /** Returns a function that unsubscribes. */
  on(event: string, callback: (payload: any, ref?: string, joinRef?: string) => void): () => void;
  /** Set when a rejoin could not replay everything missed: reload what the channel feeds. */
  recoveryFailed: Ref<{ topic: string; offset: number; epoch: string } | null>;
}

export interface UseChannelOptions {
  /** A Socket, a ref or getter of one, or what `useSocket` returned; default: the provided one. */
  socket?: MaybeRefOrGetter<Socket | null> | UseSocket;
  /** Events collected into `messages`. */
  events?: string[];
  /** The most messages kept (default 100). */
  keep?: number;
}

export function useChannel(
  topic: MaybeRefOrGetter<string>,
  params?: object | Ref<object> | (() => object),
  options?: UseChannelOptions,
): UseChannel;

export interface PresenceEntry {
  id: string;
  metas: any[];
}

export function usePresence(channel: UseChannel | MaybeRefOrGetter<Channel | null>): {
  list: Ref<PresenceEntry[]>;
  presence: ShallowRef<Presence | null>;
};

export interface StreamEvent {
  event: string;
  data: any;
  topic: string | null;
  lastEventId: string;
  /** `Date.now()` when it arrived. */
  at: number;
}

export interface UseEventStreamOptions {
  /** Event names to listen for. */
  events?: string[];
  /** The most events kept (default 100). */
  max?: number;
  /** Request headers, or a function giving them (async allowed), called before every request. */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  lastEventId?: string;
  backoff?: { baseMs?: number; maxMs?: number; jitter?: number };
}

export function useEventStream(
  url: MaybeRefOrGetter<string>,
  options?: UseEventStreamOptions,
): {
  /** Newest last, at most `max`. */
  events: Ref<StreamEvent[]>;
  state: Ref<"connecting" | "open" | "closed">;
  lastEventId: Ref<string>;
  /** The last `{status, message}` from `onError`; `null` once open. */
  error: Ref<{ status: number; message: string } | null>;
  recoveryFailed: Ref<{ topic: string; offset: number; epoch: string; recovered: false } | null>;
  close(): void;
};
