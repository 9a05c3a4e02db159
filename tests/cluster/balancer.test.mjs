// `cargo xtask cluster up --relays 3`: three relays on one Redis behind HAProxy (deploy/haproxy.cfg's settings),
// used as a page and a backend would, through the balancer: sockets spread over the relays (leastconn), broadcasts
// posted to the balancer reach sockets and event streams on every relay, and a relay killed outright is taken out
// of rotation within HAProxy's checks (every second, two failures) while new connections keep succeeding.
//
// Under `cargo xtask test`, FERROCAST_RELAY_BIN names the relay it built, so `up` builds nothing; run alone, `up`
// may build the relay first, hence the long timeout.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";
import { alive, cluster, parseUp, waitUntil } from "./cluster.mjs";

const TOPIC = "room:lb";

/** A Phoenix V2 socket through `base`, joined to TOPIC without presence; collects the broadcasts it gets. */
async function joinedSocket(base) {
  const ws = new WebSocket(`${base.replace("http", "ws")}/socket/websocket?vsn=2.0.0`);
  const broadcasts = [];
  const replies = new Map();
  ws.on("message", (data) => {
    const [, ref, topic, event, payload] = JSON.parse(data.toString());
    if (event === "phx_reply") replies.set(ref, payload);
    else if (topic === TOPIC) broadcasts.push({ event, payload });
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  ws.send(JSON.stringify(["1", "1", TOPIC, "phx_join", { no_presence: true }]));
  const reply = await waitUntil("the join's reply", () => replies.get("1"));
  assert.equal(reply.status, "ok", JSON.stringify(reply));
  return { ws, broadcasts };
}

/** Each relay's `metric` from its own /metrics: by default the gauge of open sockets and event streams. */
async function connectionsPerRelay(relays, metric = "ferrocast_connections") {
  return Promise.all(
    relays.map(async ({ url }) => {
      const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
      return Number(new RegExp(`^${metric} (\\d+)$`, "m").exec(text)[1]);
    }),
  );
}

async function broadcast(base, n) {
  const response = await fetch(`${base}/api/broadcast`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify([{ topic: TOPIC, event: "n", payload: { n } }]),
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(response.status, 200, await response.text());
}

/** HAProxy's status of server `name` (`UP`, `UP 1/2`, `DOWN`, …), from its stats page's CSV. */
async function serverStatus(name) {
  const csv = await (await fetch(`${up.stats}/;csv`, { signal: AbortSignal.timeout(2000) })).text();
  return csv.split("\n").find((line) => line.startsWith(`relays,${name},`))?.split(",")[17];
}

/** The status code of `GET url/healthz`, or 0 when nothing answers. */
async function health(url) {
  try {
    return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).status;
  } catch {
    return 0;
  }
}

let up;
const sockets = [];
after(async () => {
  sockets.forEach((socket) => socket.ws.terminate());
  if (!up) return;
  await cluster("down");
  const left = [...up.relays.map((relay) => relay.pid)].filter(alive);
  assert.deepEqual(left, [], "no relay is left running after `cluster down`");
});

test("three relays behind HAProxy, through the balancer", { timeout: 600_000 }, async (t) => {
  const { stdout, stderr } = await cluster("up", "--relays", "3");
  up = parseUp(stdout, stderr);
  assert.equal(up.relays.length, 3);
  const { balancer, relays } = up;

  await t.test("two sockets land on two relays, and both get a broadcast posted to the balancer", async () => {
    sockets.push(await joinedSocket(balancer));
    await waitUntil("the first socket counted", async () => (await connectionsPerRelay(relays)).includes(1));
    sockets.push(await joinedSocket(balancer));
    const spread = await waitUntil("both sockets counted", async () => {
      const counts = await connectionsPerRelay(relays);
      return counts.reduce((a, b) => a + b) === 2 && counts;
    });
    assert.deepEqual([...spread].sort(), [0, 1, 1], `leastconn spreads them: ${spread}`);
    await broadcast(balancer, 1);
    for (const [i, socket] of sockets.entries()) {
      await waitUntil(`socket ${i + 1} gets the broadcast`, () =>
        socket.broadcasts.find((b) => b.event === "n" && b.payload.n === 1),
      );
    }
  });

  await t.test("an event stream through the balancer gets a broadcast", async () => {
    const controller = new AbortController();
    const response = await fetch(`${balancer}/sse?topic=${TOPIC}`, { signal: controller.signal });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type"), /^text\/event-stream/);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const readUntil = async (pattern) => {
      const deadline = Date.now() + 5000;
      while (!pattern.test(text)) {
        const { value, done } = await Promise.race([
          reader.read(),
          sleep(Math.max(0, deadline - Date.now())).then(() => ({ done: true, timedOut: true })),
        ]);
        if (done) throw new Error(`the stream ended or was quiet without ${pattern}: ${text}`);
        text += value;
      }
    };
    try {
      await readUntil(/event: ferrocast:subscribed\n/);
      await broadcast(balancer, 2);
      await readUntil(/event: n\ndata: \{"n":2\}\n/);
    } finally {
      controller.abort();
      await reader.cancel().catch(() => {});
    }
  });

  await t.test("a relay killed outright is taken out, and new connections go to the others", async () => {
    const dead = relays[0];
    process.kill(dead.pid, "SIGKILL");
    const killed = Date.now();
    await waitUntil("HAProxy marks relay1 down", async () => (await serverStatus("relay1"))?.startsWith("DOWN"));
    const took = Date.now() - killed;
    t.diagnostic(`HAProxy marked the killed relay down after ${took} ms`);
    assert.ok(took <= 3500, `marked down within inter 1s × fall 2 (and a check's slack): ${took} ms`);

    // WebSockets accepted, a counter: the event stream above, whose end a relay notices only at its next write,
    // does not move it.
    const accepted = async () => {
      const counts = await connectionsPerRelay(relays.slice(1), "ferrocast_connections_total");
      return counts.reduce((a, b) => a + b);
    };
    const before = await accepted();
    const fresh = await Promise.all(Array.from({ length: 6 }, () => joinedSocket(balancer)));
    sockets.push(...fresh);
    assert.equal(await accepted(), before + 6, "the 6 new sockets are all on the live relays");
    await broadcast(balancer, 3);
    for (const [i, socket] of fresh.entries()) {
      await waitUntil(`new socket ${i + 1} gets the broadcast`, () =>
        socket.broadcasts.find((b) => b.event === "n" && b.payload.n === 3),
      );
    }
  });

  await t.test("a relay asked to stop drains: HAProxy takes it out while it still serves, then it closes", async () => {
    const [draining, last] = [relays[1], relays[2]];
    process.kill(draining.pid, "SIGTERM");
    const asked = Date.now();
    await waitUntil("relay2 answers /healthz with 503", async () => (await health(draining.url)) === 503, 1000);
    await waitUntil("HAProxy marks relay2 down", async () => (await serverStatus("relay2"))?.startsWith("DOWN"));
    const markedDown = Date.now() - asked;
    assert.equal(await health(draining.url), 503, `relay2 still serves when marked down (${markedDown} ms)`);
    t.diagnostic(`HAProxy marked the draining relay down after ${markedDown} ms, inside its 3,000 ms drain`);
    const before = (await connectionsPerRelay([last], "ferrocast_connections_total"))[0];
    sockets.push(await joinedSocket(balancer));
    assert.equal((await connectionsPerRelay([last], "ferrocast_connections_total"))[0], before + 1, "on relay3");
    await waitUntil("relay2 exits after its drain", () => !alive(draining.pid), 10_000);
    const exited = Date.now() - asked;
    t.diagnostic(`the draining relay exited after ${exited} ms`);
    assert.ok(exited >= 2900, `not before the drain: ${exited} ms`);
  });
});
