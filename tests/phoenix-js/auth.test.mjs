// The official phoenix.js client against a relay that checks tokens (`--jwt-secret`): phoenix.js 1.7.21 passes
// its token as a connect param, 1.8 as `authToken` (a WebSocket subprotocol). Tokens are signed here with the same
// secret, as an application's backend would sign them.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Socket as Socket17 } from "phoenix";
import { Socket as Socket18 } from "phoenix-1.8";
import WebSocket from "ws";

import { startRelay } from "../support/relay-process.mjs";
import { signToken } from "../support/tokens.mjs";

const SECRET = "a secret the relay and the application's backend share";
const WAIT_MS = 3000;

let relay = null;
before(async () => {
  relay = await startRelay(["--jwt-secret", SECRET]);
});
after(() => relay?.stop());

/** A token for the relay's secret (or `secret`), expiring in `expiresIn` seconds. */
function sign(claims, { secret = SECRET, expiresIn = 600 } = {}) {
  return signToken(claims, secret, { expiresIn });
}

function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}\n${relay.log()}`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The join's outcome: `{status, response}`. */
function joined(channel) {
  return within(
    new Promise((resolve) => {
      channel
        .join()
        .receive("ok", (response) => resolve({ status: "ok", response }))
        .receive("error", (response) => resolve({ status: "error", response }))
        .receive("timeout", () => resolve({ status: "timeout" }));
    }),
    `the join of ${channel.topic}`,
  );
}

function socketOf(SocketClass, opts) {
  const socket = new SocketClass(`ws://127.0.0.1:${relay.port}/socket`, {
    transport: WebSocket,
    reconnectAfterMs: () => 60_000,
    ...opts,
  });
  return socket;
}

test("phoenix.js 1.8's authToken opens the socket, and joins stay within the token's topics", async () => {
  const socket = socketOf(Socket18, { authToken: sign({ sub: "ada", topics: ["room:auth-*"] }) });
  socket.connect();
  try {
    assert.deepEqual(await joined(socket.channel("room:auth-a", { no_presence: true })), { status: "ok", response: {} });
    assert.deepEqual(await joined(socket.channel("room:elsewhere", {})), {
      status: "error",
      response: { reason: "unauthorized" },
    });
  } finally {
    socket.disconnect();
  }
});

test("phoenix.js 1.7's token param works the same, and presence knows the token's user", async () => {
  const socket = socketOf(Socket17, { params: { token: sign({ sub: "grace", topics: ["room:*"] }) } });
  socket.connect();
  try {
    const channel = socket.channel("room:auth-presence", { user_id: "not grace" });
    const state = new Promise((resolve) => channel.on("presence_state", resolve));
    assert.equal((await joined(channel)).status, "ok");
    assert.deepEqual(Object.keys(await within(state, "presence_state")), ["grace"]);
  } finally {
    socket.disconnect();
  }
});

test("an expired or forged token never opens a socket: phoenix.js sees errors, never an open", async () => {
  for (const token of [
    sign({ sub: "ada", topics: ["room:*"] }, { expiresIn: -3600 }),
    sign({ sub: "ada", topics: ["room:*"] }, { secret: "someone else's secret" }),
  ]) {
    const socket = socketOf(Socket18, { authToken: token });
    let opened = false;
    const errored = new Promise((resolve) => socket.onError(resolve));
    socket.onOpen(() => {
      opened = true;
    });
    socket.connect();
    await within(errored, "the refused socket's error");
    socket.disconnect();
    assert.equal(opened, false);
  }
  // The refusals are counted, with their reasons in the relay's log.
  const metrics = await (await fetch(`http://127.0.0.1:${relay.port}/metrics`)).text();
  assert.match(metrics, /ferrocast_refused_tokens_total [2-9]/);
  // The relay logs each refusal as it answers it; its output reaches this process a moment later.
  const deadline = Date.now() + WAIT_MS;
  while (!/token expired[\s\S]*invalid token signature/.test(relay.log()) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.match(relay.log(), /token expired/);
  assert.match(relay.log(), /invalid token signature/);
});
