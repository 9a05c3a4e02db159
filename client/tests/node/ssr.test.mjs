// @ferrocast/client under Node, the way Nuxt's server rendering meets it: the package is imported (through its
// `exports`, as a bundler's SSR build or Node resolves it) and sockets, channels and presences are created while
// the page renders, but nothing may touch `window`, `document`, `WebSocket` or a timer until `connect()`.
// Then, given a WebSocket (the `ws` package), the same module connects to a real relay.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { watchBrowserGlobals } from "./browser-globals.mjs";
import WebSocket from "ws";

import { startRelay } from "../../../tests/support/relay-process.mjs";

// Every browser global a careless client might reach for, and the timers, watched from before the import.
const touched = watchBrowserGlobals();
const timers = [];
for (const name of ["setTimeout", "setInterval", "queueMicrotask"]) {
  const original = globalThis[name];
  globalThis[name] = (...args) => {
    timers.push(name);
    return original(...args);
  };
}
const client = await import("@ferrocast/client");
const { Socket, Presence } = client;
const duringImport = { touched: [...touched], timers: [...timers] };

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

test("importing and rendering touches no browser global and sets no timer", () => {
  assert.deepEqual(duringImport, { touched: [], timers: [] }, "importing the module");
  // From here to the assertions nothing else runs (the test runner's own timers were set before).
  touched.length = 0;
  timers.length = 0;
  const socket = new Socket("/socket", { params: { token: "t" }, heartbeatIntervalMs: 30000 });
  const channel = socket.channel("room:ssr", { user_id: "ssr" });
  const presence = new Presence(channel);
  channel.on("new_msg", () => {});
  assert.equal(socket.connectionState(), "closed");
  assert.equal(socket.isConnected(), false);
  assert.equal(channel.state, "closed");
  assert.deepEqual(presence.list(), []);
  assert.equal(socket.getStats().queuedPushes, 0);
  assert.deepEqual(touched, [], `touched ${touched.join(", ")}`);
  assert.deepEqual(timers, [], `set ${timers.join(", ")}`);
});

test("the package resolves to the Node build under the node condition", async () => {
  const resolved = import.meta.resolve("@ferrocast/client");
  assert.match(resolved, /\/node\/ferrocast_client\.js$/);
  const pkg = (await import("@ferrocast/client/package.json", { with: { type: "json" } })).default;
  assert.equal(pkg.name, "@ferrocast/client");
  assert.ok(pkg.sideEffects, "bundlers are told which files have side effects");
});

test("errors are Error objects that say what was wrong", () => {
  assert.throws(() => new Socket("/socket", { timout: 5 }), { name: "Error", message: "unknown Socket option `timout`" });
  const socket = new Socket("/socket");
  const channel = socket.channel("room:errors", {});
  assert.throws(() => channel.push("new_msg", {}), /before joining: call join\(\) first/);
  channel.join();
  assert.throws(() => channel.join(), /twice/);
});

test("with a WebSocket given, the Node build connects, joins and gets replies", async () => {
  const socket = new Socket(`ws://127.0.0.1:${relay.port}/socket`, { transport: WebSocket });
  const opened = new Promise((resolve) => socket.onOpen(resolve));
  socket.connect();
  await opened;
  const channel = socket.channel("room:node", { user_id: "node" });
  const joined = new Promise((resolve, reject) => channel.join().receive("ok", resolve).receive("error", reject));
  assert.deepEqual(await joined, {});
  const pong = await new Promise((resolve) => channel.push("ping", { n: 42 }).receive("ok", resolve));
  assert.deepEqual(pong, { n: 42 });
  const bytes = await new Promise((resolve) => channel.push("ping", new Uint8Array([1, 2, 3]).buffer).receive("ok", resolve));
  assert.ok(bytes instanceof ArrayBuffer, `a binary reply is an ArrayBuffer, got ${bytes}`);
  assert.deepEqual([...new Uint8Array(bytes)], [1, 2, 3]);
  await new Promise((resolve) => socket.disconnect(resolve));
  assert.equal(socket.connectionState(), "closed");
});

test("the relay serves the no-bundler build at /ferrocast/ for plain pages", async () => {
  const web = new URL("../../pkg/web/", import.meta.url).pathname;
  const served = await startRelay(["--client-dir", web]);
  try {
    const script = await fetch(`http://127.0.0.1:${served.port}/ferrocast/ferrocast_client.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get("content-type"), /javascript/);
    // The ES module with its init functions, `init` as its default export and `initSync`, minified as shipped.
    const exported = (await script.text()).match(/export ?\{([^}]*)\}/)?.[1] ?? "";
    assert.match(exported, /\bas default\b/);
    assert.match(exported, /\binitSync\b/);
    const wasm = await fetch(`http://127.0.0.1:${served.port}/ferrocast/ferrocast_client_bg.wasm`);
    assert.equal(wasm.headers.get("content-type"), "application/wasm", "so browsers can compile it while it streams");
    assert.ok(WebAssembly.validate(new Uint8Array(await wasm.arrayBuffer())));
  } finally {
    await served.stop();
  }
});
