// The page's own events, fired here as the browser fires them: coming back online, becoming visible, and leaving
// for the back/forward cache and returning from it.

import { equal, ok } from "../support/assert.mjs";
import { proxied, relay } from "../support/endpoints.mjs";
import { goOffline, proxy } from "../support/proxy.mjs";
import { test } from "../support/registry.mjs";
import { describe } from "../support/seen.mjs";
import { connected, joined } from "../support/sockets.mjs";
import { sleep, until } from "../support/wait.mjs";

test("coming back online reconnects at once instead of waiting out the backoff", async () => {
  const [socket, seen] = await connected(proxied, { backoff: { baseMs: 60000, maxMs: 60000, jitter: 0 } });
  await goOffline(300);
  await seen.waitCount("close", 1);
  const nextRetry = socket.getStats().nextRetryInMs;
  ok(nextRetry > 50_000, `waiting out a minute of backoff: ${nextRetry}`);
  await sleep(400);
  fire(window, "online");
  await seen.waitCount("open", 2);
  socket.disconnect();
});

test("a page made visible probes the connection with a heartbeat", async () => {
  const [socket] = await connected(relay, { heartbeatIntervalMs: 600000 });
  const rtt = () => socket.getStats().lastHeartbeatRttMs;
  ok(rtt() === null, "no heartbeat yet, with a ten-minute interval");
  fire(document, "visibilitychange");
  await until("the probe's heartbeat is answered", () => rtt() !== null);
  socket.disconnect();
});

test("pagehide leaves cleanly and pageshow rejoins", async () => {
  // Every socket of the page hears pagehide, so the server side is watched through the relay's HTTP API.
  const [socket, seen] = await connected(relay, {});
  const channel = await joined(socket, "room:bfcache", { user_id: "page" }, seen);
  const present = async () => describe(await proxy("relay/api/presence/room:bfcache")).includes('"page"');
  for (let poll = 0; poll < 100; poll++) {
    if (await present()) break;
    await sleep(20);
  }
  ok(await present(), "the relay lists the page");

  fire(window, "pagehide");
  await seen.waitFor('close {"code":1000,"reason":"page hidden","wasClean":true}');
  for (let poll = 0; poll < 100; poll++) {
    if (!(await present())) break;
    await sleep(20);
  }
  ok(!(await present()), "the relay dropped the page's presence at once, not at a timeout");
  equal(socket.connectionState(), "closed");

  fire(window, "pageshow");
  await seen.waitCount("open", 2);
  await seen.waitCount("joined", 2);
  equal(channel.state, "joined");
  socket.disconnect();
});

/** Fires a page event the way the browser would. */
function fire(target, event) {
  target.dispatchEvent(new Event(event));
}
