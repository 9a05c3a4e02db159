// Strings cross into the wasm as UTF-8 whatever JavaScript holds: a topic or event with a lone surrogate, which
// has no UTF-8 form, reaches the server with U+FFFD in its place, as `TextEncoder` writes it. The machine takes
// the strings the JavaScript layer writes as UTF-8 without checking them again (`client/src/boundary.rs`), so this
// is the contract that makes that sound. A payload is JSON text, where `JSON.stringify` escapes a lone surrogate,
// so it arrives as it was, as phoenix.js sends it. The server is a `ws` server that records the frames it gets and
// answers each one with a ref `ok`, as Phoenix answers a join.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket, { WebSocketServer } from "ws";

import { Socket } from "./entry.mjs";
import { until } from "./wait.mjs";

const frames = [];
const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
server.on("connection", (ws) =>
  ws.on("message", (data) => {
    const frame = JSON.parse(data.toString());
    frames.push(frame);
    const [joinRef, ref, topic] = frame;
    if (ref !== null) ws.send(JSON.stringify([joinRef, ref, topic, "phx_reply", { status: "ok", response: {} }]));
  }),
);
await new Promise((resolve) => server.once("listening", resolve));
after(() => {
  for (const client of server.clients) client.terminate();
  return new Promise((resolve) => server.close(resolve));
});

test("a lone surrogate in a topic or an event reaches the server as U+FFFD, and a payload keeps it", async () => {
  const socket = new Socket(`ws://127.0.0.1:${server.address().port}/socket`, { transport: WebSocket });
  socket.connect();
  const channel = socket.channel("room:\uD800a", { who: "b\uDC00" });
  channel.join();
  channel.push("new\uDBFF", { text: "\uDFFFc" });
  await until(() => frames.some(([, , , event]) => event.startsWith("new")), "the push reaches the server");
  socket.disconnect();

  const join = frames.find(([, , , event]) => event === "phx_join");
  const push = frames.find(([, , , event]) => event.startsWith("new"));
  assert.deepEqual(join.slice(2, 5), ["room:\uFFFDa", "phx_join", { who: "b\uDC00" }]);
  assert.deepEqual(push.slice(2, 5), ["room:\uFFFDa", "new\uFFFD", { text: "\uDFFFc" }]);
});
