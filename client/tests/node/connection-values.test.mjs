// The `params` and `authToken` options as values, functions and async functions: the functions are called again
// for every connection attempt, the connection opens only once their values are ready, a function that fails
// fails that attempt as a refused connection does (and the next attempt calls it again), and an attempt made
// stale by `disconnect()` opens nothing. EventStream's `headers` function likewise, for every request.
//
// The server is a small `ws` server in this file, so each connection's query and subprotocols can be read and
// connections closed on demand; it answers every frame that has a ref with `ok`, as a Phoenix server answers joins
// and heartbeats. The event streams come from a small `node:http` server that ends every stream after one event.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket, { WebSocketServer } from "ws";

import http from "node:http";

import { client, has, Socket } from "./entry.mjs";
import { sleep, until } from "./wait.mjs";

const { EventStream } = client;
const eventStreams = { skip: has("EventStream") ? false : "this entry has no EventStream" };

/** A server recording every connection; connection number `n` (from 1) is closed at once unless `keepOpen(n)`. */
async function startServer({ keepOpen = () => true } = {}) {
  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    handleProtocols: (protocols) => (protocols.has("phoenix") ? "phoenix" : false),
  });
  const connections = [];
  server.on("connection", (ws, request) => {
    const query = new URL(request.url, "http://server").searchParams;
    const protocols = request.headers["sec-websocket-protocol"]?.split(/,\s*/) ?? [];
    const connection = { query, protocols, frames: [] };
    connections.push(connection);
    ws.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      connection.frames.push(frame);
      const [joinRef, ref, topic] = frame;
      if (ref !== null) ws.send(JSON.stringify([joinRef, ref, topic, "phx_reply", { status: "ok", response: {} }]));
    });
    if (!keepOpen(connections.length)) ws.close(4000, "forced reconnect");
  });
  await new Promise((resolve) => server.once("listening", resolve));
  servers.push(server);
  return { url: `ws://127.0.0.1:${server.address().port}/socket`, connections };
}

const servers = [];
after(async () => {
  for (const server of servers) {
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Fast, fixed reconnects, so a test sees several connections quickly. */
const FAST = { transport: WebSocket, backoff: { baseMs: 20, maxMs: 20, jitter: 0 } };

/** The subprotocols a connection with `token` asks for, as phoenix.js 1.8 writes them. */
const withToken = (token) => ["phoenix", `base64url.bearer.phx.${Buffer.from(token).toString("base64url")}`];

function disconnected(socket) {
  return new Promise((resolve) => socket.disconnect(resolve));
}

test("async params and authToken functions are called once per connection, each with fresh values", async () => {
  const server = await startServer({ keepOpen: (n) => n === 3 });
  let paramsCalls = 0;
  let tokenCalls = 0;
  const socket = new Socket(server.url, {
    ...FAST,
    params: async () => {
      paramsCalls += 1;
      await sleep(5);
      return { user: `u${paramsCalls}` };
    },
    authToken: async () => {
      tokenCalls += 1;
      await sleep(10);
      return `token ${tokenCalls}`;
    },
  });
  let opens = 0;
  socket.onOpen(() => (opens += 1));
  socket.connect();
  assert.equal(server.connections.length, 0, "nothing opens before the values are ready");
  await until(() => opens === 3, "the third connection");
  assert.deepEqual(
    server.connections.map(({ query }) => query.get("user")),
    ["u1", "u2", "u3"],
  );
  assert.deepEqual(
    server.connections.map(({ protocols }) => protocols),
    [withToken("token 1"), withToken("token 2"), withToken("token 3")],
  );
  assert.deepEqual([paramsCalls, tokenCalls], [3, 3], "one call of each per connection");
  const ids = new Set(server.connections.map(({ query }) => query.get("ferrocast_sid")));
  assert.equal(ids.size, 1, "the socket's identity stays the same across reconnects");
  await disconnected(socket);
});

test("plain values and sync functions still open at once", async () => {
  const server = await startServer();
  let constructed = 0;
  const Counting = class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      constructed += 1;
    }
  };
  const options = { ...FAST, transport: Counting, params: () => ({ user: "sync" }), authToken: "plain" };
  const socket = new Socket(server.url, options);
  const opened = new Promise((resolve) => socket.onOpen(resolve));
  socket.connect();
  assert.equal(constructed, 1, "the WebSocket is made within connect(), as phoenix.js makes it");
  await opened;
  assert.equal(server.connections[0].query.get("user"), "sync");
  assert.deepEqual(server.connections[0].protocols, withToken("plain"));
  await disconnected(socket);
});

test("a rejected promise fails the attempt: onError and the logger hear it, the retry calls again, pushes wait", async () => {
  const server = await startServer();
  let calls = 0;
  let paramsCalls = 0;
  const logged = [];
  const socket = new Socket(server.url, {
    ...FAST,
    params: async () => ({ attempt: (paramsCalls += 1) }),
    authToken: async () => {
      calls += 1;
      if (calls === 1) throw new Error("token service down");
      return "fresh";
    },
    logger: (kind, message) => logged.push(`${kind}: ${message}`),
  });
  const errors = [];
  const closes = [];
  socket.onError((error) => errors.push(error));
  socket.onClose((event) => closes.push(event));
  const channel = socket.channel("room:queued", {});
  channel.join();
  const replied = new Promise((resolve) => channel.push("new_msg", { body: "made offline" }).receive("ok", resolve));
  const opened = new Promise((resolve) => socket.onOpen(resolve));
  socket.connect();
  await until(() => errors.length === 1, "the failed attempt");
  assert.equal(errors[0].message, "token service down", "onError gets the rejection");
  assert.equal(closes[0].code, 1006);
  assert.equal(server.connections.length, 0, "the failed attempt opened nothing");
  assert.equal(socket.getStats().queuedPushes, 1, "the push made offline is still queued");
  assert.ok(logged.includes("transport: error"), logged.join("\n"));
  assert.ok(logged.some((line) => /^transport: reconnect attempt 1 in 20 ms$/.test(line)), logged.join("\n"));

  await opened;
  assert.equal(calls, 2);
  assert.equal(server.connections.length, 1);
  assert.deepEqual(server.connections[0].protocols, withToken("fresh"), "the retry's token");
  assert.equal(server.connections[0].query.get("attempt"), "2", "the retry's params");
  await replied;
  const events = server.connections[0].frames.map((frame) => `${frame[2]} ${frame[3]}`);
  assert.deepEqual(events.slice(0, 2), ["room:queued phx_join", "room:queued new_msg"], "the join, then the push");
  await disconnected(socket);
});

test("a function that throws, or a value of the wrong type, fails the attempt with a clear error", async () => {
  const server = await startServer();
  let calls = 0;
  let paramsCalls = 0;
  const socket = new Socket(server.url, {
    ...FAST,
    authToken: () => {
      calls += 1;
      if (calls === 1) throw new Error("no session");
      if (calls === 2) return Promise.resolve(42);
      return "at last";
    },
    params: () => ((paramsCalls += 1) === 3 ? "user=1" : { user: 1 }),
  });
  const errors = [];
  socket.onError((error) => errors.push(error.message));
  const opened = new Promise((resolve) => socket.onOpen(resolve));
  socket.connect();
  await until(() => errors.length === 3, "three failed attempts");
  assert.deepEqual(errors, [
    "no session",
    "Socket option `authToken` must give a string (or nothing)",
    "Socket option `params` must give an object (or nothing)",
  ]);
  await opened;
  assert.equal(calls, 4);
  assert.equal(server.connections.length, 1);
  assert.deepEqual(server.connections[0].protocols, withToken("at last"));
  await disconnected(socket);

  assert.throws(() => new Socket(server.url, { authToken: 5 }), {
    message: "Socket option `authToken` must be a string or a function returning one (or a promise of one)",
  });
});

test("disconnect while a promise is pending opens nothing, and a newer connect uses only its own values", async () => {
  const server = await startServer();
  const pending = [];
  const socket = new Socket(server.url, {
    ...FAST,
    params: () => new Promise((resolve) => pending.push(resolve)),
  });
  let opens = 0;
  let errors = 0;
  socket.onOpen(() => (opens += 1));
  socket.onError(() => (errors += 1));
  socket.connect();
  await until(() => pending.length === 1, "the params call");
  await disconnected(socket);
  assert.equal(socket.connectionState(), "closed");
  pending[0]({ call: 1 });
  await sleep(100);
  assert.deepEqual([server.connections.length, opens, errors], [0, 0, 0], "the stale values opened nothing");
  assert.equal(socket.connectionState(), "closed");

  // Disconnect and connect again while the call is pending: the first call's values, though they come while the
  // newer attempt is still waiting, are not the newer attempt's and are ignored.
  socket.connect();
  await until(() => pending.length === 2, "the second params call");
  socket.disconnect();
  socket.connect();
  await until(() => pending.length === 3, "the third params call");
  pending[1]({ call: 2 });
  await sleep(100);
  assert.deepEqual([server.connections.length, opens], [0, 0], "the superseded call's values opened nothing");
  assert.equal(socket.connectionState(), "connecting", "the newer attempt still waits for its values");
  pending[2]({ call: 3 });
  await until(() => opens === 1, "the connection");
  await sleep(50);
  assert.deepEqual(
    server.connections.map(({ query }) => query.get("call")),
    ["3"],
  );
  await disconnected(socket);
});

test("disconnect while the connection is still opening lets it go quietly, even under Node's ws", async () => {
  // A server that accepts TCP and never answers the upgrade: the connection stays opening until disconnect().
  // Closing it then makes `ws` emit an error, which it throws when nobody listens, ending the process.
  const { createServer } = await import("node:net");
  const held = [];
  const silent = createServer((connection) => held.push(connection));
  await new Promise((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const errors = [];
  const socket = new Socket(`ws://127.0.0.1:${silent.address().port}/socket`, { transport: WebSocket });
  socket.onError((error) => errors.push(error));
  socket.connect();
  while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(socket.connectionState(), "connecting");
  socket.disconnect();
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(socket.connectionState(), "closed");
  assert.deepEqual(errors, [], "a connection the socket let go of reports nothing");
  held.forEach((connection) => connection.destroy());
  silent.close();
});

/** An event-stream server: every request is recorded, gets one event (its number) and ends, so the client
 * reconnects; `refuse(n)` answers request `n` (from 1) with 401 instead. */
async function startStreamServer({ refuse = () => false } = {}) {
  const requests = [];
  const server = http.createServer((request, response) => {
    requests.push({ url: request.url, authorization: request.headers.authorization, accept: request.headers.accept });
    const n = requests.length;
    if (refuse(n)) {
      response.writeHead(401, { "content-type": "text/plain" }).end("token expired");
      return;
    }
    response.writeHead(200, { "content-type": "text/event-stream" });
    response.end(`id: ${n}\ndata: {"n":${n}}\n\n`);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  streamServers.push(server);
  return { url: `http://127.0.0.1:${server.address().port}/sse?topic=room:a`, requests };
}

const streamServers = [];
after(async () => {
  for (const server of streamServers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** The first `count` events' data (`n`), and what `onError` heard meanwhile. */
function eventsOf(stream, count) {
  const events = [];
  const errors = [];
  stream.onError((error) => errors.push(error));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${events.length} of ${count} events: ${JSON.stringify(errors)}`)), WAIT_MS);
    stream.on("message", (data) => {
      events.push(data.n);
      if (events.length === count) {
        clearTimeout(timer);
        resolve({ events, errors });
      }
    });
  });
}

const FAST_STREAM = { baseMs: 5, maxMs: 10 };
const WAIT_MS = 5000;

test("an async headers function is called before every request of an EventStream, so a reconnect gets a fresh token", eventStreams, async () => {
  const { url, requests } = await startStreamServer();
  let calls = 0;
  const headers = async () => {
    calls += 1;
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { authorization: `Bearer token-${calls}` };
  };
  const stream = new EventStream(url, { headers, backoff: FAST_STREAM });
  try {
    const { events } = await eventsOf(stream, 3);
    assert.deepEqual(events, [1, 2, 3]);
    assert.deepEqual(
      requests.slice(0, 3).map((request) => request.authorization),
      ["Bearer token-1", "Bearer token-2", "Bearer token-3"],
    );
    assert.ok(requests.every((request) => request.accept === "text/event-stream"), JSON.stringify(requests));
    assert.match(requests[1].url, /lastEventId=1$/, "a reconnect resumes from the last id");
  } finally {
    stream.close();
  }
});

test("a headers function that throws, rejects or gives no object fails that request: onError, then it is called again", eventStreams, async () => {
  const { url, requests } = await startStreamServer();
  let calls = 0;
  const headers = () => {
    calls += 1;
    if (calls === 1) throw new Error("no token yet");
    if (calls === 2) return Promise.reject(new Error("the token service is down"));
    if (calls === 3) return "Bearer in a string";
    return { authorization: "Bearer fine" };
  };
  const stream = new EventStream(url, { headers, backoff: FAST_STREAM });
  try {
    const { events, errors } = await eventsOf(stream, 1);
    assert.deepEqual(events, [1]);
    assert.deepEqual(
      errors.map((error) => [error.status, error.message]),
      [
        [0, "EventStream option `headers` failed: no token yet"],
        [0, "EventStream option `headers` failed: the token service is down"],
        [0, "EventStream option `headers` must be an object"],
      ],
    );
    assert.deepEqual(requests.map((request) => request.authorization), ["Bearer fine"], "no request without headers");
  } finally {
    stream.close();
  }
});

test("a refusal stays final with a headers function, and close() while it is pending sends nothing", eventStreams, async () => {
  const { url, requests } = await startStreamServer({ refuse: () => true });
  const refused = new EventStream(url, { headers: () => ({ authorization: "Bearer old" }), backoff: FAST_STREAM });
  const error = await new Promise((resolve) => refused.onError(resolve));
  assert.deepEqual([error.status, error.message, refused.readyState], [401, "token expired", 2]);

  let release;
  const pending = new EventStream(url, { headers: () => new Promise((resolve) => (release = resolve)) });
  await new Promise((resolve) => setTimeout(resolve, 20));
  pending.close();
  release({ authorization: "Bearer late" });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(requests.map((request) => request.authorization), ["Bearer old"], "the late value opened nothing");
  assert.equal(pending.readyState, 2);
});
