// Two relays on one Redis, with the official phoenix.js client: a page on each relay, and each page's Presence
// lists both, a push on one reaches the other, and when a relay shuts down its members leave the other page at
// once (the relay says goodbye; a relay that dies without one is the Rust test's, tests/relay_cluster.rs).
//
// Redis is the one `cargo xtask test` runs for every step (FERROCAST_REDIS_URL); without it the tests are skipped,
// saying so. Run by hand: `FERROCAST_REDIS_URL=redis://127.0.0.1:6379 node --test cluster.test.mjs`.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Presence, Socket } from "phoenix";
import WebSocket from "ws";

import { startRelay } from "../support/relay-process.mjs";

const REDIS_URL = process.env.FERROCAST_REDIS_URL;
const SKIP = REDIS_URL ? false : "FERROCAST_REDIS_URL is not set: run through `cargo xtask test`";
const WAIT_MS = 5000;
/** The presence timeout the relays run with: a relay's goodbye must beat it. */
const PRESENCE_TIMEOUT_MS = 3000;
const TOPIC = `room:cluster-js-${process.pid}`;

let relays = [];
let sockets = [];
before(async () => {
  if (SKIP) return;
  const args = ["--pubsub", REDIS_URL, "--presence-heartbeat-ms", "200", "--presence-timeout-ms", `${PRESENCE_TIMEOUT_MS}`];
  relays = await Promise.all([startRelay(args), startRelay(args)]);
  sockets = relays.map((relay) => {
    const socket = new Socket(`ws://127.0.0.1:${relay.port}/socket`, { transport: WebSocket });
    socket.connect();
    return socket;
  });
});
after(async () => {
  sockets.forEach((socket) => socket.disconnect());
  await Promise.allSettled(relays.map((relay) => relay.stop()));
});

function within(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    const logs = relays.map((relay, n) => `relay ${n}:\n${relay.log()}`).join("\n");
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}\n${logs}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves once `presence`'s list satisfies `wanted`. */
function presenceUntil(presence, wanted, what, ms) {
  return within(
    new Promise((resolve) => {
      const check = () => {
        const keys = presence.list((key) => key).sort();
        if (wanted(keys)) resolve(keys);
      };
      presence.onSync(check);
      check();
    }),
    what,
    ms,
  );
}

function join(channel) {
  return within(
    new Promise((resolve, reject) => {
      channel.join().receive("ok", resolve).receive("error", reject);
    }),
    `joining ${channel.topic}`,
  );
}

test("each page's Presence lists the members of both relays, and a push crosses relays", { skip: SKIP }, async () => {
  const [onA, onB] = sockets.map((socket, n) => socket.channel(TOPIC, { user_id: ["ana", "ben"][n] }));
  const [presenceA, presenceB] = [new Presence(onA), new Presence(onB)];
  await join(onA);
  await join(onB);
  assert.deepEqual(await presenceUntil(presenceA, (keys) => keys.length === 2, "ben on ana's page"), ["ana", "ben"]);
  assert.deepEqual(await presenceUntil(presenceB, (keys) => keys.length === 2, "ana on ben's page"), ["ana", "ben"]);

  const heard = within(new Promise((resolve) => onA.on("new_msg", resolve)), "ben's message on relay A");
  onB.push("new_msg", { body: "from B" });
  assert.deepEqual(await heard, { body: "from B" });
});

test("a relay that shuts down takes its members off the other relay's pages at once", { skip: SKIP }, async () => {
  const topic = `${TOPIC}-leave`;
  const presenceA = new Presence(sockets[0].channel(topic, { user_id: "ana" }));
  await join(presenceA.channel);
  await join(sockets[1].channel(topic, { user_id: "ben" }));
  await presenceUntil(presenceA, (keys) => keys.includes("ben"), "ben on ana's page");

  // Relay B closes its sockets (ben's leave goes out) and says goodbye, without waiting for the presence timeout.
  const stopping = Date.now();
  const stopped = relays[1].stop();
  await presenceUntil(presenceA, (keys) => !keys.includes("ben"), "ben leaving ana's page", PRESENCE_TIMEOUT_MS);
  const took = Date.now() - stopping;
  assert.ok(took < PRESENCE_TIMEOUT_MS, `ben left after ${took} ms`);
  sockets[1].disconnect();
  await stopped;
  assert.deepEqual(presenceA.list((key) => key), ["ana"]);
});
