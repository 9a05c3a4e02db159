// `EventStream` against the relay's `GET /sse`, directly and through the proxy that cuts connections on command. The
// page is served from another origin than the relay's, so every request here crosses CORS as a page's would.
//
// Broadcasts (`new_msg`) are published through the relay's HTTP API, by way of the proxy's control endpoint: the
// relay answers CORS only for `/sse`.

import { equal, ok, throws } from "../support/assert.mjs";
import { client } from "../support/client.mjs";
import { proxied, relay } from "../support/endpoints.mjs";
import { proxy } from "../support/proxy.mjs";
import { test } from "../support/registry.mjs";
import { Seen } from "../support/seen.mjs";
import { sleep } from "../support/wait.mjs";

const { EventStream } = client;
const SSE = { needs: "sse" };

/** `GET /sse?{query}` on the server behind a WebSocket endpoint (`ws://host:port/socket`). */
function sseUrl(socketEndpoint, query) {
  const origin = socketEndpoint.replace("ws", "http");
  return `${origin.replace(/\/socket$/, "")}/sse?${query}`;
}

/** How many connections the proxy has seen, let through or refused. */
async function proxyConnections() {
  const stats = await proxy("stats");
  return stats.accepted + stats.refused;
}

/** Broadcasts `new_msg {"n": n}` to `topic` for each `n` from `from` to `to`, in one request, once published. */
async function publish(topic, from, to) {
  const messages = numbers(from, to).map((n) => ({ topic, event: "new_msg", payload: { n } }));
  await proxy("relay/api/broadcast", JSON.stringify(messages));
}

function numbers(from, to) {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** `{"n":from}` to `{"n":to}`, as recorded. */
function numbered(from, to) {
  return numbers(from, to).map((n) => `{"n":${n}}`);
}

/** The data of the events recorded under `label` (an event's data is JSON with no space in it). */
function data(seen, label) {
  return seen.labelled(label).map((entry) => entry.split(" ")[0]);
}

/**
 * A stream with its callbacks recorded: `open`, `error …`, `lost …` (recovery failed), `subscribed …` and `msg …`
 * (`new_msg`). `[stream, seen]`.
 */
function watched(url, options) {
  const seen = new Seen();
  const stream = new EventStream(url, options);
  stream.onOpen(seen.recorder("open"));
  stream.onError(seen.recorder("error"));
  stream.onRecoveryFailed(seen.recorder("lost"));
  stream.on("ferrocast:subscribed", seen.recorder("subscribed"));
  stream.on("new_msg", seen.recorder("msg"));
  return [stream, seen];
}

test("an EventStream's named events arrive with JSON data, their topic and the id to resume from", SSE, async () => {
  const [stream, seen] = watched(sseUrl(relay, "topic=room:es-named-a&topic=room:es-named-b"), {});
  equal(stream.readyState, 0, "connecting from the start, as EventSource");
  const unwanted = stream.on("new_msg", seen.recorder("unwanted"));
  stream.off(unwanted);
  await seen.waitCount("subscribed", 2);
  equal(seen.count("open"), 1);
  equal(stream.readyState, 1);
  const subscribed = seen.labelled("subscribed");
  ok(subscribed[0].startsWith('{"epoch":'), `data is parsed JSON: ${JSON.stringify(subscribed)}`);
  ok(subscribed[0].includes('"recovered":null,"topic":"room:es-named-a"}'), JSON.stringify(subscribed));
  ok(
    subscribed[1].includes('{"event":"ferrocast:subscribed","topic":"room:es-named-b","lastEventId":"'),
    JSON.stringify(subscribed),
  );

  await publish("room:es-named-a", 1, 1);
  await publish("room:es-named-b", 2, 2);
  await seen.waitCount("msg", 2);
  const [[dataA, metaA], [dataB, metaB]] = seen.labelled("msg").map((entry) => entry.split(" "));
  equal([dataA, dataB], ['{"n":1}', '{"n":2}']);
  ok(metaA.startsWith('{"event":"new_msg","topic":"room:es-named-a","lastEventId":"'), metaA);
  ok(metaB.startsWith('{"event":"new_msg","topic":"room:es-named-b","lastEventId":"'), metaB);
  // The id holds both topics' positions; the last one is what a new stream would resume from.
  const id = JSON.parse(metaB).lastEventId;
  equal(id.split(",").length, 2, id);
  equal(stream.lastEventId, id);
  equal(seen.count("unwanted"), 0, "off removed the binding");
  equal(seen.count("error") + seen.count("lost"), 0, JSON.stringify(seen.all()));
  stream.close();
});

test("an EventStream's Authorization header passes the CORS preflight", SSE, async () => {
  const [stream, seen] = watched(sseUrl(relay, "topic=room:es-auth"), { headers: { Authorization: "Bearer secret" } });
  await seen.waitCount("subscribed", 1);
  await publish("room:es-auth", 1, 1);
  await seen.waitCount("msg", 1);
  equal(seen.count("error"), 0, JSON.stringify(seen.all()));
  stream.close();
});

test("a cut EventStream resumes with nothing missed and nothing doubled", SSE, async () => {
  const topic = "room:es-cut";
  // A minute of backoff of its own, without jitter: reconnecting after seconds shows that the relay's `retry` (2 to
  // 3 s) is the base, and it outlasts the refusal below, so the first attempt gets through.
  const [stream, seen] = watched(sseUrl(proxied, `topic=${topic}`), { backoff: { baseMs: 60000, jitter: 0 } });
  await seen.waitCount("subscribed", 1);
  await publish(topic, 1, 3);
  await seen.waitCount("msg", 3);

  // Cut, and refuse the reconnects for a while: what is broadcast meanwhile must come after the resume.
  await proxy("refuse?ms=600");
  await proxy("cut");
  await seen.waitCount("error", 1);
  equal(seen.labelled("error")[0].split(",")[0], '{"status":0', `no HTTP answer: ${JSON.stringify(seen.all())}`);
  equal(stream.readyState, 0, "reconnecting");
  await publish(topic, 4, 8);
  await seen.waitCount("open", 2);
  await publish(topic, 9, 9);
  await seen.waitCount("msg", 9);
  await sleep(200);
  equal(data(seen, "msg"), numbered(1, 9), `each once, in order: ${JSON.stringify(seen.all())}`);
  const resumed = seen.labelled("subscribed")[1];
  ok(resumed.includes('"recovered":true'), `the relay replayed from the id: ${resumed}`);
  equal(seen.count("lost"), 0);
  equal(stream.readyState, 1);
  stream.close();
});

test("a new EventStream resumes from an earlier one's id, and an unservable id reports recovery failed", SSE, async () => {
  const topic = "room:es-resume";
  const url = sseUrl(relay, `topic=${topic}`);
  const [first, seenFirst] = watched(url, {});
  await seenFirst.waitCount("subscribed", 1);
  await publish(topic, 1, 2);
  await seenFirst.waitCount("msg", 2);
  const id = first.lastEventId;
  first.close();
  await publish(topic, 3, 4);

  const [second, seen] = watched(url, { lastEventId: id });
  equal(second.lastEventId, id, "until the stream gives an id, the one it resumes from");
  await seen.waitCount("msg", 2);
  await sleep(100);
  equal(data(seen, "msg"), numbered(3, 4), `only what was missed: ${JSON.stringify(seen.all())}`);
  equal(seen.count("lost"), 0);
  second.close();

  // An id of another epoch (the relay restarted, say): no replay, and the page is told to reload.
  const [third, seenThird] = watched(url, { lastEventId: "1.not-this-epoch" });
  await seenThird.waitCount("lost", 1);
  const lost = seenThird.labelled("lost")[0];
  ok(lost.includes(`"recovered":false,"topic":"${topic}"`), lost);
  equal(seenThird.count("msg"), 0, "nothing replayed");
  await publish(topic, 5, 5);
  await seenThird.waitCount("msg", 1);
  equal(data(seenThird, "msg"), numbered(5, 5), "live events go on");
  third.close();
});

test("an EventStream's refusal is final, with the status and the relay's message", SSE, async () => {
  for (const [query, expected] of [
    ["topic=nowhere:es", 'error {"status":404,"message":"unmatched topic \\"nowhere:es\\""}'],
    ["topic=room:forbidden", 'error {"status":403,"message":"join of \\"room:forbidden\\" refused: '],
  ]) {
    // With a backoff this short, a reconnect would have come many times over during the wait below.
    const [stream, seen] = watched(sseUrl(relay, query), { backoff: { baseMs: 10, maxMs: 10 } });
    await seen.waitCount("error", 1);
    ok(seen.all()[0].startsWith(expected), JSON.stringify(seen.all()));
    equal(stream.readyState, 2);
    await sleep(300);
    equal(seen.all().length, 1, `no reconnect, no other callback: ${JSON.stringify(seen.all())}`);
  }
});

test("an EventStream's close() stops everything", SSE, async () => {
  const topic = "room:es-close";
  const url = sseUrl(proxied, `topic=${topic}`);

  // Closed while open: no event after it.
  const [open, seen] = watched(url, {});
  await seen.waitCount("subscribed", 1);
  open.close();
  equal(open.readyState, 2);
  await publish(topic, 1, 1);

  // Closed before the answer came: nothing at all.
  const [connecting, seenConnecting] = watched(url, {});
  connecting.close();

  // Closed while waiting to reconnect: no attempt follows. The relay's `retry` (2 to 3 s) is the longest the wait
  // can be.
  const [waiting, seenWaiting] = watched(url, {});
  await seenWaiting.waitCount("subscribed", 1);
  await proxy("refuse?ms=10000");
  await proxy("cut");
  await seenWaiting.waitCount("error", 1);
  waiting.close();
  const connections = await proxyConnections();
  await sleep(3_500);
  equal(await proxyConnections(), connections, "no reconnect after close");
  await proxy("refuse?ms=0");

  equal(seen.count("msg") + seen.count("error"), 0, JSON.stringify(seen.all()));
  equal(seenConnecting.all(), [], JSON.stringify(seenConnecting.all()));
  equal(seenWaiting.all().length, 3, `open, subscribed, error: ${JSON.stringify(seenWaiting.all())}`);
  equal(waiting.readyState, 2);
});

test("bad EventStream options throw errors that name the option", SSE, async () => {
  const message = (options) => {
    const error = throws(() => new EventStream("/sse?topic=room:a", options), JSON.stringify(options));
    ok(error instanceof Error, `an Error: ${error}`);
    return error.message;
  };
  equal(message({ header: {} }), "unknown EventStream option `header`");
  equal(message({ headers: { Authorization: 1 } }), "EventStream option `headers.Authorization` must be a string");
  equal(message({ headers: "Bearer x" }), "EventStream option `headers` must be an object");
  equal(message({ lastEventId: 7 }), "EventStream option `lastEventId` must be a string");
  equal(message({ backoff: { base: 1 } }), "unknown EventStream option `backoff.base`: expected baseMs, maxMs, jitter");
  equal(message({ backoff: { maxMs: -1 } }), "EventStream option `backoff.maxMs` must be a whole number, 0 or more");
  equal(message({ backoff: { jitter: 2 } }), "EventStream option `backoff.jitter` must be between 0 and 1");
  equal(message(5), "EventStream options must be an object");
});
