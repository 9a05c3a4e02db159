// What a socket behind the cutting proxy does when its connection goes: reconnects with jittered backoff and
// rejoins, sends what was pushed meanwhile once each and in order, resends a push whose reply was lost (handled
// once), gets the broadcasts it missed or hears that it cannot, and says what a full queue dropped.

import { equal, ok } from "../support/assert.mjs";
import { client } from "../support/client.mjs";
import { proxied, relay } from "../support/endpoints.mjs";
import { goOffline, proxy } from "../support/proxy.mjs";
import { test } from "../support/registry.mjs";
import { Seen } from "../support/seen.mjs";
import { connected, joined, watching } from "../support/sockets.mjs";
import { sleep } from "../support/wait.mjs";

const { Socket } = client;

test("a cut connection reconnects with jittered backoff and rejoins", async () => {
  const seen = new Seen();
  const logger = (kind, message) => {
    const text = typeof message === "string" ? message : "";
    if (kind === "transport" && text.startsWith("reconnect attempt")) seen.push(text);
  };
  const socket = new Socket(proxied, { backoff: { baseMs: 100, maxMs: 400, jitter: 1 }, logger });
  socket.onOpen(seen.recorder("open"));
  socket.connect();
  await seen.waitFor("open");
  const channel = socket.channel("room:cut", { user_id: "cat" });
  channel.onError(seen.recorder("channel error"));
  channel.join().receive("ok", seen.recorder("joined"));
  await seen.waitFor("joined {}");

  // Refuse new connections for a while, then cut: several attempts fail before one gets through.
  await goOffline(1200);
  await seen.waitCount("channel error", 1);
  await seen.waitCount("open", 2);
  await seen.waitCount("joined", 2);
  equal(channel.state, "joined");

  const delays = seen.all().filter((entry) => entry.startsWith("reconnect attempt ")).map(delayOf);
  ok(delays.length >= 3, `several attempts while refused: ${JSON.stringify(seen.all())}`);
  // Full jitter: attempt n waits a random time up to min(400, 100·2ⁿ⁻¹) ms.
  const ceiling = (n) => Math.min(400, 100 * 2 ** n);
  delays.forEach((delay, n) => ok(delay <= ceiling(n), `attempt ${n + 1} waited ${delay} ms: ${delays}`));
  const belowCeiling = delays.filter((delay, n) => delay < ceiling(n)).length;
  ok(belowCeiling > 0, `jittered, not the bare exponential: ${delays}`);
  socket.disconnect();
});

test("pushes made offline arrive once each in order after the reconnect", async () => {
  const [watcher, watched] = await watching("room:offline");

  const [socket, seen] = await connected(proxied, { backoff: { baseMs: 50, maxMs: 200, jitter: 1 } });
  const channel = await joined(socket, "room:offline", { no_presence: true }, seen);

  await goOffline(500);
  await seen.waitCount("close", 1);
  for (let n = 0; n < 5; n++) channel.push("new_msg", { n }).receive("ok", seen.recorder("sent"));
  equal(socket.getStats().queuedPushes, 5);
  await seen.waitCount("sent", 5);
  await watched.waitCount("msg", 5);
  await sleep(200);
  const messages = watched.all().filter((entry) => entry.startsWith("msg"));
  equal(messages, numbered(0, 4), "once each, in order");
  socket.disconnect();
  watcher.disconnect();
});

test("a push whose reply was lost is sent again and handled once", async () => {
  const [watcher, watched] = await watching("room:resent");

  const [socket, seen] = await connected(proxied, { backoff: { baseMs: 50, maxMs: 200, jitter: 1 } });
  const channel = await joined(socket, "room:resent", { no_presence: true }, seen);
  // The relay gets the push and handles it (the watcher sees its broadcast), but the reply is lost with the
  // connection.
  await proxy("mute");
  channel.push("new_msg", { n: 1 }).receive("ok", seen.recorder("acked"));
  await watched.waitFor('msg {"n":1} null');
  equal(socket.getStats().awaitingReply, 1);
  await goOffline(300);
  await seen.waitCount("close", 1);

  await seen.waitFor('acked {"n":1}');
  await sleep(300);
  equal(watched.count("msg"), 1, `handled once: ${JSON.stringify(watched.all())}`);
  equal(seen.count("acked"), 1);
  socket.disconnect();
  watcher.disconnect();
});

test("broadcasts missed while away are replayed and a gap too long is reported", async () => {
  const [publisher] = await connected(relay, {});
  const published = new Seen();
  const publish = await joined(publisher, "room:recover", { no_presence: true }, published);
  const send = (from, to) => {
    for (let n = from; n <= to; n++) publish.push("new_msg", { n }).receive("ok", published.recorder("sent"));
  };

  const [socket, seen] = await connected(proxied, { backoff: { baseMs: 50, maxMs: 200, jitter: 1 } });
  const channel = socket.channel("room:recover", { no_presence: true });
  channel.on("new_msg", seen.recorder("msg"));
  channel.onRecoveryFailed(seen.recorder("lost"));
  channel.join().receive("ok", seen.recorder("joined"));
  await seen.waitCount("joined", 1);
  send(1, 1);
  await seen.waitCount("msg", 1);

  // Away for a while: what is broadcast meanwhile comes after the rejoin, in order, once.
  await goOffline(400);
  await seen.waitCount("close", 1);
  send(2, 4);
  await published.waitCount("sent", 4);
  await seen.waitCount("joined", 2);
  await seen.waitCount("msg", 4);
  await sleep(100);
  const messages = seen.all().filter((entry) => entry.startsWith("msg"));
  equal(messages, numbered(1, 4), "each once, in order");
  equal(seen.count("lost"), 0);

  // Away while more is broadcast than the relay keeps (1,000, set by cargo xtask test): the channel says so, and
  // carries on from the current position with no partial replay. It stays away until all are published, however
  // long that takes, then comes back at once.
  const KEPT = 1_000;
  await goOffline(20_000);
  await seen.waitCount("close", 2);
  send(5, KEPT + 34);
  await published.waitCount("sent", KEPT + 34);
  await proxy("refuse?ms=0");
  await seen.waitCount("lost", 1);
  const lost = seen.all().find((entry) => entry.startsWith("lost"));
  ok(lost.includes('"topic":"room:recover"') && lost.includes('"offset":'), lost);
  send(KEPT + 35, KEPT + 35);
  await seen.waitFor(`msg {"n":${KEPT + 35}} null`);
  equal(seen.count("msg"), 5, `no replay of a history with a gap: ${JSON.stringify(seen.all())}`);
  socket.disconnect();
  publisher.disconnect();
});

test("a full queue reports what it dropped", async () => {
  const [socket, seen] = await connected(proxied, { queue: { maxMessages: 2 }, backoff: { baseMs: 50, maxMs: 100 } });
  socket.onQueueDrop(seen.recorder("dropped"));
  const channel = await joined(socket, "room:full", { no_presence: true }, seen);

  await goOffline(400);
  await seen.waitCount("close", 1);
  for (let n = 0; n < 3; n++) {
    const push = channel.push("ping", { n });
    push.receive("ok", seen.recorder(`ok ${n}`)).receive("timeout", seen.recorder(`timeout ${n}`));
  }
  await seen.waitFor('dropped {"topic":"room:full","event":"ping","reason":"queue_full"}');
  await seen.waitFor("timeout 2 {}");
  await seen.waitFor('ok 0 {"n":0}');
  await seen.waitFor('ok 1 {"n":1}');
  equal(seen.count("ok 2"), 0, `the dropped push never went out: ${JSON.stringify(seen.all())}`);
  socket.disconnect();
});

/** The delay a `reconnect attempt N in D ms` log line announces, in ms. */
function delayOf(entry) {
  const delay = Number(entry.split(" in ")[1]?.replace(/( ms)+$/, ""));
  if (!Number.isInteger(delay) || delay < 0) throw new Error(`no delay in ms in ${JSON.stringify(entry)}`);
  return delay;
}

/** The broadcasts `{"n": from}` to `{"n": to}` as a watcher records them. */
function numbered(from, to) {
  return Array.from({ length: to - from + 1 }, (_, i) => `msg {"n":${from + i}} null`);
}
