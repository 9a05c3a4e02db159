// phoenix.js's `reconnectAfterMs(tries)` and `rejoinAfterMs(tries)`: the socket asks them for every delay, with the
// attempt's number; a function that throws or gives no number counts as one second; one that calls back into a
// socket gets the same second, and the socket keeps working. The functions stay in JavaScript (the wasm asks them
// by key), so these tests also hold two sockets with different functions apart.
//
// The server is a small `ws` server that accepts connections and, unless told to answer, never replies, so a join
// times out and is retried; refused connections come from a port nothing listens on.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import WebSocket, { WebSocketServer } from "ws";

import { Socket } from "./entry.mjs";
import { until } from "./wait.mjs";

/** A port nothing listens on: connections to it are refused at once. */
async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `ws://127.0.0.1:${port}/socket`;
}

const servers = [];
after(async () => {
  for (const server of servers) {
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A server that keeps connections open and answers only heartbeats: joins time out. */
async function silentServer() {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: () => "phoenix" });
  server.on("connection", (ws) => {
    ws.on("message", (data) => {
      const [joinRef, ref, topic, event] = JSON.parse(data.toString());
      if (event === "heartbeat") ws.send(JSON.stringify([joinRef, ref, topic, "phx_reply", { status: "ok", response: {} }]));
    });
  });
  await new Promise((resolve) => server.once("listening", resolve));
  servers.push(server);
  return `ws://127.0.0.1:${server.address().port}/socket`;
}

test("reconnectAfterMs is asked for every reconnect, with the attempt's number, and sets its delay", async () => {
  const url = await closedPort();
  const tries = [];
  const socket = new Socket(url, {
    transport: WebSocket,
    reconnectAfterMs: (n) => {
      tries.push(n);
      return 30;
    },
  });
  socket.connect();
  await until(() => tries.length >= 1, "the first reconnect");
  assert.ok(socket.getStats().nextRetryInMs <= 30, `next retry in ${socket.getStats().nextRetryInMs} ms`);
  await until(() => tries.length >= 3, "three reconnects");
  assert.deepEqual(tries.slice(0, 3), [1, 2, 3]);
  socket.disconnect();
});

test("a reconnectAfterMs that throws, gives no number or calls its socket waits one second", async () => {
  const url = await closedPort();
  let socket;
  for (const [what, reconnectAfterMs] of [
    ["throws", () => {
      throw new Error("boom");
    }],
    ["gives a string", () => "30"],
    ["gives a negative number", () => -5],
    ["calls its socket", () => socket.getStats().reconnectAttempts],
  ]) {
    let asked = 0;
    socket = new Socket(url, { transport: WebSocket, reconnectAfterMs: (n) => (asked++, reconnectAfterMs(n)) });
    socket.connect();
    await until(() => asked === 1, `the first reconnect (${what})`);
    const { nextRetryInMs, state } = socket.getStats();
    assert.ok(nextRetryInMs > 900 && nextRetryInMs <= 1000, `${what}: next retry in ${nextRetryInMs} ms`);
    assert.equal(state, "closed", what);
    socket.disconnect();
  }
});

test("rejoinAfterMs is asked for every rejoin after a join times out, and two sockets keep their own functions", async () => {
  const url = await silentServer();
  const asked = { a: [], b: [] };
  const sockets = ["a", "b"].map((name) => {
    const socket = new Socket(url, {
      transport: WebSocket,
      timeout: 40,
      rejoinAfterMs: (n) => {
        asked[name].push(n);
        return 10;
      },
    });
    socket.connect();
    socket.channel(`room:${name}`).join();
    return socket;
  });
  await until(() => asked.a.length >= 2 && asked.b.length >= 2, "two rejoins on each socket");
  assert.deepEqual(asked.a.slice(0, 2), [1, 2]);
  assert.deepEqual(asked.b.slice(0, 2), [1, 2]);
  for (const socket of sockets) socket.disconnect();
});
