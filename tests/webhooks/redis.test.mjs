// Webhooks out on Redis (`--pubsub redis://`): the queue is the journal, a Redis stream with a consumer group per
// endpoint, so it survives a relay killed mid-send, and relays sharing a Redis share the sending, each batch sent by
// one of them, and tell occupancy and presence once across them (README, "Webhooks").
//
// Each test clears a Redis database of its own (on the server `cargo xtask test` runs, FERROCAST_REDIS_URL), starts
// its relays and receivers, and bounds every wait; a timeout says what was last seen, with the relays' output.

import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

import { startRelay } from "../support/relay-process.mjs";
import { redisCommand } from "../support/redis.mjs";
import { PhoenixSocket, acked, assertWellFormed, startReceiver, waitUntil } from "./harness.mjs";

const REDIS = process.env.FERROCAST_REDIS_URL;
const skip = REDIS ? false : "FERROCAST_REDIS_URL is not set (`cargo xtask test` sets it)";
// A batch's id on Redis names its endpoint and its first and last journal entries.
const REDIS_ID = /^msg_[A-Za-z0-9_.-]+_\d+-\d+_\d+-\d+$/;
const VACATED_DELAY_MS = 300;

/** A cleared database of the test Redis, as a URL: each test has its own. */
async function database(db) {
  const url = `${REDIS.replace(/\/\d*$/, "")}/${db}`;
  await redisCommand(url, "FLUSHDB");
  return url;
}

/** Everything a test needs: a receiver `rx`, and relays started with `relay()`, all stopped when it ends. */
async function setup(t, db, { events, topics, queue = 100_000 } = {}) {
  const url = await database(db);
  const rx = await startReceiver();
  const relays = [];
  const sockets = [];
  t.after(async () => {
    sockets.forEach((socket) => socket.close());
    await Promise.all(relays.map((relay) => relay.stop().catch(() => relay.crash())));
    await rx.stop();
  });
  const flags = [
    "--pubsub",
    url,
    "--webhook",
    `crm=${rx.url}`,
    "--webhook-secret",
    `crm=${rx.secret}`,
    "--webhook-retry-max-ms",
    "1000",
    "--webhook-vacated-delay-ms",
    String(VACATED_DELAY_MS),
    "--webhook-queue",
    String(queue),
    ...(events ? ["--webhook-events", `crm=${events}`] : []),
    ...(topics ? ["--webhook-topics", `crm=${topics}`] : []),
  ];
  const logs = () => relays.map((relay) => relay.log().slice(-3000)).join("\n");

  /** A relay on the test's Redis, or on `pubsub` (the same Redis through a proxy). */
  async function relay({ pubsub } = {}) {
    const started = await startRelay(pubsub ? flags.map((flag) => (flag === url ? pubsub : flag)) : flags);
    relays.push(started);
    return started;
  }

  async function api(relay, method, where, body) {
    const response = await fetch(`http://127.0.0.1:${relay.port}${where}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    assert.ok(response.status < 300, `${method} ${where}: ${response.status} ${text}`);
    return JSON.parse(text);
  }

  const waitFor = (what, check, { ms = 20_000, seen } = {}) => waitUntil(what, check, { ms, seen, output: logs });

  async function socket(relay) {
    const client = await PhoenixSocket.connect(relay.port);
    sockets.push(client);
    return client;
  }

  /** The webhook's view on `relay` (GET /api/webhooks). */
  async function view(relay) {
    return (await api(relay, "GET", "/api/webhooks")).webhooks.find((webhook) => webhook.name === "crm");
  }

  return { url, rx, relay, api, waitFor, socket, view };
}

/** `count` broadcasts over `topics` topics, `n` counting up in each, published through `relay` in chunks. */
async function publishNumbered(h, relay, { count, topics, prefix }) {
  const messages = [];
  for (let index = 0; index < count; index++) {
    const topic = `${prefix}:${index % topics}`;
    messages.push({ topic, event: "n", payload: { n: Math.floor(index / topics) + 1 } });
  }
  for (let at = 0; at < messages.length; at += 500) {
    await h.api(relay, "POST", "/api/broadcast", messages.slice(at, at + 500));
  }
  return messages;
}

/** Checks the acknowledged broadcasts: each published one once, in order per topic. */
function assertEachOnceInOrder(events, messages) {
  const broadcasts = events.filter((event) => event.type === "broadcast");
  const seen = new Set();
  const last = new Map();
  for (const { topic, offset, payload } of broadcasts) {
    const key = `${topic} ${payload.n}`;
    assert.ok(!seen.has(key), `${key} arrived twice after deduplication by webhook-id`);
    seen.add(key);
    assert.ok((last.get(topic) ?? 0) < payload.n, `${topic}: ${payload.n} arrived after ${last.get(topic)}`);
    assert.equal(offset, payload.n, `${key}: offset ${offset}`);
    last.set(topic, payload.n);
  }
  const missing = messages.filter(({ topic, payload }) => !seen.has(`${topic} ${payload.n}`));
  assert.equal(missing.length, 0, `${missing.length} never arrived, e.g. ${JSON.stringify(missing.slice(0, 3))}`);
  assert.equal(broadcasts.length, messages.length);
}

test("a relay killed (SIGKILL) while 10,000 broadcasts are being sent is restarted, and every one arrives once", {
  skip,
}, async (t) => {
  const h = await setup(t, 11);
  await h.rx.delay(15); // slow enough that the kill comes mid-send
  const first = await h.relay();
  const messages = await publishNumbered(h, first, { count: 10_000, topics: 10, prefix: "orders" });
  const metric = async (name) => {
    const text = await (await fetch(`http://127.0.0.1:${first.port}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? 0);
  };
  // Every broadcast is in Redis (and so in the journal) before the kill: what is lost otherwise is another matter.
  await h.waitFor("Redis to take all 10,000", async () => (await metric("ferrocast_redis_published_total")) >= 10_000);
  const received = async () => acked(await h.rx.log()).length;
  await h.waitFor("a first part to arrive", async () => (await received()) >= 2_000);
  // Killed surely mid-send: the receiver holds the batch in flight for 3 s (and then logs it acknowledged, though
  // the relay is gone), so the relay after the restart must send that batch again, with its id.
  await h.rx.delay(3_000);
  await sleep(500);
  await first.crash();
  await h.rx.delay(0);
  const before = await received();
  assert.ok(before < 10_000, `all had arrived before the kill (${before}): the test proves nothing`);

  const second = await h.relay();
  await h.waitFor("all 10,000 after the restart", async () => (await received()) >= 10_000, {
    ms: 60_000,
    seen: received,
  });
  await sleep(1_000);
  const log = await h.rx.log();
  assertWellFormed(log, REDIS_ID);
  assertEachOnceInOrder(acked(log), messages);
  const ids = log.map((record) => record.id);
  const twice = ids.filter((id, index) => ids.indexOf(id) !== index);
  assert.ok(twice.length >= 1, "the batch in flight at the kill was not sent again with its id");
  // The queue is empty, and the journal is trimmed of what was acknowledged (every 10 s, so allow for it).
  await h.waitFor("the queue to be empty", async () => (await h.view(second)).queued === 0);
  await h.waitFor(
    "the journal to be trimmed",
    async () => (await redisCommand(h.url, "XLEN", "ferrocast:journal")) < 1_000,
    { ms: 15_000 },
  );
});

test("two relays share one queue: each batch is sent by one of them, and the other takes over at once when it stops", {
  skip,
}, async (t) => {
  const h = await setup(t, 12);
  const [a, b] = [await h.relay(), await h.relay()];
  const [viewA, viewB] = [await h.view(a), await h.view(b)];
  await h.waitFor("one relay to hold the lease", async () => (await h.view(a)).sender);
  const holder = (await h.view(a)).sender;
  assert.equal((await h.view(b)).sender, holder, "both relays name the same sender");
  assert.equal(viewA.breaker, "closed");
  assert.equal(viewB.breaker, "closed");

  const messages = [
    ...(await publishNumbered(h, a, { count: 1_500, topics: 3, prefix: "from-a" })),
    ...(await publishNumbered(h, b, { count: 1_500, topics: 3, prefix: "from-b" })),
  ];
  const received = async () => acked(await h.rx.log()).length;
  await h.waitFor("3,000 broadcasts", async () => (await received()) >= 3_000, { seen: received });
  await sleep(500);
  let log = await h.rx.log();
  const ids = log.map((record) => record.id);
  assert.equal(new Set(ids).size, ids.length, "a batch was delivered twice (by both relays?)");

  // The sender stops (SIGTERM): the other relay takes the lease over and sends what comes next.
  const [sending, survivor] = (await h.view(a)).sending_here ? [a, b] : [b, a];
  assert.equal((await h.view(survivor)).sending_here, false, "both relays send");
  await sending.stop();
  // A relay that shuts down lets go of its lease: the other sends within about a second, not the 5 s claim timeout.
  await h.waitFor("the survivor to send", async () => (await h.view(survivor)).sending_here, { ms: 3_000 });
  const more = await publishNumbered(h, survivor, { count: 300, topics: 3, prefix: "after" });
  await h.waitFor("the broadcasts after the stop", async () => (await received()) >= 3_300, {
    ms: 20_000,
    seen: received,
  });
  await sleep(500);
  log = await h.rx.log();
  assertWellFormed(log, REDIS_ID);
  const after = new Set(log.map((record) => record.id));
  assert.equal(after.size, log.length, "a batch was delivered twice");
  assertEachOnceInOrder(acked(log), [...messages, ...more]);
  const now = await h.view(survivor);
  assert.ok(now.sending_here && now.sender !== holder, `the survivor sends: ${JSON.stringify(now)}`);
});

test("occupancy and presence across relays are told once, a move within the delay not at all, a dead relay's end", {
  skip,
}, async (t) => {
  const h = await setup(t, 13, { events: "channel.occupied,channel.vacated,presence.join,presence.leave" });
  const [a, b] = [await h.relay(), await h.relay()];
  const events = async () => acked(await h.rx.log());
  const seen = async () => (await events()).map(({ type, topic, key }) => `${type} ${topic} ${key ?? ""}`);
  const has = (type, key) => async () =>
    (await events()).some(
      (event) => event.type === type && event.topic === "room:shared" && (key === undefined || event.key === key),
    );

  const [onA, onB] = [await h.socket(a), await h.socket(b)];
  // A page that moves to the other relay within the vacated delay: neither vacated nor occupied again.
  await onA.join("room:moved", { no_presence: true });
  await h.waitFor("room:moved occupied", async () => (await seen()).includes("channel.occupied room:moved "), { seen });
  await onA.leave("room:moved");
  await onB.join("room:moved", { no_presence: true });
  await sleep(VACATED_DELAY_MS + 1_000);
  await onB.leave("room:moved");
  await h.waitFor("room:moved vacated once nobody came back", async () =>
    (await seen()).includes("channel.vacated room:moved "), { seen });

  await onA.join("room:shared", { user_id: "ada" });
  await h.waitFor("channel.occupied", has("channel.occupied"), { seen });
  await h.waitFor("ada's join", has("presence.join", "ada"), { seen });
  await onB.join("room:shared", { user_id: "bob" });
  await h.waitFor("bob's join", has("presence.join", "bob"), { seen });
  await onA.leave("room:shared"); // bob still holds it, on the other relay: not vacated
  await h.waitFor("ada's leave", has("presence.leave", "ada"), { seen });
  await sleep(VACATED_DELAY_MS + 1_000);
  assert.ok(!(await has("channel.vacated")()), `vacated while bob was there: ${await seen()}`);

  // The relay holding bob dies: after its liveness lapses (5 s), another relay tells bob gone and the topic vacated.
  await b.crash();
  await h.waitFor("bob's leave, told for the dead relay", has("presence.leave", "bob"), { ms: 15_000, seen });
  await h.waitFor("channel.vacated", has("channel.vacated"), { ms: 5_000, seen });
  await sleep(1_000);
  const told = await seen();
  assert.deepEqual(told.toSorted(), [
    "channel.occupied room:moved ",
    "channel.occupied room:shared ",
    "channel.vacated room:moved ",
    "channel.vacated room:shared ",
    "presence.join room:shared ada",
    "presence.join room:shared bob",
    "presence.leave room:shared ada",
    "presence.leave room:shared bob",
  ]);
  const bobLeft = (await events()).find((event) => event.type === "presence.leave" && event.key === "bob");
  assert.equal(typeof bobLeft.metas[0].online_at, "number", "bob's leave carries the meta his relay tracked");
  assertWellFormed(await h.rx.log(), REDIS_ID);
});

test("a 400 goes to the dead letters on Redis, which any relay shows and redelivers", { skip }, async (t) => {
  const h = await setup(t, 14);
  const [a, b] = [await h.relay(), await h.relay()];
  await h.waitFor("a sender", async () => (await h.view(a)).sender);
  await h.rx.mode({ status: 400, body: "no such customer", times: 1 });
  await h.api(a, "POST", "/api/broadcast", [{ topic: "room:d", event: "n", payload: { n: 1 } }]);
  const dead = await h.waitFor("the dead letter, seen from the other relay", async () => {
    const { dead } = await h.api(b, "GET", "/api/webhooks/crm/dead");
    return dead.length ? dead : null;
  });
  assert.equal(dead[0].status, 400);
  assert.equal(dead[0].body, "no such customer");
  assert.equal(dead[0].events[0].payload.n, 1);
  const { redelivered } = await h.api(b, "POST", "/api/webhooks/crm/redeliver");
  assert.equal(redelivered, 1);
  await h.waitFor("the redelivery", async () => acked(await h.rx.log()).length === 1);
  const log = await h.rx.log();
  assert.equal(log.length, 2);
  assert.equal(log[1].id, log[0].id, "redelivered with the same webhook-id");
  assert.equal((await h.api(a, "GET", "/api/webhooks/crm/dead")).dead.length, 0);
  assertWellFormed(log, REDIS_ID);
});

test("past --webhook-queue on Redis the oldest events go to the dead letters, counted, and nothing is lost", {
  skip,
}, async (t) => {
  const h = await setup(t, 15, { queue: 200 });
  const a = await h.relay();
  await h.waitFor("a sender", async () => (await h.view(a)).sending_here);
  await h.rx.mode({ status: 500, for_ms: 60_000 });
  const messages = await publishNumbered(h, a, { count: 1_000, topics: 2, prefix: "bound" });
  // The keeper checks the bound each second: what waits (besides the batch in flight) comes down to the bound, and
  // a tenth of it below, the rest is dead letters.
  const dead = async () => (await h.api(a, "GET", "/api/webhooks/crm/dead")).dead;
  const deadEvents = async () => (await dead()).reduce((sum, batch) => sum + batch.events.length, 0);
  await h.waitFor("700 or more in the dead letters", async () => (await deadEvents()) >= 700, { seen: deadEvents });
  await h.waitFor("the view to show it", async () => (await h.view(a)).queued <= 200, { seen: () => h.view(a) });
  await h.waitFor("the batch in flight, retried", async () => (await h.view(a)).in_flight, { seen: () => h.view(a) });
  assert.ok((await dead()).every((batch) => batch.reason === "queue full"));
  const text = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
  const counted = Number(/ferrocast_webhook_events_total\{endpoint="crm",outcome="dead"\} (\d+)/.exec(text)?.[1]);
  assert.equal(counted, await deadEvents(), "the dead counter counts them");

  await h.rx.mode({});
  await h.api(a, "POST", "/api/webhooks/crm/redeliver");
  const received = async () => acked(await h.rx.log()).length;
  await h.waitFor("all 1,000, the dead ones redelivered", async () => (await received()) >= 1_000, {
    ms: 30_000,
    seen: received,
  });
  await sleep(500);
  const events = acked(await h.rx.log()).filter((event) => event.type === "broadcast");
  const keys = new Set(events.map(({ topic, payload }) => `${topic} ${payload.n}`));
  assert.equal(keys.size, 1_000, "each of the 1,000 once");
  assert.equal(events.length, 1_000);
  assert.equal(messages.length, 1_000);
});

/** A TCP proxy to Redis that the test can cut (every connection dropped, new ones refused) and restore. */
async function cuttableProxy(url) {
  const { hostname, port } = new URL(url);
  let cut = false;
  const sockets = new Set();
  const server = net.createServer((client) => {
    if (cut) return client.destroy();
    const upstream = net.connect({ host: hostname, port: Number(port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: url.replace(`${hostname}:${port}`, `127.0.0.1:${server.address().port}`),
    cut() {
      cut = true;
      sockets.forEach((socket) => socket.destroy());
    },
    restore() {
      cut = false;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

test("a relay cut from Redis past its liveness is taken for dead, and tells its topics and members again when back", {
  skip,
}, async (t) => {
  const h = await setup(t, 10, { events: "channel.occupied,channel.vacated,presence.join,presence.leave" });
  const proxy = await cuttableProxy(h.url);
  t.after(() => proxy.close());
  const [cutOff] = [await h.relay({ pubsub: proxy.url }), await h.relay()];
  const told = async () => acked(await h.rx.log()).map(({ type, key }) => `${type}${key ? ` ${key}` : ""}`);
  const toldAtLeast = (count) => async () => (await told()).length >= count;

  const ada = await h.socket(cutOff);
  await ada.join("room:cut", { user_id: "ada" });
  await h.waitFor("occupied and ada's join", toldAtLeast(2), { seen: told });
  proxy.cut();
  await h.waitFor("ada gone and the topic vacated, told by the other relay", toldAtLeast(4), { seen: told });
  proxy.restore();
  await h.waitFor("the topic and ada told again", toldAtLeast(6), { ms: 15_000, seen: told });
  await sleep(1_000);
  assert.deepEqual(await told(), [
    "channel.occupied",
    "presence.join ada",
    "presence.leave ada",
    "channel.vacated",
    "channel.occupied",
    "presence.join ada",
  ]);
});
