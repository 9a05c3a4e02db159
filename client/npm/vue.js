// @ferrocast/client/vue: Vue 3 composables around the client: useSocket, useChannel, usePresence, useEventStream.
//
// Safe under server-side rendering: importing this module and calling the composables while a page renders on the
// server touches no browser global, starts no timer and opens nothing. Sockets and event streams are made when the
// component mounts (Vue runs no onMounted on the server), channels and presences once their socket exists, and all
// of it (timers, sockets, channels, bindings, streams) is released when the component's scope is disposed.
//
// Called outside a component (inside an effectScope, say a store's), there is no mount to wait for: they start at
// once, so do that only in browser code.

import { Socket, Presence, EventStream } from "@ferrocast/client";
import {
  computed,
  getCurrentInstance,
  getCurrentScope,
  inject,
  isRef,
  onMounted,
  onScopeDispose,
  provide,
  ref,
  shallowRef,
  toRaw,
  toValue,
  unref,
  watch,
} from "vue";

/** What `useSocket(endPoint)` provides to its descendants. */
const SOCKET_KEY = Symbol.for("@ferrocast/client/vue:socket");

/** Each component's own `useSocket(endPoint)`, so a `useChannel` beside it finds it (inject only sees ancestors). */
const ownSockets = new WeakMap();

/** EventStream's `readyState`, as the `state` names it. */
const STREAM_STATES = ["connecting", "open", "closed"];

/**
 * Runs `start` where the page runs: when the current component mounts, or at once outside a component. Vue runs
 * no onMounted on the server, so `start` never runs there. Watchers `start` makes belong to the component's scope.
 */
function whenMounted(start) {
  if (getCurrentInstance()) {
    onMounted(start);
  } else {
    start();
  }
}

/** Tells the developer about a misuse that must not stop the page (as Vue's own warnings). */
function warn(message) {
  console.warn(`[@ferrocast/client/vue] ${message}`);
}

/** A copy of `list` with `item` last, keeping at most `max` items (the oldest dropped). */
function appended(list, item, max) {
  if (!(max > 0)) {
    return [];
  }
  const next = list.length >= max ? list.slice(list.length - max + 1) : list.slice();
  next.push(item);
  return next;
}

/** Whether two `getStats()` objects say the same. */
function sameStats(a, b) {
  if (!a || !b) {
    return a === b;
  }
  for (const key of Object.keys(b)) {
    if (a[key] !== b[key]) {
      return false;
    }
  }
  return Object.keys(a).length === Object.keys(b).length;
}

/** A Socket from `options.socket`: a Socket, a ref or getter of one, or what useSocket returned. */
function socketFrom(value) {
  const socket = toValue(value);
  if (socket && !(socket instanceof Socket) && isRef(socket.socket)) {
    return socket.socket.value ?? null;
  }
  return socket ?? null;
}

/**
 * `useSocket(endPoint, options)` makes a Socket when the component mounts (never during server rendering),
 * connects it, provides it to descendants and disconnects it when the component's scope is disposed.
 * `useSocket()` returns what the nearest ancestor's `useSocket(endPoint)` provided.
 *
 * `options` are the Socket's, plus `statsIntervalMs` (default 500): how often `state` and `stats` are refreshed.
 * Returns `{socket, state, stats, connected}`.
 */
export function useSocket(endPoint, options) {
  if (endPoint === undefined) {
    const provided = getCurrentInstance() ? inject(SOCKET_KEY, null) : null;
    if (provided) {
      return provided;
    }
    // Warned, not thrown, as Vue's inject does: an error thrown in a setup during server rendering (dev builds)
    // leaves Vue believing it is still in a server setup, and breaks the renders after it.
    warn("useSocket() found no socket: call useSocket(endPoint, options) in an ancestor component");
    return { socket: shallowRef(null), state: ref("closed"), stats: ref(null), connected: computed(() => false) };
  }
  const instance = getCurrentInstance();
  if (!instance) {
    throw new Error("useSocket(endPoint) must be called in a component's setup");
  }
  const { statsIntervalMs = 500, ...socketOptions } = options ?? {};
  const socket = shallowRef(null);
  const state = ref("closed");
  const stats = ref(null);
  const connected = computed(() => state.value === "open");
  const result = { socket, state, stats, connected };
  provide(SOCKET_KEY, result);
  ownSockets.set(instance, result);

  let timer = null;
  let refs = [];
  let disposed = false;
  onMounted(() => {
    if (disposed) {
      return;
    }
    const made = new Socket(toValue(endPoint), socketOptions);
    const refresh = () => {
      state.value = made.connectionState();
      const next = made.getStats();
      if (!sameStats(stats.value, next)) {
        stats.value = next;
      }
    };
    refs = [made.onOpen(refresh), made.onClose(refresh), made.onError(refresh)];
    socket.value = made;
    made.connect();
    refresh();
    if (statsIntervalMs > 0) {
      timer = setInterval(refresh, statsIntervalMs);
    }
  });
  onScopeDispose(() => {
    disposed = true;
    if (timer !== null) {
      clearInterval(timer);
      timer = null;
    }
    const made = socket.value;
    if (!made) {
      return;
    }
    const refresh = () => {
      state.value = made.connectionState();
      stats.value = made.getStats();
    };
    made.disconnect(() => {
      made.off(refs);
      refresh();
    });
    refresh();
  });
  return result;
}

/**
 * `useChannel(topic, params, options)` joins `topic` (a string, ref or getter) with `params` (an object, a ref of
 * one, or a function called before each join) on the socket its component's `useSocket` provides (or
 * `options.socket`) once that exists in the browser; leaves when the scope is disposed, and leaves and joins again
 * when the topic (or the socket) changes.
 *
 * `options`: `{socket, events: names collected into messages, keep: the most messages kept (100)}`.
 * Returns `{channel, state, joinResponse, error, messages, push, on, recoveryFailed}`.
 */
export function useChannel(topic, params, options) {
  const { socket: socketOption, events = [], keep = 100 } = options ?? {};
  const instance = getCurrentInstance();
  let provided = null;
  if (socketOption === undefined) {
    provided = instance ? (ownSockets.get(instance) ?? inject(SOCKET_KEY, null)) : null;
    if (!provided) {
      warn(
        `useChannel(${JSON.stringify(toValue(topic))}) found no socket, so it joins nothing: call ` +
          "useSocket(endPoint) in this component or an ancestor, or pass options.socket",
      );
    }
  }
  const currentSocket = () =>
    socketOption === undefined ? (provided?.socket.value ?? null) : socketFrom(socketOption);

  const channel = shallowRef(null);
  const state = ref("closed");
  const joinResponse = ref(null);
  const error = ref(null);
  const messages = ref([]);
  const recoveryFailed = ref(null);
  /** The application's `on` bindings: binding -> {channel, ref} on the current channel, if any. */
  const bindings = new Map();
  let joinedTopic = null;

  const bind = (ch, binding) => {
    bindings.set(binding, { channel: ch, ref: ch.on(binding.event, binding.callback) });
  };
  const unbind = (binding) => {
    const bound = bindings.get(binding);
    // `off` without a ref removes every binding of the event: never call it with none.
    if (bound?.channel && bound.ref > 0) {
      bound.channel.off(binding.event, bound.ref);
    }
  };

  const open = (socket, name) => {
    const ch = socket.channel(name, toRaw(unref(params)) ?? {});
    const current = () => channel.value === ch;
    const sync = () => {
      if (current()) {
        state.value = ch.state;
      }
    };
    if (joinedTopic !== name) {
      messages.value = [];
    }
    joinedTopic = name;
    joinResponse.value = null;
    error.value = null;
    recoveryFailed.value = null;
    channel.value = ch;
    for (const event of events) {
      ch.on(event, (payload) => {
        if (current()) {
          messages.value = appended(messages.value, { event, payload, at: Date.now() }, keep);
        }
      });
    }
    for (const binding of bindings.keys()) {
      bind(ch, binding);
    }
    ch.onError(sync);
    ch.onClose(sync);
    ch.onRecoveryFailed((info) => {
      if (current()) {
        recoveryFailed.value = info;
      }
    });
    ch.join()
      .receive("ok", (response) => {
        if (current()) {
          joinResponse.value = response;
          error.value = null;
        }
        sync();
      })
      .receive("error", (response) => {
        if (current()) {
          error.value = response;
        }
        sync();
      })
      .receive("timeout", () => {
        if (current()) {
          error.value = "timeout";
        }
        sync();
      });
    sync();
    return ch;
  };

  const close = (ch) => {
    for (const [binding, bound] of bindings) {
      if (bound.channel === ch) {
        unbind(binding);
        bindings.set(binding, { channel: null, ref: 0 });
      }
    }
    if (channel.value === ch) {
      channel.value = null;
    }
    try {
      ch.leave();
    } catch {
      // Already left (the server closed it): nothing to leave.
    }
    if (!channel.value) {
      state.value = "closed";
    }
  };

  whenMounted(() => {
    watch(
      [currentSocket, () => toValue(topic)],
      ([socket, name], _, onCleanup) => {
        if (!socket || !name) {
          return;
        }
        const ch = open(socket, name);
        onCleanup(() => close(ch));
      },
      { immediate: true },
    );
  });

  /** Sends `event`; resolves with the ok response, rejects with `{status, response}`. */
  function push(event, payload, timeout) {
    const ch = channel.value;
    if (!ch) {
      return Promise.reject({ status: "not_joined", response: null });
    }
    return new Promise((resolve, reject) => {
      let sent;
      try {
        sent = ch.push(event, payload === undefined ? {} : payload, timeout);
      } catch (err) {
        reject({ status: "not_joined", response: err?.message ?? String(err) });
        return;
      }
      sent
        .receive("ok", resolve)
        .receive("error", (response) => reject({ status: "error", response }))
        .receive("timeout", () => reject({ status: "timeout", response: null }));
    });
  }

  /**
   * Calls `callback(payload, ref, joinRef)` for every `event`, on this channel and the ones a topic change makes;
   * returns a function that unsubscribes (also done when the scope `on` was called in is disposed).
   */
  function on(event, callback) {
    const binding = { event, callback };
    bindings.set(binding, { channel: null, ref: 0 });
    if (channel.value) {
      bind(channel.value, binding);
    }
    let done = false;
    const off = () => {
      if (!done) {
        done = true;
        unbind(binding);
        bindings.delete(binding);
      }
    };
    if (getCurrentScope()) {
      onScopeDispose(off);
    }
    return off;
  }

  return { channel, state, joinResponse, error, messages, push, on, recoveryFailed };
}

/**
 * `usePresence(channel)`: who is on a channel's topic. `channel` is what `useChannel` returned, a Channel, or a ref
 * or getter of one. Returns `{list, presence}`: `list` is `[{id, metas}]`, refreshed on every sync.
 */
export function usePresence(source) {
  const list = ref([]);
  const presence = shallowRef(null);
  const currentChannel = () => {
    const value = toValue(source);
    if (value && isRef(value.channel)) {
      return value.channel.value ?? null;
    }
    return value ?? null;
  };
  const listed = (made) => made.list((id, { metas }) => ({ id, metas }));

  whenMounted(() => {
    watch(
      currentChannel,
      (ch, _, onCleanup) => {
        if (!ch) {
          list.value = [];
          return;
        }
        const made = new Presence(ch);
        let live = true;
        made.onSync(() => {
          if (live) {
            list.value = listed(made);
          }
        });
        presence.value = made;
        list.value = listed(made);
        onCleanup(() => {
          live = false;
          made.onSync(() => {});
          if (presence.value === made) {
            presence.value = null;
            list.value = [];
          }
          // Frees the tracker now; its channel bindings then do nothing.
          made.free?.();
        });
      },
      { immediate: true },
    );
  });
  return { list, presence };
}

/**
 * `useEventStream(url, options)` reads server-sent events (an EventStream) from the browser, opened when the
 * component mounts, closed when its scope is disposed, and opened anew when `url` (a string, ref or getter) changes.
 *
 * `options`: `{events: names to listen for, max: the most events kept (100), headers, lastEventId, backoff}`.
 * Returns `{events, state, lastEventId, error, recoveryFailed, close}`; `events` are `{event, data, topic,
 * lastEventId, at}`, newest last.
 */
export function useEventStream(url, options) {
  const { events: names = [], max = 100, headers, lastEventId: firstId, backoff } = options ?? {};
  const events = ref([]);
  const state = ref("closed");
  const lastEventId = ref(firstId ?? "");
  const error = ref(null);
  const recoveryFailed = ref(null);
  let stream = null;
  let opened = 0;

  const shut = (which) => {
    which.close();
    if (stream === which) {
      stream = null;
      state.value = "closed";
    }
  };

  whenMounted(() => {
    watch(
      () => toValue(url),
      (address, _, onCleanup) => {
        if (!address) {
          return;
        }
        opened += 1;
        if (opened > 1) {
          // Another URL: other topics, whose positions the old id does not hold.
          events.value = [];
          lastEventId.value = "";
        }
        error.value = null;
        recoveryFailed.value = null;
        const streamOptions = {};
        if (headers !== undefined) streamOptions.headers = toRaw(unref(headers));
        if (backoff !== undefined) streamOptions.backoff = backoff;
        if (lastEventId.value) streamOptions.lastEventId = lastEventId.value;
        const made = new EventStream(address, streamOptions);
        stream = made;
        const current = () => stream === made;
        const sync = () => {
          if (current()) {
            state.value = STREAM_STATES[made.readyState] ?? "closed";
          }
        };
        const seen = (id) => {
          if (current() && id) {
            lastEventId.value = id;
          }
        };
        made.onOpen(() => {
          if (current()) {
            error.value = null;
          }
          sync();
        });
        made.onError((failure) => {
          if (current()) {
            error.value = failure;
          }
          sync();
        });
        made.onRecoveryFailed((info) => {
          if (current()) {
            recoveryFailed.value = info;
          }
        });
        for (const name of names) {
          made.on(name, (data, meta) => {
            seen(meta?.lastEventId);
            if (current()) {
              const entry = {
                event: meta?.event ?? name,
                data,
                topic: meta?.topic ?? null,
                lastEventId: meta?.lastEventId ?? "",
                at: Date.now(),
              };
              events.value = appended(events.value, entry, max);
            }
          });
        }
        if (!names.includes("ferrocast:subscribed")) {
          made.on("ferrocast:subscribed", (_data, meta) => seen(meta?.lastEventId));
        }
        sync();
        onCleanup(() => shut(made));
      },
      { immediate: true },
    );
  });

  /** Stops the stream for good (a later change of `url` opens a new one). */
  function close() {
    if (stream) {
      shut(stream);
    }
  }

  return { events, state, lastEventId, error, recoveryFailed, close };
}
