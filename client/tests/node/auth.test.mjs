// The client against a relay that checks tokens (`--jwt-secret`): an async `authToken` function opens the
// WebSocket (a subprotocol) and the event-stream socket (an `Authorization: Bearer` header), and joins stay within
// the token's topics. Tokens are signed here with the relay's secret, as the application's backend would.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { has, Socket } from "./entry.mjs";

import { startRelay } from "../../../tests/support/relay-process.mjs";
import { signToken } from "../../../tests/support/tokens.mjs";

const SECRET = "the relay's secret, shared with the backend";
const WAIT_MS = 5000;

let relay;
before(async () => {
  relay = await startRelay(["--jwt-secret", SECRET]);
});
after(() => relay?.stop());

const sign = (claims) => signToken(claims, SECRET);

function joined(channel) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to the join of ${channel.topic}\n${relay.log()}`)), WAIT_MS);
    channel
      .join()
      .receive("ok", (response) => (clearTimeout(timer), resolve({ status: "ok", response })))
      .receive("error", (response) => (clearTimeout(timer), resolve({ status: "error", response })));
  });
}

for (const transport of ["websocket", "sse"]) {
  const skip = transport === "sse" && !has("SseSocket") && "this entry has no event-stream socket";
  test(`an async authToken opens the ${transport} socket, within the token's topics`, { skip }, async () => {
    let calls = 0;
    const authToken = async () => {
      calls += 1;
      return sign({ sub: "ada", topics: ["room:mine"] });
    };
    const socket = new Socket(`ws://127.0.0.1:${relay.port}/socket`, {
      transport: transport === "sse" ? "sse" : WebSocket,
      authToken,
    });
    socket.connect();
    try {
      assert.deepEqual(await joined(socket.channel("room:mine", { no_presence: true })), { status: "ok", response: {} });
      assert.deepEqual(await joined(socket.channel("room:theirs", { no_presence: true })), {
        status: "error",
        response: { reason: "unauthorized" },
      });
      assert.equal(calls, 1);
    } finally {
      socket.disconnect();
    }
  });
}

test("without a token the relay refuses the socket and says why in its log", async () => {
  const socket = new Socket(`ws://127.0.0.1:${relay.port}/socket`, { transport: WebSocket });
  const errored = new Promise((resolve) => socket.onError(resolve));
  let opened = false;
  socket.onOpen(() => (opened = true));
  socket.connect();
  await errored;
  socket.disconnect();
  assert.equal(opened, false);
  // The relay logs the refusal as it answers it; its output reaches this process a moment later.
  const deadline = Date.now() + WAIT_MS;
  while (!/missing token/.test(relay.log()) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.match(relay.log(), /missing token/);
});
