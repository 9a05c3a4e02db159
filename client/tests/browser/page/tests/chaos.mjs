// The client under the chaos tests/chaos.rs puts the native client through: the proxy cuts every 50–300 ms
// (dropping the relay's frames for up to 20 ms before each cut, so replies are lost after their push was handled)
// while a socket of its own publishes 10,000 numbered broadcasts and the client pushes 1,000 numbered messages.
// Every broadcast arrives once, in order; every push is answered `ok` and handled once, as a watcher that is not
// behind the proxy sees from the broadcasts the handler makes.

import { equal, ok } from "../support/assert.mjs";
import { client } from "../support/client.mjs";
import { moduleUrls, proxied, relay } from "../support/endpoints.mjs";
import { proxy, proxyCount } from "../support/proxy.mjs";
import { test } from "../support/registry.mjs";
import { Seen } from "../support/seen.mjs";
import { connected, joined } from "../support/sockets.mjs";
import { eventually, sleep } from "../support/wait.mjs";

const { Socket } = client;

// What a payload without the number is recorded as: a number no test expects, so it cannot pass unseen.
const NO_NUMBER = 2 ** 32 - 1;

test("under random cuts every broadcast arrives once in order and every push is handled once", async () => {
  const BROADCASTS = 10_000;
  const PUSHES = 1_000;
  const NO_PRESENCE = { no_presence: true };
  // The relay outlives one run of the tests when they are run by hand, or once per build: fresh topics each time.
  const unique = Math.floor(Math.random() * 1e12).toString(16);
  const [topic, pushTopic] = [`room:chaos-${unique}`, `room:chaos-pushes-${unique}`];

  const [watcher, watcherSeen] = await connected(relay, {});
  const watch = watcher.channel(pushTopic, NO_PRESENCE);
  const handled = numbersAt("push");
  watch.on("new_msg", handled.record);
  watch.join().receive("ok", watcherSeen.recorder("joined"));
  await watcherSeen.waitFor("joined {}");
  const [publisher, publisherSeen] = await connected(relay, {});
  const publish = await joined(publisher, topic, NO_PRESENCE, publisherSeen);

  // Reconnect fast, as the point is to be cut often; no push may time out, however long the chaos.
  const resent = resentPushes(pushTopic);
  const seen = new Seen();
  const socket = new Socket(proxied, {
    backoff: { baseMs: 10, maxMs: 50, jitter: 1 },
    timeout: 30000,
    logger: resent.logger,
  });
  socket.onOpen(seen.recorder("open"));
  socket.connect();
  await seen.waitFor("open");
  const broadcasts = socket.channel(topic, NO_PRESENCE);
  const received = numbersAt("n");
  broadcasts.on("new_msg", received.record);
  broadcasts.onRecoveryFailed(seen.recorder("recovery failed"));
  broadcasts.join().receive("ok", seen.recorder("joined"));
  await seen.waitCount("joined", 1);
  const pushes = await joined(socket, pushTopic, NO_PRESENCE, seen);

  const cutsBefore = await proxyCount("cuts");
  // Long enough for the run, short enough that a test that dies midway frees the proxy for the tests after it.
  await proxy("chaos?ms=40000&min=50&max=300&mute=20");
  const published = counter();
  const acked = numbersAt("push");
  const notOk = counter();
  // One push and ten broadcasts every 10 ms or so: both spread over the whole chaos.
  const perPush = BROADCASTS / PUSHES;
  for (let push = 0; push < PUSHES; push++) {
    for (let n = push * perPush; n < (push + 1) * perPush; n++) {
      publish.push("new_msg", { n }).receive("ok", published.count);
    }
    pushes
      .push("new_msg", { push })
      .receive("ok", acked.record)
      .receive("error", notOk.count)
      .receive("timeout", notOk.count);
    await sleep(10);
  }
  const state = () =>
    `${received.numbers.length} broadcasts received (last ${received.numbers.at(-1)}), ` +
    `${acked.numbers.length} pushes answered ok, ${notOk.calls} not ok, ${handled.numbers.length} handled, ` +
    `${published.calls} published`;
  const everything = () =>
    received.numbers.at(-1) === BROADCASTS - 1 && acked.numbers.length + notOk.calls >= PUSHES;
  const finished = await eventually(60, everything);
  // Anything doubled would come right behind: keep listening, through more cuts, before judging.
  await sleep(1000);
  // Stopped before any assertion, so a failure here does not leave the tests that follow under chaos.
  await proxy("chaos?ms=0");
  ok(finished, `the last broadcast and every push's reply within 60 s: ${state()}`);
  const cuts = (await proxyCount("cuts")) - cutsBefore;
  // The watcher and the publisher are not behind the proxy: what they have not seen by now will not come.
  await eventually(10, () => handled.numbers.length >= PUSHES && published.calls >= BROADCASTS);
  equal(published.calls, BROADCASTS, `every publication answered ok: ${state()}`);

  const inOrder = received.numbers.length === BROADCASTS && received.numbers.every((n, i) => n === i);
  if (!inOrder) {
    const numbers = received.numbers;
    const firstWrong = firstIndexNotEqualToItself(numbers);
    const around = numbers.slice(Math.max(0, firstWrong - 3), Math.min(firstWrong + 5, numbers.length));
    const wrong = notOnce(numbers, BROADCASTS);
    throw new Error(
      `broadcasts not received exactly once in order: ${numbers.length} received, first wrong at index ` +
        `${firstWrong} (around it: ${JSON.stringify(around)}); (n, times) not once: ` +
        JSON.stringify(wrong.slice(0, 20)),
    );
  }
  equal(seen.count("recovery failed"), 0, `the relay's history outlasts every cut: ${JSON.stringify(seen.all())}`);
  equal(notOk.calls, 0, `every push answered ok: ${state()}`);
  equal(notOnce(acked.numbers, PUSHES), [], "each push answered once, with its payload");
  equal(notOnce(handled.numbers, PUSHES), [], "each push handled once (push, times)");
  const connections = seen.count("open");
  console.log(
    `chaos (${moduleUrls.join(" + ")} in Chromium): ${received.numbers.length} broadcasts received once each in order, ` +
      `${handled.numbers.length} pushes handled once each (${resent.count} sent again after a cut), over ` +
      `${connections} connections (${cuts} cuts)`,
  );
  ok(cuts >= 20, `only ${cuts} cuts: the test proved little`);
  for (const each of [socket, publisher, watcher]) each.disconnect();
});

/** A callback (`record`) that records the number at `key` of each payload it is given (`n` of `{"n": 3}`). */
function numbersAt(key) {
  const numbers = [];
  const record = (payload) => {
    const number = payload?.[key];
    numbers.push(typeof number === "number" ? number : NO_NUMBER);
  };
  return { numbers, record };
}

/** A callback (`count`) that counts its calls. */
function counter() {
  const counted = {
    calls: 0,
    count: () => {
      counted.calls += 1;
    },
  };
  return counted;
}

/**
 * A `logger` option that counts the pushes to `topic` the socket sends again with a ref it sent before (after a
 * lost connection), from the frames it logs as it sends them.
 */
function resentPushes(topic) {
  const sentRefs = new Set();
  const resent = {
    count: 0,
    logger: (kind, _message, data) => {
      if (kind !== "push" || typeof data !== "string") return;
      let fields;
      try {
        fields = JSON.parse(data);
      } catch {
        return;
      }
      const field = (i) => (Array.isArray(fields) && typeof fields[i] === "string" ? fields[i] : "");
      if (field(2) !== topic || field(3) !== "new_msg") return;
      if (sentRefs.has(field(1))) resent.count += 1;
      else sentRefs.add(field(1));
    },
  };
  return resent;
}

/** The first index `i` where `numbers[i]` is not `i`; the length when there is none. */
function firstIndexNotEqualToItself(numbers) {
  const index = numbers.findIndex((n, i) => n !== i);
  return index < 0 ? numbers.length : index;
}

/** Which of `0..count` do not occur exactly once in `numbers`, as `[n, times]`, strays last as `[NO_NUMBER, k]`. */
function notOnce(numbers, count) {
  const times = new Array(count).fill(0);
  let strays = 0;
  for (const n of numbers) {
    if (Number.isInteger(n) && n >= 0 && n < count) times[n] += 1;
    else strays += 1;
  }
  const wrong = times.flatMap((t, n) => (t === 1 ? [] : [[n, t]]));
  if (strays > 0) wrong.push([NO_NUMBER, strays]);
  return wrong;
}
