// End-to-end tests: the official phoenix.js client (npm phoenix@1.7.21, `ws` as its WebSocket) against the
// Ferrocast relay, used the way an application would use it.
//
// The expected behaviour is the reference Phoenix server's, recorded frame by frame in
// shared/protocol/phoenix-wire-transcripts.md. Each test uses its own topics, so the tests are independent.
//
// The relay runs as a child process (../support/relay-process.mjs). Run: `node --test relay.test.mjs`.
//
// When a test fails, the WebSocket frames it saw (and phoenix.js's transport and channel log lines) are printed
// under it as diagnostics, so a relay bug can be read off the wire. FERROCAST_TEST_FRAMES=1 prints them for
// passing tests too.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

import { Presence, Socket } from "phoenix";
import WebSocket from "ws";

import { startRelay } from "../support/relay-process.mjs";


/** How long any single wait may take before the test fails instead of hanging. */
const WAIT_MS = 3000;
/** phoenix.js's own push and join timeout; shorter than WAIT_MS so its "timeout" hook fires first. */
const PUSH_TIMEOUT_MS = 2500;
/** Print every test's frames, not only a failing test's. */
const SHOW_FRAMES = process.env.FERROCAST_TEST_FRAMES === "1";

// ---------------------------------------------------------------------------------------------------------------
// The relay process

let relay = null;
let relayPort = 0;
const relayLog = () => relay?.log() ?? "";

before(async () => {
  relay = await startRelay();
  relayPort = relay.port;
});

after(() => relay?.stop());

// ---------------------------------------------------------------------------------------------------------------
// Waiting, with a timeout on every wait

/** Races `promise` against a timer; the error says what was being waited for. */
async function within(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `predicate` until it returns something truthy, which is returned. */
async function waitFor(predicate, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = predicate();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${typeof what === "function" ? what() : what}`);
    }
    await sleep(10);
  }
}

/** The first reply to a push (a join, a leave or an event), as `{status, response}`; "timeout" rejects. */
function reply(push, what) {
  const settled = new Promise((resolve, reject) => {
    let done = false;
    const once = (fn) => (value) => {
      if (!done) {
        done = true;
        fn(value);
      }
    };
    push
      .receive("ok", once((response) => resolve({ status: "ok", response })))
      .receive("error", once((response) => resolve({ status: "error", response })))
      .receive("timeout", once(() => reject(new Error(`phoenix.js gave up waiting for the reply to ${what}`))));
  });
  return within(settled, `the reply to ${what}`);
}

/** Joins `channel` and resolves with the join response; an error reply or a timeout rejects, saying which. */
async function join(channel) {
  const { status, response } = await reply(channel.join(), `the join of ${channel.topic}`);
  if (status !== "ok") {
    throw new Error(`join of ${channel.topic} was refused: ${status} ${JSON.stringify(response)}`);
  }
  return response;
}

// ---------------------------------------------------------------------------------------------------------------
// Per-test context: phoenix.js sockets with their frames recorded, closed at the end of the test

function show(data) {
  if (typeof data === "string") {
    return data;
  }
  const bytes = Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
  return `BINARY[${bytes.length}] hex=${bytes.toString("hex")}`;
}

class Context {
  constructor(t) {
    this.t = t;
    this.start = Date.now();
    this.lines = [];
    this.sockets = [];
    this.cleanups = [];
  }

  note(line) {
    this.lines.push(`[+${String(Date.now() - this.start).padStart(5)}ms] ${line}`);
  }

  /** A phoenix.js Socket (not yet connected) whose WebSocket records every frame under `name`. */
  socket(name, { url = `ws://127.0.0.1:${relayPort}/socket`, ...options } = {}) {
    const context = this;
    class RecordingWebSocket extends WebSocket {
      constructor(address, ...rest) {
        super(address, ...rest);
        context.note(`${name} ** open ${address}`);
        this.addEventListener("message", (event) => context.note(`${name} <- ${show(event.data)}`));
        this.addEventListener("close", (event) => context.note(`${name} ** closed code=${event.code}`));
      }

      send(data, ...rest) {
        context.note(`${name} -> ${show(data)}`);
        return super.send(data, ...rest);
      }
    }
    const socket = new Socket(url, {
      transport: RecordingWebSocket,
      timeout: PUSH_TIMEOUT_MS,
      heartbeatIntervalMs: 30000,
      reconnectAfterMs: () => 50,
      rejoinAfterMs: () => 200,
      logger: (kind, msg) => {
        if (kind === "transport" || kind === "channel") {
          context.note(`${name} [phoenix.js ${kind}] ${msg}`);
        }
      },
      ...options,
    });
    this.sockets.push(socket);
    return socket;
  }

  /** A socket as `socket()` makes it, connected. */
  async connect(name, options) {
    const socket = this.socket(name, options);
    const opened = new Promise((resolve) => socket.onOpen(resolve));
    socket.connect();
    await within(opened, `socket ${name} to open`);
    return socket;
  }

  async close() {
    for (const cleanup of this.cleanups.reverse()) {
      await cleanup();
    }
    await Promise.all(
      this.sockets.map((socket) =>
        within(new Promise((resolve) => socket.disconnect(resolve)), "a socket to disconnect").catch(() => {}),
      ),
    );
  }

  dump() {
    this.t.diagnostic("--- frames observed (-> sent by phoenix.js, <- sent by the relay) ---");
    for (const line of this.lines) {
      this.t.diagnostic(line);
    }
  }
}

/** A `test` with a Context; on failure the recorded frames are printed under the test. */
function scenario(name, body) {
  test(name, async (t) => {
    const context = new Context(t);
    try {
      await body(context);
      if (SHOW_FRAMES) {
        context.dump();
      }
    } catch (err) {
      context.dump();
      throw err;
    } finally {
      await context.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

async function httpJson(method, route, body) {
  const init = { method, signal: AbortSignal.timeout(WAIT_MS) };
  if (body !== undefined) {
    init.headers = { "content-type": "application/json" };
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`http://127.0.0.1:${relayPort}${route}`, init);
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    assert.fail(`${method} ${route} answered ${response.status} with a body that is not JSON: ${text}`);
  }
  return { status: response.status, json };
}

/** Polls GET `route` until `predicate({status, json})` holds; the timeout error shows the last answer. */
async function pollHttp(route, predicate, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const answer = await httpJson("GET", route);
    if (predicate(answer)) {
      return answer;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}; GET ${route} last said ${JSON.stringify(answer)}`);
    }
    await sleep(50);
  }
}

function assertPresenceMeta(meta, where) {
  assert.deepEqual(Object.keys(meta).sort(), ["online_at", "phx_ref"], `${where}: meta keys`);
  assert.ok(Number.isInteger(meta.online_at), `${where}: online_at is an integer, got ${meta.online_at}`);
  assert.equal(typeof meta.phx_ref, "string", `${where}: phx_ref is a string`);
  assert.ok(meta.phx_ref.length > 0, `${where}: phx_ref is not empty`);
}

// ---------------------------------------------------------------------------------------------------------------
// The scenarios

scenario("1. join room:lobby replies ok {} and pushes presence_state with the joiner", async (ctx) => {
  const socket = await ctx.connect("A");
  const channel = socket.channel("room:lobby", { user_id: "u1" });
  const states = [];
  const diffs = [];
  channel.on("presence_state", (state) => states.push(state));
  channel.on("presence_diff", (diff) => diffs.push(diff));

  assert.deepEqual(await join(channel), {});

  const [state] = await waitFor(() => states.length > 0 && states, "presence_state");
  assert.deepEqual(Object.keys(state), ["u1"], "presence_state keys");
  assert.equal(state.u1.metas.length, 1, "u1 has one meta");
  assertPresenceMeta(state.u1.metas[0], "presence_state u1");

  // The own join is also broadcast as a presence_diff (before or after presence_state).
  const diff = await waitFor(() => diffs.find((d) => d.joins && d.joins.u1), "a presence_diff joining u1");
  assert.deepEqual(diff.leaves, {}, "the join diff leaves nobody");
  assert.deepEqual(Object.keys(diff.joins), ["u1"]);
  assert.equal(diff.joins.u1.metas.length, 1);
  assert.deepEqual(diff.joins.u1.metas[0], state.u1.metas[0], "diff and state carry the same meta");
  assert.equal(states.length, 1, "exactly one presence_state");
});

scenario("2. ping replies ok with the same JSON payload, and a binary payload with the same bytes", async (ctx) => {
  const socket = await ctx.connect("A");
  const channel = socket.channel("room:ping-2", { no_presence: true });
  assert.deepEqual(await join(channel), {});

  const payload = { hello: "world", n: 1, nested: { list: [1, "two", null, true], empty: {} }, text: "é ✓" };
  assert.deepEqual(await reply(channel.push("ping", payload), "ping (JSON)"), { status: "ok", response: payload });

  const bytes = Uint8Array.from([1, 2, 3, 255]);
  const binary = await reply(channel.push("ping", bytes.buffer), "ping (binary)");
  assert.equal(binary.status, "ok");
  assert.ok(
    binary.response instanceof ArrayBuffer,
    `a binary push is answered with a binary reply, which phoenix.js hands over as an ArrayBuffer; got ${JSON.stringify(binary.response)}`,
  );
  assert.deepEqual([...new Uint8Array(binary.response)], [1, 2, 3, 255]);

  // JSON still works on the same channel after a binary exchange.
  assert.deepEqual(await reply(channel.push("ping", { after: "binary" }), "ping after binary"), {
    status: "ok",
    response: { after: "binary" },
  });
});

scenario("3. new_msg is broadcast to every member and replied ok to the sender", async (ctx) => {
  const a = await ctx.connect("A");
  const b = await ctx.connect("B");
  const topic = "room:chat-3";
  const chanA = a.channel(topic, { no_presence: true });
  const chanB = b.channel(topic, { no_presence: true });
  const seen = { A: [], B: [] };
  const order = [];
  chanA.on("new_msg", (msg) => {
    seen.A.push(msg);
    order.push("broadcast");
  });
  chanB.on("new_msg", (msg) => seen.B.push(msg));
  assert.deepEqual(await join(chanA), {});
  assert.deepEqual(await join(chanB), {});

  const payload = { body: "hello", from: "A", n: 3 };
  const push = chanA.push("new_msg", payload);
  push.receive("ok", () => order.push("reply"));
  assert.deepEqual(await reply(push, "new_msg"), { status: "ok", response: payload });

  await waitFor(() => seen.A.length >= 1 && seen.B.length >= 1, () => `new_msg on both sockets (A ${seen.A.length}, B ${seen.B.length})`);
  await sleep(150); // room for duplicates to show up
  assert.deepEqual(seen.A, [payload], "the sender gets exactly one broadcast copy");
  assert.deepEqual(seen.B, [payload], "the other member gets exactly one broadcast copy");
  assert.deepEqual(order, ["broadcast", "reply"], "the sender gets the broadcast before the reply (transcripts fact 6)");
});

scenario("4. POST /api/broadcast answers {ok:true} and the joined socket receives the exact payload", async (ctx) => {
  const socket = await ctx.connect("A");
  const topic = "room:http-4";
  const channel = socket.channel(topic, { no_presence: true });
  const received = { new_msg: [], announcement: [] };
  channel.on("new_msg", (msg) => received.new_msg.push(msg));
  channel.on("announcement", (msg) => received.announcement.push(msg));
  assert.deepEqual(await join(channel), {});

  const payload = { body: "from http", n: 4, tags: ["x", "y"], nested: { ok: false } };
  const first = await httpJson("POST", "/api/broadcast", { topic, event: "new_msg", payload });
  assert.deepEqual(first, { status: 200, json: { ok: true } }, "POST /api/broadcast response");
  await waitFor(() => received.new_msg.length >= 1, "the HTTP-originated new_msg");

  const second = await httpJson("POST", "/api/broadcast", { topic, event: "announcement", payload: { text: "hi" } });
  assert.deepEqual(second, { status: 200, json: { ok: true } }, "POST /api/broadcast response (second event)");
  await waitFor(() => received.announcement.length >= 1, "the HTTP-originated announcement");

  await sleep(100);
  assert.deepEqual(received.new_msg, [payload]);
  assert.deepEqual(received.announcement, [{ text: "hi" }]);
});

scenario("5. Presence lists alice and bob on both sockets, and A sees bob leave", async (ctx) => {
  const topic = "room:presence-5";
  const a = await ctx.connect("A");
  const b = await ctx.connect("B");
  const chanA = a.channel(topic, { user_id: "alice" });
  const chanB = b.channel(topic, { user_id: "bob" });
  const presenceA = new Presence(chanA);
  const presenceB = new Presence(chanB);
  const leavesA = [];
  presenceA.onLeave((id, current, left) => leavesA.push({ id, current, left }));
  const ids = (presence) => presence.list((id) => id).sort();

  assert.deepEqual(await join(chanA), {});
  assert.deepEqual(await join(chanB), {});
  await waitFor(
    () => ids(presenceA).join() === "alice,bob" && ids(presenceB).join() === "alice,bob",
    () => `both sockets to list alice and bob (A ${JSON.stringify(ids(presenceA))}, B ${JSON.stringify(ids(presenceB))})`,
  );
  assert.deepEqual(ids(presenceA), ["alice", "bob"]);
  assert.deepEqual(ids(presenceB), ["alice", "bob"]);

  const http = await httpJson("GET", `/api/presence/${topic}`);
  assert.equal(http.status, 200, "GET /api/presence status");
  assert.deepEqual(Object.keys(http.json).sort(), ["alice", "bob"], "GET /api/presence keys");
  for (const id of ["alice", "bob"]) {
    assert.equal(http.json[id].metas.length, 1, `GET /api/presence: ${id} has one meta`);
    assertPresenceMeta(http.json[id].metas[0], `GET /api/presence ${id}`);
  }
  // The HTTP view and the channel view are the same presences.
  for (const id of ["alice", "bob"]) {
    const channelMetas = presenceA.list((key, { metas }) => ({ key, metas })).find((p) => p.key === id).metas;
    assert.deepEqual(http.json[id].metas, channelMetas, `GET /api/presence ${id} matches what A's Presence holds`);
  }

  assert.deepEqual(await reply(chanB.leave(), "B's leave"), { status: "ok", response: {} });
  await waitFor(() => leavesA.length > 0, "A's onLeave for bob");
  await waitFor(() => ids(presenceA).join() === "alice", () => `A to list only alice (A ${JSON.stringify(ids(presenceA))})`);
  await sleep(100);
  assert.deepEqual(
    leavesA.map(({ id }) => id),
    ["bob"],
    "onLeave fired once, for bob",
  );
  assert.deepEqual(leavesA[0].current.metas, [], "bob has no metas left");
  assert.equal(leavesA[0].left.metas.length, 1, "bob's one meta left");
  assert.deepEqual(ids(presenceA), ["alice"]);

  const afterLeave = await pollHttp(
    `/api/presence/${topic}`,
    ({ json }) => Object.keys(json).join() === "alice",
    "GET /api/presence to list only alice after bob left",
  );
  assert.equal(afterLeave.status, 200);
});

scenario("6. heartbeats keep an idle socket open and are each answered", async (ctx) => {
  const socket = ctx.socket("A", { heartbeatIntervalMs: 200 });
  const heartbeatReplies = [];
  const closes = [];
  const errors = [];
  socket.onMessage((msg) => {
    if (msg.topic === "phoenix" && msg.event === "phx_reply") {
      heartbeatReplies.push(msg);
    }
  });
  socket.onClose((event) => closes.push(event && event.code));
  socket.onError((error) => errors.push(String(error && error.message)));
  const opened = new Promise((resolve) => socket.onOpen(resolve));
  socket.connect();
  await within(opened, "socket A to open");

  await sleep(1500);
  assert.ok(heartbeatReplies.length >= 5, `at least 5 heartbeat replies in 1.5 s, got ${heartbeatReplies.length}`);
  for (const msg of heartbeatReplies) {
    assert.equal(msg.join_ref, null, "a heartbeat reply has join_ref null");
    assert.deepEqual(msg.payload, { status: "ok", response: {} }, "heartbeat reply payload");
  }
  assert.deepEqual(closes, [], "the socket never closed");
  assert.deepEqual(errors, [], "the socket had no transport error");
  assert.equal(socket.isConnected(), true, "still connected");
});

scenario("7. joining an unrouted topic is refused with unmatched topic", async (ctx) => {
  const socket = await ctx.connect("A");
  const channel = socket.channel("nope:1", {});
  assert.deepEqual(await reply(channel.join(), "the join of nope:1"), {
    status: "error",
    response: { reason: "unmatched topic" },
  });
  // Stop phoenix.js from retrying the join.
  assert.deepEqual(await reply(channel.leave(), "the leave of nope:1"), { status: "ok", response: {} });
});

scenario("8. leave replies ok, closes the channel and fires onClose", async (ctx) => {
  const socket = await ctx.connect("A");
  const topic = "room:leave-8";
  const channel = socket.channel(topic, { user_id: "leaver" });
  const closes = [];
  channel.onClose((reason) => closes.push(reason));
  const frames = [];
  socket.onMessage((msg) => frames.push(msg));
  assert.deepEqual(await join(channel), {});
  const joinRef = channel.joinRef();

  assert.deepEqual(await reply(channel.leave(), `the leave of ${topic}`), { status: "ok", response: {} });
  assert.equal(channel.state, "closed");
  assert.deepEqual(closes, ["leave"], "onClose fired once");
  assert.equal(socket.channels.includes(channel), false, "the socket forgot the channel");

  // The server closes its side too: [join_ref, join_ref, topic, "phx_close", {}] (transcripts fact 7).
  const close = await waitFor(
    () => frames.find((msg) => msg.topic === topic && msg.event === "phx_close"),
    "the relay's phx_close",
  );
  assert.deepEqual(close, { join_ref: joinRef, ref: joinRef, topic, event: "phx_close", payload: {} });

  await pollHttp(
    `/api/presence/${topic}`,
    ({ status, json }) => status === 200 && Object.keys(json).length === 0,
    "GET /api/presence to be empty after the leave",
  );
});

scenario("9. after the TCP connection is cut, phoenix.js reconnects, rejoins and pushes again", async (ctx) => {
  // A TCP proxy between phoenix.js and the relay, whose connections the test can cut.
  const pairs = new Set();
  const proxy = net.createServer((downstream) => {
    const upstream = net.connect(relayPort, "127.0.0.1");
    const pair = { downstream, upstream };
    pairs.add(pair);
    const drop = () => {
      downstream.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    downstream.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  ctx.cleanups.push(async () => {
    for (const { downstream, upstream } of pairs) {
      downstream.destroy();
      upstream.destroy();
    }
    await new Promise((resolve) => proxy.close(resolve));
  });

  const topic = "room:reconnect-9";
  const socket = ctx.socket("A", { url: `ws://127.0.0.1:${proxy.address().port}/socket` });
  let opens = 0;
  const closes = [];
  socket.onOpen(() => opens++);
  socket.onClose((event) => closes.push(event && event.code));
  socket.connect();
  await waitFor(() => opens === 1, "the first open");

  const channel = socket.channel(topic, { user_id: "r1" });
  let joinOks = 0;
  channel.join().receive("ok", () => joinOks++);
  await waitFor(() => joinOks === 1, "the first join");
  const firstJoinRef = channel.joinRef();
  assert.equal(pairs.size, 1, "one connection through the proxy");

  ctx.note("-- cutting the TCP connection (both sides) --");
  for (const { downstream, upstream } of pairs) {
    downstream.destroy();
    upstream.destroy();
  }

  await waitFor(() => closes.length >= 1, "phoenix.js to see the connection close");
  assert.notEqual(closes[0], 1000, "a cut connection is not a clean close");
  await waitFor(() => opens === 2, () => `phoenix.js to reconnect (opens: ${opens})`);
  await waitFor(() => joinOks === 2, () => `the channel to rejoin (join oks: ${joinOks}, state ${channel.state})`);
  assert.equal(channel.state, "joined");
  assert.notEqual(channel.joinRef(), firstJoinRef, "the rejoin is a new join");

  const payload = { body: "after reconnect" };
  assert.deepEqual(await reply(channel.push("new_msg", payload), "new_msg after the rejoin"), {
    status: "ok",
    response: payload,
  });

  // The dead connection's presence is gone: r1 is present once, from the new connection.
  const presence = await pollHttp(
    `/api/presence/${topic}`,
    ({ status, json }) => status === 200 && json.r1 && json.r1.metas.length === 1,
    "r1 to be present exactly once after the reconnect",
  );
  assert.deepEqual(Object.keys(presence.json), ["r1"]);
});

scenario("10. err replies error with the payload, noreply gets none, room:forbidden is refused", async (ctx) => {
  const socket = await ctx.connect("A");
  const channel = socket.channel("room:err-10", { no_presence: true });
  const frames = [];
  socket.onMessage((msg) => frames.push(msg));
  assert.deepEqual(await join(channel), {});

  const payload = { why: "because", code: 10 };
  assert.deepEqual(await reply(channel.push("err", payload), "err"), { status: "error", response: payload });

  const noreply = channel.push("noreply", { quiet: true }, 400);
  const noreplyRef = noreply.ref;
  const outcome = await within(
    new Promise((resolve) => {
      noreply.receive("ok", () => resolve("ok")).receive("error", () => resolve("error"));
      noreply.receive("timeout", () => resolve("timeout"));
    }),
    "the noreply push to time out",
  );
  assert.equal(outcome, "timeout", "noreply gets no reply");
  assert.equal(
    frames.some((msg) => msg.ref === noreplyRef),
    false,
    "no frame answered the noreply push",
  );
  // The channel is still fine afterwards.
  assert.deepEqual(await reply(channel.push("ping", { still: "here" }), "ping after noreply"), {
    status: "ok",
    response: { still: "here" },
  });

  const forbidden = socket.channel("room:forbidden", { user_id: "mallory" });
  assert.deepEqual(await reply(forbidden.join(), "the join of room:forbidden"), {
    status: "error",
    response: { reason: "unauthorized" },
  });
  assert.deepEqual(await reply(forbidden.leave(), "the leave of room:forbidden"), { status: "ok", response: {} });
});

scenario("11. back-to-back frames are not held back: 20 new_msg round trips take well under 40 ms each", async (ctx) => {
  // A new_msg answer is two frames written back to back (the broadcast copy, then the reply). If the relay's TCP
  // sockets leave Nagle's algorithm on (no TCP_NODELAY), the second frame waits for the client's delayed ACK,
  // about 40 ms on Linux, on every push. 20 round trips take a few ms without that stall, ~800 ms with it; the
  // bound below leaves a wide margin for a slow machine.
  const socket = await ctx.connect("A");
  const channel = socket.channel("room:latency-11", { no_presence: true });
  assert.deepEqual(await join(channel), {});
  const rounds = 20;
  const started = performance.now();
  for (let i = 0; i < rounds; i++) {
    assert.deepEqual(await reply(channel.push("new_msg", { i }), `new_msg ${i}`), { status: "ok", response: { i } });
  }
  const elapsed = performance.now() - started;
  ctx.note(`${rounds} new_msg round trips took ${elapsed.toFixed(1)} ms`);
  assert.ok(
    elapsed < 400,
    `${rounds} sequential new_msg round trips took ${elapsed.toFixed(0)} ms (${(elapsed / rounds).toFixed(1)} ms each): ` +
      `a ~40 ms stall per push is the signature of Nagle's algorithm with delayed ACKs (TCP_NODELAY not set)`,
  );
});
