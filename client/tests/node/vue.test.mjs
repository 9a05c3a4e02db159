// @ferrocast/client/vue, the Vue 3 composables, as a Nuxt page meets them: rendered on the server (which must open
// nothing, set no timer and touch no browser global), then mounted where the page runs. Node has no DOM, so the live
// tests mount with a renderer of our own (`createRenderer` over plain objects): onMounted runs as in a browser, and
// the composables talk to a real relay with the `ws` WebSocket and Node's streaming fetch.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";

import { startRelay } from "../../../tests/support/relay-process.mjs";

const WAIT_MS = 5000;

// The package is linked (`file:../../pkg`), so Node sees vue.js at its real path, client/pkg/vue.js, where no
// node_modules holds `vue`. Resolve `vue` from here for it, as a bundler's `resolve.dedupe: ["vue"]` would: one Vue
// for the test and the composables (with two, provide/inject and lifecycle hooks would not meet).
const PKG = new URL("../../pkg/", import.meta.url).href;
const hooks = `
export async function resolve(specifier, context, next) {
  if ((specifier === "vue" || specifier.startsWith("vue/")) && context.parentURL?.startsWith(${JSON.stringify(PKG)})) {
    return next(specifier, { ...context, parentURL: ${JSON.stringify(import.meta.url)} });
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);

// What the composables may not touch while a page renders on the server, watched from before they are imported:
// browser globals and the ways to open a connection, and timers. Outside `watching.ssr` they pass through.
const watching = { ssr: false, touched: [], timers: [], live: null };
const GLOBALS = ["window", "document", "navigator", "location", "WebSocket", "EventSource", "fetch", "XMLHttpRequest"];
for (const name of GLOBALS) {
  const original = Object.getOwnPropertyDescriptor(globalThis, name);
  Object.defineProperty(globalThis, name, {
    configurable: true,
    get() {
      if (watching.ssr) {
        watching.touched.push(name);
      }
      return original?.get ? original.get.call(globalThis) : original?.value;
    },
  });
}
// Timers: during server rendering any call is a fault; in the live tests every timer set is followed until it
// fires or is cleared, so the ones left after unmounting can be named.
const { setTimeout: realSetTimeout, setInterval: realSetInterval } = globalThis;
const { clearTimeout: realClearTimeout, clearInterval: realClearInterval } = globalThis;
const forget = (handle) => watching.live?.delete(handle);
globalThis.setTimeout = function setTimeout(callback, ms, ...args) {
  if (watching.ssr) {
    watching.timers.push("setTimeout");
  }
  const handle = realSetTimeout(
    (...given) => {
      forget(handle);
      return callback(...given);
    },
    ms,
    ...args,
  );
  watching.live?.set(handle, { kind: "setTimeout", ms, stack: new Error().stack.split("\n").slice(2, 5).join("\n") });
  return handle;
};
globalThis.setInterval = function setInterval(callback, ms, ...args) {
  if (watching.ssr) {
    watching.timers.push("setInterval");
  }
  const handle = realSetInterval(callback, ms, ...args);
  watching.live?.set(handle, { kind: "setInterval", ms, stack: new Error().stack.split("\n").slice(2, 5).join("\n") });
  return handle;
};
globalThis.clearTimeout = (handle) => (forget(handle), realClearTimeout(handle));
globalThis.clearInterval = (handle) => (forget(handle), realClearInterval(handle));
for (const name of ["setImmediate", "queueMicrotask"]) {
  const original = globalThis[name];
  globalThis[name] = (...args) => {
    if (watching.ssr) {
      watching.timers.push(name);
    }
    return original(...args);
  };
}

// Vue itself looks for `document` when it loads (runtime-dom), so it is imported before the watch starts.
const vue = await import("vue");
const { renderToString } = await import("@vue/server-renderer");
const { computed, createRenderer, createSSRApp, h, nextTick, ref } = vue;

watching.ssr = true;
const composables = await import("@ferrocast/client/vue");
const { Socket } = await import("@ferrocast/client");
watching.ssr = false;
const duringImport = { touched: [...watching.touched], timers: [...watching.timers] };
const { useSocket, useChannel, usePresence, useEventStream } = composables;

/**
 * The page under test: a root with useSocket, a room with useChannel and usePresence on `config.topic`, a feed
 * with useEventStream on `config.streamUrl`. What each composable returned goes into `seen`.
 */
function page(config, seen) {
  const Room = {
    setup() {
      // A socket from the ancestor, through `useSocket()` with no arguments.
      seen.fromAncestor = useSocket();
      const room = useChannel(config.topic, { user_id: "ada" }, { events: ["new_msg"], keep: 3 });
      // Before the channel exists: a push is refused, a binding waits for the channel.
      seen.earlyPush = room.push("new_msg", { body: "too early" }).then(
        (response) => ({ resolved: response }),
        (failure) => ({ rejected: failure }),
      );
      seen.early = [];
      room.on("new_msg", (payload) => seen.early.push(payload.body));
      const presence = usePresence(room);
      seen.room = room;
      seen.presence = presence;
      return () =>
        h(
          "section",
          `channel:${room.state.value} messages:${room.messages.value.length} ` +
            `presence:${presence.list.value.map((entry) => entry.id).join(",") || "none"}`,
        );
    },
  };
  const Feed = {
    setup() {
      const feed = useEventStream(config.streamUrl, { events: ["new_msg"], max: config.max ?? 3 });
      seen.feed = feed;
      return () => h("aside", `stream:${feed.state.value} events:${feed.events.value.length}`);
    },
  };
  return {
    setup() {
      const socket = useSocket(config.endPoint, config.socketOptions);
      seen.socket = socket;
      return () =>
        h("main", [
          h(
            "p",
            `socket:${socket.socket.value ? "made" : "none"} state:${socket.state.value} ` +
              `stats:${socket.stats.value ? "some" : "none"} connected:${socket.connected.value}`,
          ),
          config.room === false ? null : h(Room),
          config.feed === false ? null : h(Feed),
        ]);
    },
  };
}

test("importing the composables touches no browser global and sets no timer", () => {
  assert.deepEqual(duringImport, { touched: [], timers: [] });
});

test("server rendering shows the initial state and opens nothing", async () => {
  const seen = {};
  const config = {
    endPoint: "ws://127.0.0.1:9/socket",
    socketOptions: { params: { user_id: "ada" }, statsIntervalMs: 10 },
    topic: ref("room:lobby"),
    streamUrl: "http://127.0.0.1:9/sse?topic=room:lobby",
  };
  // A channel given an explicit Socket (creating one touches nothing) must not join on the server either.
  const given = new Socket("ws://127.0.0.1:9/socket", {});
  const Direct = {
    setup() {
      seen.direct = useChannel(() => "room:direct", {}, { socket: given });
      seen.directPresence = usePresence(seen.direct.channel);
      return () => h("footer", `direct:${seen.direct.state.value} ${seen.direct.channel.value ? "made" : "none"}`);
    },
  };
  const Root = page(config, seen);
  // Vue's dev build looks for `window` when it makes an app (its devtools hook): that is before any setup runs.
  const app = createSSRApp({ setup: () => () => h("div", [h(Root), h(Direct)]) });

  watching.touched.length = 0;
  watching.timers.length = 0;
  watching.ssr = true;
  let html;
  try {
    html = await renderToString(app);
  } finally {
    watching.ssr = false;
  }
  assert.deepEqual({ touched: watching.touched, timers: watching.timers }, { touched: [], timers: [] });
  assert.equal(
    html,
    "<div><main><p>socket:none state:closed stats:none connected:false</p>" +
      "<section>channel:closed messages:0 presence:none</section>" +
      "<aside>stream:closed events:0</aside></main>" +
      "<footer>direct:closed none</footer></div>",
  );
  assert.equal(seen.socket.socket.value, null);
  assert.equal(seen.fromAncestor, seen.socket, "useSocket() returns what the ancestor provided");
  assert.equal(seen.room.channel.value, null);
  assert.equal(seen.presence.presence.value, null);
  assert.deepEqual(seen.feed.events.value, []);
  assert.equal(given.connectionState(), "closed");
  assert.equal(given.getStats().awaitingReply, 0, "no join was sent or queued");
  assert.deepEqual(await seen.earlyPush, { rejected: { status: "not_joined", response: null } });
  // Nothing was started that needs waiting for: still no timer and no global once the render's promises settle.
  await sleep(50);
  assert.deepEqual({ touched: watching.touched, timers: watching.timers }, { touched: [], timers: [] });
});

test("a component without a socket to use is told so, and renders", async () => {
  const warnings = [];
  const { warn } = console;
  console.warn = (...args) => warnings.push(args.join(" "));
  let html;
  try {
    const Orphan = {
      setup() {
        const { state } = useChannel("room:lobby");
        const { connected } = useSocket();
        return () => h("p", `${state.value} ${connected.value}`);
      },
    };
    html = await renderToString(createSSRApp(Orphan));
  } finally {
    console.warn = warn;
  }
  assert.equal(html, "<p>closed false</p>");
  assert.equal(warnings.length, 2, warnings.join("\n"));
  assert.match(warnings[0], /useChannel\("room:lobby"\) found no socket, so it joins nothing/);
  assert.match(warnings[1], /useSocket\(\) found no socket/);
});

// The live tests: a Vue app mounted on plain objects, as a browser page would be on the DOM.

/** Nodes for Vue's renderer: `{type, text, children, parent}`. */
function objectRenderer() {
  const node = (type, text = "") => ({ type, text, children: [], parent: null });
  const remove = (child) => {
    const parent = child.parent;
    if (parent) {
      parent.children.splice(parent.children.indexOf(child), 1);
      child.parent = null;
    }
  };
  const renderer = createRenderer({
    createElement: (type) => node(type),
    createText: (text) => node("#text", text),
    createComment: (text) => node("#comment", text),
    setText: (target, text) => {
      target.text = text;
    },
    setElementText: (element, text) => {
      for (const child of element.children) {
        child.parent = null;
      }
      element.children = [];
      if (text) {
        const child = node("#text", text);
        child.parent = element;
        element.children.push(child);
      }
    },
    insert: (child, parent, anchor) => {
      remove(child);
      const at = anchor ? parent.children.indexOf(anchor) : -1;
      if (at >= 0) {
        parent.children.splice(at, 0, child);
      } else {
        parent.children.push(child);
      }
      child.parent = parent;
    },
    remove,
    parentNode: (target) => target.parent,
    nextSibling: (target) => {
      const siblings = target.parent?.children ?? [];
      return siblings[siblings.indexOf(target) + 1] ?? null;
    },
    patchProp: () => {},
  });
  const textOf = (target) =>
    target.type === "#text" ? target.text : target.children.map(textOf).filter(Boolean).join(" ");
  return { renderer, root: node("root"), textOf };
}

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

async function waitFor(what, condition) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = condition();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${relay.log()}`);
    }
    await sleep(20);
  }
}

/** A gauge from the relay's /metrics. */
async function gauge(name) {
  const text = await (await fetch(`http://127.0.0.1:${relay.port}/metrics`)).text();
  const line = text.split("\n").find((entry) => entry.startsWith(`${name} `));
  return Number(line.split(" ")[1]);
}

async function waitForGauge(name, expected) {
  const deadline = Date.now() + WAIT_MS;
  let value;
  while ((value = await gauge(name)) !== expected) {
    if (Date.now() > deadline) {
      assert.equal(value, expected, `${name} on the relay`);
    }
    await sleep(20);
  }
}

async function publish(messages) {
  const response = await fetch(`http://127.0.0.1:${relay.port}/api/broadcast`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(messages),
  });
  assert.equal(response.status, 200, await response.text());
}

/** Mounts `component`, following every timer set from now on. */
function mount(component) {
  watching.live = new Map();
  const { renderer, root, textOf } = objectRenderer();
  const app = renderer.createApp(component);
  const errors = [];
  app.config.errorHandler = (err) => errors.push(err);
  app.mount(root);
  return { app, errors, text: () => textOf(root) };
}

/** The timers set since `mount` that are still pending and would keep a process alive. */
function pendingTimers() {
  const pending = [...watching.live].filter(([handle]) => handle.hasRef?.() !== false);
  return pending.map(([, { kind, ms, stack }]) => `${kind}(${ms}) from\n${stack}`);
}

test("useSocket, useChannel and usePresence against a relay, and nothing left once unmounted", async () => {
  const seen = {};
  const config = {
    endPoint: `ws://127.0.0.1:${relay.port}/socket`,
    socketOptions: { transport: WebSocket, statsIntervalMs: 50 },
    topic: ref("room:vue"),
    feed: false,
  };
  const { app, errors, text } = mount(page(config, seen));
  try {
    const { socket, state, stats, connected } = seen.socket;
    assert.ok(socket.value instanceof Socket, "the socket is made when the component mounts");
    await waitFor("the socket to open", () => state.value === "open");
    assert.equal(connected.value, true);
    await waitFor("stats", () => stats.value?.state === "open");
    assert.equal(typeof stats.value.reconnectAttempts, "number");
    assert.equal(stats.value.queuedPushes, 0);

    const room = seen.room;
    await waitFor("the join", () => room.state.value === "joined");
    assert.equal(room.channel.value.topic, "room:vue");
    assert.ok(room.joinResponse.value !== null, "the ok reply is kept");
    assert.equal(room.error.value, null);
    assert.deepEqual(await seen.earlyPush, { rejected: { status: "not_joined", response: null } });

    // A push resolves with its reply; its broadcast reaches `messages` and the binding made before the join.
    assert.deepEqual(await room.push("new_msg", { body: "hello" }), { body: "hello" });
    await waitFor("the broadcast", () => room.messages.value.length === 1);
    const [message] = room.messages.value;
    assert.equal(message.event, "new_msg");
    assert.deepEqual(message.payload, { body: "hello" });
    assert.ok(Math.abs(message.at - Date.now()) < WAIT_MS, "`at` is Date.now() on arrival");
    await waitFor("the early binding", () => seen.early.length === 1);
    assert.deepEqual(seen.early, ["hello"]);

    // `keep` holds: the oldest are dropped, newest last.
    for (const n of [1, 2, 3, 4]) {
      await room.push("new_msg", { body: `m${n}` });
    }
    await waitFor("four more broadcasts", () => room.messages.value.at(-1)?.payload.body === "m4");
    assert.deepEqual(
      room.messages.value.map((entry) => entry.payload.body),
      ["m2", "m3", "m4"],
    );

    // `on` after the join, and its unsubscribe.
    const late = [];
    const off = room.on("new_msg", (payload) => late.push(payload.body));
    await room.push("new_msg", { body: "seen" });
    await waitFor("the late binding", () => late.length === 1);
    off();
    await room.push("new_msg", { body: "unseen" });
    await waitFor("the broadcast after off", () => room.messages.value.at(-1)?.payload.body === "unseen");
    assert.deepEqual(late, ["seen"]);
    assert.deepEqual(seen.early, ["hello", "m1", "m2", "m3", "m4", "seen", "unseen"]);

    // Failures reject with `{status, response}`.
    await assert.rejects(room.push("err", { reason: "nope" }), { status: "error", response: { reason: "nope" } });
    await assert.rejects(room.push("noreply", {}, 200), { status: "timeout" });

    // Presence lists the member.
    const presence = seen.presence;
    await waitFor("ada in the presence list", () => presence.list.value.length === 1);
    assert.equal(presence.list.value[0].id, "ada");
    assert.ok(presence.list.value[0].metas.length >= 1 && presence.list.value[0].metas[0].phx_ref);
    await nextTick();
    assert.equal(
      text(),
      "socket:made state:open stats:some connected:true channel:joined messages:3 presence:ada",
      "the page shows it",
    );

    // A new topic: the old one is left (its presence goes), the new one joined, the bindings carried over.
    const before = room.channel.value;
    config.topic.value = "room:vue2";
    const moved = () => room.channel.value?.topic === "room:vue2" && room.state.value === "joined";
    await waitFor("the join of the new topic", moved);
    assert.notEqual(room.channel.value, before);
    assert.deepEqual(room.messages.value, [], "messages are the topic's");
    await waitFor("the presence on the new topic", () => presence.list.value.length === 1);
    const lobby = async (topic) => (await fetch(`http://127.0.0.1:${relay.port}/api/presence/${topic}`)).json();
    for (let tries = 0; Object.keys(await lobby("room:vue")).length !== 0; tries += 1) {
      assert.ok(tries < WAIT_MS / 20, "the old topic was left");
      await sleep(20);
    }
    assert.deepEqual(Object.keys(await lobby("room:vue2")), ["ada"]);
    await room.push("new_msg", { body: "moved" });
    await waitFor("the broadcast on the new topic", () => room.messages.value.length === 1);
    await waitFor("the early binding on the new channel", () => seen.early.at(-1) === "moved");
    await waitForGauge("ferrocast_joined_channels", 1);
    await waitForGauge("ferrocast_connections", 1);
  } finally {
    app.unmount();
  }

  // Unmounted: the socket is disconnected, the channel left, the stats timer stopped; nothing pending.
  const { state, socket } = seen.socket;
  await waitFor("the socket to close", () => state.value === "closed");
  assert.equal(socket.value.connectionState(), "closed");
  assert.equal(seen.room.state.value, "closed");
  assert.equal(seen.room.channel.value, null);
  assert.equal(seen.presence.presence.value, null);
  await waitForGauge("ferrocast_connections", 0);
  await waitForGauge("ferrocast_joined_channels", 0);
  await sleep(100);
  assert.deepEqual(pendingTimers(), [], "timers left after unmounting");
  watching.live = null;
  assert.deepEqual(errors, []);
});

test("useEventStream reads /sse, keeps `max` events, follows its URL and stops when unmounted", async () => {
  const seen = {};
  const config = {
    endPoint: `ws://127.0.0.1:${relay.port}/socket`,
    socketOptions: { transport: WebSocket },
    room: false,
    streamUrl: ref(`http://127.0.0.1:${relay.port}/sse?topic=room:x`),
    max: 3,
  };
  const { app, errors, text } = mount(page(config, seen));
  try {
    const feed = seen.feed;
    assert.equal(feed.state.value, "connecting", "the stream opens when the component mounts");
    await waitFor("the stream to open", () => feed.state.value === "open");
    await waitFor("the subscription's id", () => feed.lastEventId.value !== "");
    await waitForGauge("ferrocast_connections", 2);

    await publish([1, 2, 3, 4, 5].map((n) => ({ topic: "room:x", event: "new_msg", payload: { n } })));
    await publish({ topic: "room:x", event: "other", payload: { n: 6 } });
    await waitFor("the five events", () => feed.events.value.at(-1)?.data.n === 5);
    assert.deepEqual(
      feed.events.value.map((entry) => entry.data.n),
      [3, 4, 5],
      "at most `max`, newest last; events not listened for are not kept",
    );
    const last = feed.events.value.at(-1);
    assert.equal(last.event, "new_msg");
    assert.equal(last.topic, "room:x");
    assert.match(last.lastEventId, /^\d+\./);
    assert.equal(typeof last.at, "number");
    assert.equal(feed.lastEventId.value, last.lastEventId, "`lastEventId` is the last event's");
    assert.equal(feed.error.value, null);
    await nextTick();
    assert.equal(text(), "socket:made state:open stats:some connected:true stream:open events:3");

    // Another URL: the stream is closed and one opened on the new topics.
    config.streamUrl.value = `http://127.0.0.1:${relay.port}/sse?topic=room:y`;
    await nextTick();
    assert.deepEqual(feed.events.value, []);
    await waitFor("the new stream to open", () => feed.state.value === "open");
    await publish([
      { topic: "room:x", event: "new_msg", payload: { n: 7 } },
      { topic: "room:y", event: "new_msg", payload: { n: 8 } },
    ]);
    await waitFor("the event on room:y", () => feed.events.value.length === 1);
    await sleep(100);
    assert.deepEqual(
      feed.events.value.map((entry) => [entry.topic, entry.data.n]),
      [["room:y", 8]],
    );
    await waitForGauge("ferrocast_connections", 2);

    // `close()` stops it.
    feed.close();
    assert.equal(feed.state.value, "closed");
    await waitForGauge("ferrocast_connections", 1);
    // And a refused stream reports why, finally.
    config.streamUrl.value = `http://127.0.0.1:${relay.port}/sse?topic=nowhere:1`;
    await waitFor("the refusal", () => feed.error.value !== null);
    assert.equal(feed.error.value.status, 404);
    assert.equal(feed.state.value, "closed");
    config.streamUrl.value = `http://127.0.0.1:${relay.port}/sse?topic=room:z`;
    await waitFor("the stream on room:z to open", () => feed.state.value === "open");
    assert.equal(feed.error.value, null);
  } finally {
    app.unmount();
  }
  assert.equal(seen.feed.state.value, "closed");
  await waitForGauge("ferrocast_connections", 0);
  await sleep(100);
  assert.deepEqual(pendingTimers(), [], "timers left after unmounting");
  watching.live = null;
  assert.deepEqual(errors, []);
});

test("a component unmounted before its socket opens leaves nothing behind", async () => {
  const seen = {};
  // Nothing listens here: the socket keeps retrying until it is disconnected.
  const config = {
    endPoint: `ws://127.0.0.1:9/socket`,
    socketOptions: { transport: WebSocket, statsIntervalMs: 20 },
    topic: computed(() => "room:never"),
    feed: false,
  };
  const { app, errors } = mount(page(config, seen));
  try {
    await waitFor("a failed attempt", () => seen.socket.stats.value?.reconnectAttempts >= 1);
    assert.notEqual(seen.socket.state.value, "open");
    assert.ok(seen.room.channel.value, "the channel is made while the socket tries");
    assert.notEqual(seen.room.state.value, "joined");
  } finally {
    app.unmount();
  }
  assert.equal(seen.socket.state.value, "closed");
  await sleep(100);
  assert.deepEqual(pendingTimers(), [], "timers left after unmounting");
  watching.live = null;
  assert.deepEqual(errors, []);
});

test("useChannel in the component that calls useSocket uses that socket", async () => {
  let socket;
  let room;
  const Both = {
    setup() {
      socket = useSocket(`ws://127.0.0.1:${relay.port}/socket`, { transport: WebSocket });
      room = useChannel("room:both", { user_id: "grace", no_presence: true });
      return () => h("p", room.state.value);
    },
  };
  const { app, errors, text } = mount(Both);
  try {
    await waitFor("the join", () => room.state.value === "joined");
    assert.equal(room.channel.value.topic, "room:both");
    assert.deepEqual(await room.push("ping", { n: 1 }), { n: 1 });
    await nextTick();
    assert.equal(text(), "joined");
  } finally {
    app.unmount();
  }
  await waitFor("the socket to close", () => socket.state.value === "closed");
  await waitForGauge("ferrocast_connections", 0);
  await sleep(100);
  assert.deepEqual(pendingTimers(), [], "timers left after unmounting");
  watching.live = null;
  assert.deepEqual(errors, []);
});

test("a socket on the event-stream socket and an event stream, each kept in a plain ref, work through it", async () => {
  // As a page ported from phoenix.js keeps its socket: `ref(new Socket(...))`, whose value is Vue's deep proxy. The
  // event-stream socket and EventStream keep their state in private fields, which a proxy cannot reach.
  const { EventStream } = await import("@ferrocast/client");
  const socket = ref(new Socket(`ws://127.0.0.1:${relay.port}/socket`, { transport: "sse" }));
  const stream = ref(new EventStream(`http://127.0.0.1:${relay.port}/sse?topic=room:refs`));
  socket.value.connect();
  await waitFor("the socket to open over server-sent events", () => socket.value.isConnected());
  const room = socket.value.channel("room:refs", { user_id: "ada", no_presence: true });
  const joined = await new Promise((resolve) => room.join().receive("ok", resolve));
  assert.ok(joined, "joined through the proxy");
  await waitFor("the stream to open", () => stream.value.readyState === 1);
  stream.value.close();
  assert.equal(stream.value.readyState, 2);
  await new Promise((resolve) => socket.value.disconnect(resolve));
  assert.equal(socket.value.connectionState(), "closed");
  await waitForGauge("ferrocast_connections", 0);
});
