// The core with the entries a page adds beside it, as Node resolves them (a Nuxt page's server rendering, or a
// script): `@ferrocast/client/presence` and `@ferrocast/client/sse` are Node builds of their own, importing them
// touches no browser global, `Presence` works with the core's channels, and the core's sockets get the
// event-stream socket only once `@ferrocast/client/sse` is imported. Their behaviour in a page is the browser
// suite's (`client/tests/browser`, which runs the full suite on `web-core+web-presence+web-sse`).

import { test } from "node:test";
import assert from "node:assert/strict";
import { watchBrowserGlobals } from "./browser-globals.mjs";

const touched = watchBrowserGlobals();

test("each entry resolves to its own Node build", () => {
  for (const entry of ["core", "presence", "sse"]) {
    assert.match(import.meta.resolve(`@ferrocast/client/${entry}`), new RegExp(`/${entry}/node/ferrocast_client\\.js$`));
  }
});

test("a core page adds Presence and the event-stream socket by importing their entries", async () => {
  const { Socket } = await import("@ferrocast/client/core");
  assert.throws(() => new Socket("/socket", { transport: "sse" }), /import @ferrocast\/client, or @ferrocast\/client\/sse/);

  const { Presence } = await import("@ferrocast/client/presence");
  const channel = new Socket("/socket").channel("room:entries", {});
  const presence = new Presence(channel);
  assert.deepEqual(presence.list(), [], "a core channel's presence, before any state");

  const sse = await import("@ferrocast/client/sse");
  assert.equal(typeof sse.EventStream, "function");
  assert.equal(typeof sse.SseSocket, "function");
  const socket = new Socket("/socket", { transport: "sse" });
  assert.equal(socket.connectionState(), "closed", "a socket over the event-stream socket, not connected yet");
  assert.deepEqual(touched, [], `touched ${touched.join(", ")}`);
});
