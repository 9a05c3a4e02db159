// `params` and `authToken` given as async functions: awaited again for every connection.

import { equal } from "../support/assert.mjs";
import { client } from "../support/client.mjs";
import { proxied } from "../support/endpoints.mjs";
import { proxy } from "../support/proxy.mjs";
import { test } from "../support/registry.mjs";
import { describe, Seen } from "../support/seen.mjs";

const { Socket } = client;

test("async params and authToken functions are awaited afresh for every connection", async () => {
  // A WebSocket class that records what each connection asked for, and async functions that count their calls.
  const Recording = class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      Recording.opened.push([new URL(url).searchParams.get("n"), protocols]);
    }
  };
  Recording.opened = [];
  let [paramsCalls, tokenCalls] = [0, 0];
  const socket = new Socket(proxied, {
    params: async () => ({ n: ++paramsCalls }),
    authToken: async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return `token ${++tokenCalls}`;
    },
    transport: Recording,
    backoff: { baseMs: 20, maxMs: 20, jitter: 0 },
  });
  const seen = new Seen();
  socket.onOpen(seen.recorder("open"));
  socket.connect();
  equal(socket.connectionState(), "connecting", "waiting for the values");
  await seen.waitFor("open");
  await proxy("cut");
  await seen.waitCount("open", 2);
  equal(
    describe(Recording.opened),
    '[["1",["phoenix","base64url.bearer.phx.dG9rZW4gMQ"]],["2",["phoenix","base64url.bearer.phx.dG9rZW4gMg"]]]',
    "each connection with the values of its own calls",
  );
  socket.disconnect();
});
