// Webhooks out, end to end: the relay binary POSTs batched, signed events to real receivers (receiver.mjs, child
// processes that check every signature with the npm `standardwebhooks` package), and these tests hold it to the
// contract (README, "Webhooks"): every kind of event with its fields (presence too), the per-endpoint filters,
// retries through a failing receiver without loss, duplicates or reordering, dead letters (refused, too old, past
// the queue bound) and their redelivery, Retry-After, and the endpoints' state and breaker in the API and metrics.
//
// Each test starts its own relay and receivers, with a short retry cap and vacated delay so it runs in seconds; every
// wait is bounded and a timeout says what was last seen, with the relay's output.

import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";

import { startRelay } from "../support/relay-process.mjs";
import { RUN_ENDS, stagesOf } from "../support/workflows.mjs";
import { PhoenixSocket, acked, assertWellFormed, checkReceiver, startReceiver, waitUntil } from "./harness.mjs";
// The cap of the retry backoff. The relay's breaker per endpoint opens when half of at least 5 attempts in a minute
// failed and stays open as long as this cap (at least 1 s): a receiver that comes back is tried again within about a
// second.
const RETRY_MAX_MS = 1000;
const VACATED_DELAY_MS = 300;
// The relay gathers a batch for at most 250 ms; this is "surely sent by now" for things that must not arrive.
const SETTLE_MS = 700;

// ---- the relay -----------------------------------------------------------------------------------------------------

/**
 * Starts a receiver per endpoint and a relay sending to them: `endpoints` is `{name: {events?, topics?}}`, `args`
 * more relay flags. Resolves to `{relay, rx: {name: receiver}, api, ...}`; everything stops when the test ends.
 */
async function setup(t, endpoints, { args = [], retryMaxMs = RETRY_MAX_MS } = {}) {
  const rx = {};
  const flags = [];
  for (const [name, { events, topics } = {}] of Object.entries(endpoints)) {
    rx[name] = await startReceiver();
    flags.push("--webhook", `${name}=${rx[name].url}`, "--webhook-secret", `${name}=${rx[name].secret}`);
    if (events) flags.push("--webhook-events", `${name}=${events}`);
    if (topics) flags.push("--webhook-topics", `${name}=${topics}`);
  }
  const relay = await startRelay([
    ...flags,
    "--webhook-retry-max-ms",
    String(retryMaxMs),
    "--webhook-vacated-delay-ms",
    String(VACATED_DELAY_MS),
    ...args,
  ]);
  const sockets = [];
  t.after(async () => {
    sockets.forEach((socket) => socket.close());
    await relay.stop();
    await Promise.all(Object.values(rx).map((receiver) => receiver.stop()));
  });

  const base = `http://127.0.0.1:${relay.port}`;
  async function api(method, where, body) {
    const response = await fetch(`${base}${where}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const text = await response.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, json, text };
  }

  const waitFor = (what, check, { ms = 10_000, seen } = {}) =>
    waitUntil(what, check, { ms, seen, output: () => relay.log().slice(-4000) });

  /** Waits for an acknowledged event of `name`'s receiver that `match` accepts; resolves to it. */
  function waitEvent(name, what, match, ms) {
    return waitFor(`${what} at ${name}`, async () => acked(await rx[name].log()).find(match), {
      ms,
      seen: async () => acked(await rx[name].log()).map(({ type, topic, event }) => `${type} ${topic} ${event ?? ""}`),
    });
  }

  async function publish(messages) {
    const { status, text } = await api("POST", "/api/broadcast", messages);
    assert.equal(status, 200, `POST /api/broadcast: ${text}`);
  }

  async function socket() {
    const client = await PhoenixSocket.connect(relay.port);
    sockets.push(client);
    return client;
  }

  async function webhooks() {
    const { status, json, text } = await api("GET", "/api/webhooks");
    assert.equal(status, 200, `GET /api/webhooks: ${text}`);
    return Object.fromEntries(json.webhooks.map((endpoint) => [endpoint.name, endpoint]));
  }

  async function dead(name) {
    const { status, json, text } = await api("GET", `/api/webhooks/${name}/dead`);
    assert.equal(status, 200, `GET /api/webhooks/${name}/dead: ${text}`);
    return json.dead;
  }

  /** The value of a metric sample with these labels (0 when the relay has none). */
  async function metric(name, labels) {
    const { text } = await api("GET", "/metrics");
    for (const line of text.split("\n")) {
      const sample = /^([a-z_]+)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      if (!sample || sample[1] !== name) continue;
      const has = Object.fromEntries([...(sample[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      if (Object.entries(labels).every(([key, value]) => has[key] === value)) return Number(sample[3]);
    }
    return 0;
  }

  async function startRun(inputs = { duration_ms: 10 }) {
    const { status, json, text } = await api("POST", "/api/workflows/pipeline/runs", { inputs });
    assert.equal(status, 201, `POST /api/workflows/pipeline/runs: ${text}`);
    return json.run_id;
  }

  return { relay, rx, api, waitFor, waitEvent, publish, socket, webhooks, dead, metric, startRun };
}

const count = (events, match) => events.filter(match).length;

// ---- the tests -----------------------------------------------------------------------------------------------------

test("the receiver's check accepts a good signature and rejects tampered, foreign and stale ones", async () => {
  const { code, output } = await checkReceiver();
  assert.equal(code, 0, output);
});

test("every kind of event arrives signed, with its documented fields", async (t) => {
  const h = await setup(t, { all: {} });
  const socket = await h.socket();
  const start = Date.now();
  const near = (at) => typeof at === "number" && at >= start - 1000 && at <= Date.now() + 1000;

  // channel.occupied when the first subscriber joins.
  await socket.join("room:a");
  const occupied = await h.waitEvent("all", "channel.occupied room:a", (e) => e.type === "channel.occupied");
  assert.equal(occupied.topic, "room:a");
  assert.ok(near(occupied.at), `channel.occupied at: ${occupied.at}`);

  // broadcast, with the offset and epoch the topic's history has.
  await h.publish({ topic: "room:a", event: "said", payload: { text: "héllo", n: 1 } });
  const broadcast = await h.waitEvent("all", "the broadcast on room:a", (e) => e.type === "broadcast");
  const history = (await h.api("GET", "/api/history/room:a")).json;
  assert.equal(broadcast.topic, "room:a");
  assert.equal(broadcast.event, "said");
  assert.deepEqual(broadcast.payload, { text: "héllo", n: 1 });
  assert.equal(broadcast.offset, history.messages.at(-1).offset, "the broadcast's offset is the history's");
  assert.equal(broadcast.epoch, history.epoch, "the broadcast's epoch is the history's");
  assert.ok(near(broadcast.at), `broadcast at: ${broadcast.at}`);

  // channel.vacated once the last subscriber left and the delay passed.
  const left = Date.now();
  await socket.leave("room:a");
  await h.waitEvent("all", "channel.vacated room:a", (e) => e.type === "channel.vacated" && e.topic === "room:a");
  const vacatedRecord = (await h.rx.all.log()).find((r) => r.events?.some((e) => e.type === "channel.vacated"));
  const vacated = vacatedRecord.events.find((e) => e.type === "channel.vacated");
  assert.ok(near(vacated.at), `channel.vacated at: ${vacated.at}`);
  assert.ok(
    vacatedRecord.at >= left + VACATED_DELAY_MS,
    `channel.vacated arrived ${vacatedRecord.at - left} ms after the leave, before the ${VACATED_DELAY_MS} ms delay`,
  );

  // A leave and a rejoin within the delay: neither a vacated nor a second occupied.
  await socket.join("room:b");
  await h.waitEvent("all", "channel.occupied room:b", (e) => e.type === "channel.occupied" && e.topic === "room:b");
  await socket.leave("room:b");
  await socket.join("room:b");
  await sleep(VACATED_DELAY_MS + SETTLE_MS);
  await h.publish({ topic: "room:b", event: "marker", payload: {} });
  await h.waitEvent("all", "the marker on room:b", (e) => e.type === "broadcast" && e.topic === "room:b");
  let events = acked(await h.rx.all.log());
  const onB = events.filter((e) => e.topic === "room:b").map((e) => e.type);
  assert.deepEqual(onB, ["channel.occupied", "broadcast"], "a rejoin within the delay sends nothing");
  await socket.leave("room:b");
  await h.waitEvent("all", "channel.vacated room:b", (e) => e.type === "channel.vacated" && e.topic === "room:b");

  // A workflow run's events, as run.<event>, in order, instead of broadcasts.
  const runId = await h.startRun();
  const topic = `reactor:${runId}`;
  const ends = RUN_ENDS.map((end) => `run.${end}`);
  await h.waitEvent("all", `the end of run ${runId}`, (e) => e.topic === topic && ends.includes(e.type));
  events = acked(await h.rx.all.log());
  const run = events.filter((e) => e.topic === topic);
  const stages = await stagesOf(h.relay.port, "pipeline");
  assert.deepEqual(
    run.map((e) => e.type),
    ["run.run_started", ...stages.flatMap(() => ["run.step_started", "run.step_completed"]), "run.run_completed"],
  );
  for (const [i, e] of run.entries()) {
    assert.equal(e.type, `run.${e.event}`, `run event ${i}: type and event`);
    assert.equal(e.payload?.run_id, runId, `run event ${i}: payload`);
    assert.ok(Number.isInteger(e.offset) && (i === 0 || e.offset > run[i - 1].offset), `run event ${i}: offset`);
    assert.ok(e.epoch !== undefined && e.epoch !== null, `run event ${i}: epoch`);
    assert.ok(near(e.at), `run event ${i}: at ${e.at}`);
  }
  const runBroadcasts = (e) => e.type === "broadcast" && e.topic.startsWith("reactor:") && e.topic !== "reactor:runs";
  assert.equal(count(events, runBroadcasts), 0, "a run's events come as run.*, not as broadcasts");

  assertWellFormed(await h.rx.all.log());
});

test("each endpoint gets only the kinds and topics its filters name", async (t) => {
  const h = await setup(t, {
    rooms: { topics: "room:*,lobby", events: "broadcast" },
    lifecycle: { events: "channel.occupied,run.*" },
    witness: {},
  });
  const socket = await h.socket();
  await socket.join("room:f");
  await h.waitEvent("witness", "channel.occupied room:f", (e) => e.type === "channel.occupied");
  await socket.leave("room:f");
  const runId = await h.startRun();
  await h.publish(
    ["room:f", "lobby", "lobbyist", "other:f", "room:f", "lobby"].map((topic, n) => ({
      topic,
      event: "n",
      payload: { n },
    })),
  );
  const ends = RUN_ENDS.map((end) => `run.${end}`);
  const isEnd = (e) => e.topic === `reactor:${runId}` && ends.includes(e.type);
  await h.waitEvent("witness", "channel.vacated room:f", (e) => e.type === "channel.vacated");
  await h.waitEvent("witness", "the run's end", isEnd);
  await h.waitEvent("witness", "the last broadcast", (e) => e.payload?.n === 5);
  await h.waitEvent("rooms", "the last broadcast", (e) => e.payload?.n === 5);
  await h.waitEvent("lifecycle", "the run's end", isEnd);
  await sleep(SETTLE_MS);

  const rooms = acked(await h.rx.rooms.log());
  assert.deepEqual(
    rooms.map((e) => `${e.type} ${e.topic} ${e.payload?.n}`),
    ["broadcast room:f 0", "broadcast lobby 1", "broadcast room:f 4", "broadcast lobby 5"],
  );
  const lifecycle = acked(await h.rx.lifecycle.log());
  assert.deepEqual(
    lifecycle.filter((e) => !e.type.startsWith("run.")).map((e) => `${e.type} ${e.topic}`),
    ["channel.occupied room:f"],
  );
  assert.ok(lifecycle.filter((e) => e.type.startsWith("run.")).every((e) => e.topic === `reactor:${runId}`));
  assert.equal(lifecycle.filter((e) => e.type.startsWith("run.")).at(0)?.type, "run.run_started");
  // The unfiltered endpoint got what the others did not: the proof it was all sent.
  const witness = acked(await h.rx.witness.log());
  for (const topic of ["lobbyist", "other:f"]) {
    assert.equal(count(witness, (e) => e.topic === topic && e.type === "broadcast"), 1, `witness: ${topic}`);
  }
  for (const name of ["rooms", "lifecycle", "witness"]) assertWellFormed(await h.rx[name].log());
});

test("presence.join and presence.leave tell who came and went, one event per member", async (t) => {
  const h = await setup(t, { members: { events: "presence.join,presence.leave", topics: "room:*" } });
  const [ada, bob] = [await h.socket(), await h.socket()];
  const start = Date.now();
  const member = (type, key) => (e) => e.type === type && e.key === key;
  await ada.join("room:pr", { user_id: "ada" });
  await h.waitEvent("members", "ada's join", member("presence.join", "ada"));
  await bob.join("room:pr", { user_id: "bob" });
  await h.waitEvent("members", "bob's join", member("presence.join", "bob"));
  await ada.leave("room:pr");
  await h.waitEvent("members", "ada's leave", member("presence.leave", "ada"));
  bob.close(); // a page closed: its channels end with its socket
  await h.waitEvent("members", "bob's leave", member("presence.leave", "bob"));
  await sleep(SETTLE_MS);

  const events = acked(await h.rx.members.log());
  assert.deepEqual(
    events.map((e) => `${e.type} ${e.topic} ${e.key}`),
    [
      "presence.join room:pr ada",
      "presence.join room:pr bob",
      "presence.leave room:pr ada",
      "presence.leave room:pr bob",
    ],
  );
  for (const e of events) {
    assert.ok(Array.isArray(e.metas) && e.metas.length === 1, `${e.type} ${e.key}: metas ${JSON.stringify(e.metas)}`);
    assert.equal(typeof e.metas[0].online_at, "number", `${e.type} ${e.key}: the meta the channel tracked`);
    assert.ok(e.at >= start - 1000 && e.at <= Date.now(), `${e.type} ${e.key}: at ${e.at}`);
  }
  assertWellFormed(await h.rx.members.log());
});

test("a receiver failing for 10 s then back gets every event once, in order, each batch acked once", async (t) => {
  const h = await setup(t, { flaky: {} });
  await h.rx.flaky.mode({ status: 500, for_ms: 10_000 });
  const published = [];
  for (let request = 0; request < 4; request += 1) {
    const messages = [];
    for (let k = 0; k < 25; k += 1) {
      const i = request * 25 + k;
      messages.push({ topic: "room:p", event: "n", payload: { i } }, { topic: "room:q", event: "n", payload: { i } });
    }
    await h.publish(messages);
    published.push(...messages.map((m) => `${m.topic} ${m.payload.i}`));
  }
  const broadcasts = async () => acked(await h.rx.flaky.log()).filter((e) => e.type === "broadcast");
  await h.waitFor("200 broadcasts acknowledged", async () => (await broadcasts()).length >= 200, {
    ms: 30_000,
    seen: async () => ({ acked: (await broadcasts()).length, webhooks: await h.webhooks() }),
  });
  await sleep(SETTLE_MS);

  const log = await h.rx.flaky.log();
  assertWellFormed(log);
  assert.ok(log.some((r) => r.status_answered === 500), "the receiver answered 500 at least once");
  const byId = new Map();
  for (const r of log) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
  for (const [id, records] of byId) {
    const ok = records.filter((r) => r.status_answered < 300);
    const answers = records.map((r) => r.status_answered);
    assert.equal(ok.length, 1, `batch ${id}: ${ok.length} acknowledged deliveries (answers: ${answers})`);
    for (const r of records) assert.deepEqual(r.events, records[0].events, `batch ${id}: a retry carried other events`);
  }
  const events = await broadcasts();
  assert.deepEqual(
    events.map((e) => `${e.topic} ${e.payload.i}`),
    published,
    "every broadcast once, in the order published",
  );
  for (const topic of ["room:p", "room:q"]) {
    const offsets = events.filter((e) => e.topic === topic).map((e) => e.offset);
    assert.equal(offsets.length, 100);
    for (let k = 1; k < offsets.length; k += 1) {
      assert.equal(offsets[k], offsets[k - 1] + 1, `${topic}: the offset after ${offsets[k - 1]}`);
    }
  }
  const eventsTotal = (outcome) => h.metric("ferrocast_webhook_events_total", { endpoint: "flaky", outcome });
  await h.waitFor("the delivered metric at 200", async () => (await eventsTotal("delivered")) === 200, {
    ms: 3000,
    seen: () => eventsTotal("delivered"),
  });
  assert.equal(await eventsTotal("dead"), 0);
});

test("a 400 goes to the dead letters at once, and a redelivery sends the same batch again", async (t) => {
  const h = await setup(t, { strict: {} });
  await h.rx.strict.mode({ status: 400, body: "no such customer", times: 1 });
  await h.publish({ topic: "room:d", event: "order", payload: { order: 7 } });
  const refused = await h.waitFor("the 400", async () =>
    (await h.rx.strict.log()).find((r) => r.status_answered === 400),
  );
  const dead = await h.waitFor(
    "the dead letter",
    async () => {
      const dead = await h.dead("strict");
      return dead.length > 0 && dead;
    },
    { seen: () => h.dead("strict") },
  );
  assert.equal(dead.length, 1);
  assert.equal(dead[0].id, refused.id);
  assert.equal(dead[0].status, 400);
  assert.equal(dead[0].body, "no such customer");
  assert.equal(typeof dead[0].reason, "string");
  assert.equal(typeof dead[0].at, "number");
  assert.deepEqual(dead[0].events, refused.events);

  // The next batch goes through, and the refused one was not retried meanwhile.
  await h.publish({ topic: "room:d", event: "order", payload: { order: 8 } });
  await h.waitEvent("strict", "the next order", (e) => e.payload?.order === 8);
  assert.equal((await h.rx.strict.log()).filter((r) => r.id === refused.id).length, 1, "a 400 is not retried");

  const redeliver = await h.api("POST", "/api/webhooks/strict/redeliver");
  assert.equal(redeliver.status, 200, redeliver.text);
  assert.deepEqual(redeliver.json, { redelivered: 1 });
  const again = await h.waitFor("the redelivery", async () =>
    (await h.rx.strict.log()).find((r) => r.id === refused.id && r.status_answered === 200),
  );
  assert.deepEqual(again.events, refused.events);
  await h.waitFor("an empty dead letter list after the redelivery", async () => (await h.dead("strict")).length === 0, {
    ms: 3000,
    seen: () => h.dead("strict"),
  });
  assert.equal((await h.api("POST", "/api/webhooks/nope/redeliver")).status, 404);
  assertWellFormed(await h.rx.strict.log());
});

test("a 429 with Retry-After: 2 is retried no sooner than 2 s later", async (t) => {
  const h = await setup(t, { busy: {} });
  await h.rx.busy.mode({ status: 429, retry_after: 2, times: 1 });
  await h.publish({ topic: "room:r", event: "n", payload: {} });
  const ok = await h.waitFor("the retry", async () => (await h.rx.busy.log()).find((r) => r.status_answered === 200), {
    ms: 8000,
    seen: () => h.rx.busy.log(),
  });
  const log = await h.rx.busy.log();
  assert.deepEqual(
    log.map((r) => [r.id, r.status_answered]),
    [
      [ok.id, 429],
      [ok.id, 200],
    ],
  );
  const waited = log[1].at - log[0].at;
  assert.ok(waited >= 2000, `retried ${waited} ms after the 429`);
  assert.ok(waited < 6000, `retried only ${waited} ms after the 429`);
  assertWellFormed(log);
});

test("past --webhook-queue the oldest events go to the dead letters, counted, and nothing is lost", async (t) => {
  const h = await setup(t, { stalled: {} }, { args: ["--webhook-queue", "50"] });
  const rx = h.rx.stalled;
  await rx.mode({ status: 500, for_ms: 60_000 });
  // The first broadcast alone, so the sender is busy retrying it while the other 199 wait behind it.
  const broadcast = (i) => ({ topic: "room:s", event: "n", payload: { i } });
  await h.publish(broadcast(0));
  await h.waitFor("the first attempt", async () => (await rx.log()).length > 0);
  await h.publish(Array.from({ length: 199 }, (_, i) => broadcast(i + 1)));

  // Stalled: one batch in flight, at most 50 events waiting, the rest dead, all 200 accounted for.
  const state = async () => {
    const log = await rx.log();
    const inFlight = [...new Set(log.map((r) => r.id))];
    const dead = await h.dead("stalled");
    const endpoint = (await h.webhooks()).stalled;
    return {
      inFlight,
      inFlightEvents: log.find((r) => r.id === inFlight[0])?.events.length ?? 0,
      deadEvents: dead.reduce((sum, batch) => sum + batch.events.length, 0),
      dead,
      endpoint,
    };
  };
  const stalled = await h.waitFor(
    "200 events in flight, queued or dead",
    async () => {
      const s = await state();
      return s.inFlight.length === 1 && s.inFlightEvents + s.endpoint.queued + s.deadEvents === 200 && s;
    },
    { seen: async () => ({ ...(await state()), dead: undefined }) },
  );
  const { inFlightEvents, deadEvents, dead } = stalled;
  const { queued } = stalled.endpoint;
  t.diagnostic(`stalled: ${inFlightEvents} in flight, ${queued} queued, ${deadEvents} dead in ${dead.length} batches`);
  assert.ok(queued <= 50, `${queued} events queued past the bound of 50`);
  assert.ok(queued > 0, "nothing waiting: the bound was not what sent events to the dead letters");
  assert.ok(stalled.deadEvents > 0, "the overflow went to the dead letters");
  assert.ok(stalled.endpoint.oldest_queued_ms > 0, `oldest_queued_ms: ${stalled.endpoint.oldest_queued_ms}`);
  assert.ok(stalled.dead.every((batch) => batch.reason && batch.status === undefined), "dead for the queue bound");
  assert.equal(
    await h.metric("ferrocast_webhook_events_total", { endpoint: "stalled", outcome: "dead" }),
    stalled.deadEvents,
    "the dead metric counts the overflow",
  );
  assert.equal(await h.metric("ferrocast_webhook_queued", { endpoint: "stalled" }), stalled.endpoint.queued);

  // Back: the batch in flight and the queue are delivered, then the dead letters on request.
  await rx.mode({});
  const seqs = async () => acked(await rx.log()).map((e) => e.payload.i);
  const delivered = async () => (await seqs()).length === 200 - stalled.deadEvents;
  await h.waitFor("the in-flight batch and the queue delivered", delivered, {
    ms: 15_000,
    seen: async () => ({ acked: (await seqs()).length, endpoint: (await h.webhooks()).stalled }),
  });
  const deadSeqs = stalled.dead.flatMap((batch) => batch.events.map((e) => e.payload.i));
  const queuedSeqs = (await seqs()).slice(stalled.inFlightEvents);
  assert.ok(
    Math.max(...deadSeqs) < Math.min(...queuedSeqs),
    `the oldest waiting events went dead: dead ${deadSeqs.at(0)}..${deadSeqs.at(-1)}, ` +
      `delivered from the queue ${queuedSeqs.at(0)}..`,
  );
  const redeliver = await h.api("POST", "/api/webhooks/stalled/redeliver");
  assert.equal(redeliver.status, 200, redeliver.text);
  assert.equal(redeliver.json.redelivered, stalled.dead.length);
  await h.waitFor("every broadcast acknowledged", async () => (await seqs()).length >= 200, {
    seen: async () => ({ acked: (await seqs()).length, endpoint: (await h.webhooks()).stalled }),
  });
  await sleep(SETTLE_MS);
  const all = (await seqs()).sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: 200 }, (_, i) => i), "every broadcast exactly once");
  assertWellFormed(await rx.log());
});

test("a batch failing past --webhook-max-age goes to the dead letters, and is redelivered", async (t) => {
  const h = await setup(t, { old: {} }, { args: ["--webhook-max-age", "1"], retryMaxMs: 300 });
  await h.rx.old.mode({ status: 503, for_ms: 60_000 });
  const start = Date.now();
  await h.publish({ topic: "room:o", event: "n", payload: { old: true } });
  const [dead] = await h.waitFor(
    "the batch too old for another try",
    async () => {
      const dead = await h.dead("old");
      return dead.length > 0 && dead;
    },
    { ms: 5000, seen: async () => ({ attempts: (await h.rx.old.log()).length, endpoint: (await h.webhooks()).old }) },
  );
  assert.ok(dead.at - start >= 1000, `dead ${dead.at - start} ms after the publish, before the max age of 1 s`);
  assert.deepEqual(dead.events.map((e) => e.payload), [{ old: true }]);
  assert.equal(dead.status, 503, `the last status: ${JSON.stringify(dead)}`);
  const attempts = await h.rx.old.log();
  assert.ok(attempts.length >= 2 && attempts.every((r) => r.id === dead.id), "retried, with one id, until too old");

  await h.rx.old.mode({});
  assert.deepEqual((await h.api("POST", "/api/webhooks/old/redeliver")).json, { redelivered: 1 });
  await h.waitFor("the redelivery", async () =>
    (await h.rx.old.log()).some((r) => r.id === dead.id && r.status_answered === 200),
  );
  assertWellFormed(await h.rx.old.log());
});

test("GET /api/webhooks lists the endpoints and their state; a receiver down opens its breaker", async (t) => {
  // Waits under 100 ms: the 20 failed calls that open the breaker come within about a second.
  const h = await setup(t, { up: {}, down: {} }, { retryMaxMs: 100 });
  await h.rx.down.mode({ status: 500, for_ms: 60_000 });
  await h.publish([1, 2, 3].map((n) => ({ topic: "room:l", event: "n", payload: { n } })));
  await h.waitEvent("up", "the third broadcast", (e) => e.payload?.n === 3);
  await h.waitFor("the down endpoint's first attempt", async () => (await h.rx.down.log()).length > 0);
  const list = await h.waitFor(
    "the up endpoint's deliveries counted",
    async () => {
      const webhooks = await h.webhooks();
      return webhooks.up.delivered > 0 && Number(webhooks.up.in_flight) === 0 && webhooks;
    },
    { ms: 3000, seen: () => h.webhooks() },
  );
  assert.deepEqual(Object.keys(list).sort(), ["down", "up"]);
  for (const [name, endpoint] of Object.entries(list)) {
    assert.equal(endpoint.url, h.rx[name].url, `${name}: url`);
    for (const field of ["queued", "delivered", "dead"]) {
      assert.equal(typeof endpoint[field], "number", `${name}: ${field} is ${JSON.stringify(endpoint[field])}`);
    }
    // Not typed by the spec: a count or a flag, and a number or null with nothing queued.
    assert.ok(["number", "boolean"].includes(typeof endpoint.in_flight), `${name}: in_flight ${endpoint.in_flight}`);
    const oldest = endpoint.oldest_queued_ms;
    assert.ok(oldest === null || typeof oldest === "number", `${name}: oldest_queued_ms ${oldest}`);
    assert.ok(["closed", "open", "half_open"].includes(endpoint.breaker), `${name}: breaker ${endpoint.breaker}`);
  }
  assert.deepEqual(
    { queued: list.up.queued, dead: list.up.dead, breaker: list.up.breaker },
    { queued: 0, dead: 0, breaker: "closed" },
  );
  assert.equal(list.down.delivered, 0);
  assert.ok(Number(list.down.in_flight) > 0, `down: in_flight ${list.down.in_flight}`);
  await h.waitFor("the down endpoint's breaker to open", async () => (await h.webhooks()).down.breaker === "open", {
    ms: 8000,
    seen: async () => ({ endpoint: (await h.webhooks()).down, attempts: (await h.rx.down.log()).length }),
  });
  assert.equal(await h.metric("ferrocast_webhook_breaker_state", { endpoint: "down" }), 1);
  assert.equal(await h.metric("ferrocast_webhook_breaker_state", { endpoint: "up" }), 0);
  // Open, it stops the attempts.
  const attempts = (await h.rx.down.log()).length;
  await sleep(SETTLE_MS);
  assert.ok((await h.rx.down.log()).length <= attempts + 1, "attempts went on while the breaker was open");
});
