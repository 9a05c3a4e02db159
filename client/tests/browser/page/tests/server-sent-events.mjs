// The socket over server-sent events: as the fallback when WebSockets cannot open (and asked for once only when
// the server has no event-stream socket), and chosen with `transport: "sse"`, binary payloads and cuts included;
// and `SseSocket` on its own, driven as a WebSocket.

import { equal, ok } from "../support/assert.mjs";
import { client } from "../support/client.mjs";
import { proxied, relay } from "../support/endpoints.mjs";
import { goOffline, proxy, proxyCount, sseStreamsOpened } from "../support/proxy.mjs";
import { test } from "../support/registry.mjs";
import { Seen } from "../support/seen.mjs";
import { connected, joined } from "../support/sockets.mjs";
import { sleep } from "../support/wait.mjs";

const { Socket } = client;
const SSE = { needs: "sse" };

test("when WebSockets cannot open the socket switches to server-sent events", SSE, async () => {
  await proxy("block-websockets?ms=60000");
  const streamsBefore = await sseStreamsOpened();
  const socket = new Socket(proxied, { backoff: { baseMs: 20, maxMs: 50, jitter: 1 } });
  const seen = new Seen();
  socket.onOpen(seen.recorder("open"));
  socket.onClose(seen.recorder("close"));
  socket.connect();
  await seen.waitFor("open");
  // Unblocked at once, so that whatever is asserted next, later tests have WebSockets again.
  await proxy("block-websockets?ms=0");
  ok(seen.count("close") >= 2, `two WebSocket attempts failed first: ${JSON.stringify(seen.all())}`);
  equal(await sseStreamsOpened(), streamsBefore + 1, "opened over the event-stream socket");
  const channel = await joined(socket, "room:fallback", { no_presence: true }, seen);
  channel.push("ping", { x: 1 }).receive("ok", seen.recorder("pong"));
  await seen.waitFor('pong {"x":1}');
  socket.disconnect();
});

// Phoenix's case: a server without the event-stream socket answers its request with 404, and it refuses WebSockets
// for a while (restarting). The socket tries the stream once, hears the 404 and goes back to WebSockets for the
// attempt right after; a later outage with more refused WebSockets never sends it to the stream again.
test("a server without the event-stream socket is asked once for the life of the socket", SSE, async () => {
  await proxy("no-sse?ms=60000");
  await proxy("refuse-websockets?n=2");
  const streamsAskedBefore = await proxyCount("sseRequests");
  const logged = new Seen();
  const socket = new Socket(proxied, { backoff: { baseMs: 20, maxMs: 50, jitter: 1 }, logger: logged.recorder("log") });
  const seen = new Seen();
  socket.onOpen(seen.recorder("open"));
  socket.onClose(seen.recorder("close"));
  const attempts = () => {
    const prefix = '"transport" "connecting to ';
    const loggedAttempts = logged.labelled("log").filter((entry) => entry.startsWith(prefix));
    return loggedAttempts.map((entry) => entry.slice(prefix.length));
  };
  socket.connect();
  await seen.waitFor("open");
  const firstAttempts = attempts();
  const closesBeforeOpen = seen.count("close");
  const streamsAskedFirst = (await proxyCount("sseRequests")) - streamsAskedBefore;

  await proxy("refuse-websockets?n=4");
  await proxy("cut");
  await seen.waitCount("open", 2);
  const laterAttempts = attempts().slice(firstAttempts.length);
  const streamsAsked = (await proxyCount("sseRequests")) - streamsAskedBefore;
  // Back to normal before asserting, so that a failure here does not leave later tests on a server without it.
  await proxy("no-sse?ms=0");
  await proxy("refuse-websockets?n=0");
  socket.disconnect();

  const kinds = (attempts) =>
    attempts.map((url) => {
      if (url.startsWith("http://") && url.includes("/socket/sse?")) return "sse";
      if (url.startsWith("ws://") && url.includes("/socket/websocket?")) return "websocket";
      return "unexpected";
    });
  equal(
    kinds(firstAttempts),
    ["websocket", "websocket", "sse", "websocket"],
    "two refused WebSockets, one stream answered 404, then a WebSocket that opens; the log names the URL " +
      `requested: ${JSON.stringify(firstAttempts)}`,
  );
  equal(closesBeforeOpen, 3, JSON.stringify(seen.all()));
  equal(streamsAskedFirst, 1, "the stream was asked for once");
  equal(kinds(laterAttempts), Array(5).fill("websocket"), `four refused WebSockets, no stream: ${laterAttempts}`);
  equal(streamsAsked, 1, "the stream was never asked for again");
});

test("over server-sent events binary payloads go and come back", SSE, async () => {
  const [socket, seen] = await connected(relay, { transport: "sse" });
  const channel = await joined(socket, "room:sse-binary", { no_presence: true }, seen);
  const bytes = new Uint8Array([0, 1, 2, 255]).buffer;
  channel.push("ping", bytes).receive("ok", seen.recorder("binary pong"));
  await seen.waitFor("binary pong bytes:[0, 1, 2, 255]");
  socket.disconnect();
});

test("over server-sent events the channel API works and a cut is recovered", SSE, async () => {
  const [watcher] = await connected(relay, {});
  const watch = await joined(watcher, "room:over-sse", { no_presence: true }, new Seen());

  const streamsBefore = await sseStreamsOpened();
  const [socket, seen] = await connected(proxied, { transport: "sse", backoff: { baseMs: 50, maxMs: 200, jitter: 1 } });
  equal(await sseStreamsOpened(), streamsBefore + 1, "connected over the event-stream socket");
  const channel = socket.channel("room:over-sse", { no_presence: true });
  channel.on("new_msg", seen.recorder("msg"));
  channel.join().receive("ok", seen.recorder("joined"));
  await seen.waitCount("joined", 1);
  channel.push("new_msg", { n: 1 }).receive("ok", seen.recorder("acked"));
  await seen.waitFor('acked {"n":1}');
  await seen.waitCount("msg", 1);

  // Cut while the other socket publishes: the stream comes back, rejoins, and gets what it missed.
  await goOffline(300);
  await seen.waitCount("close", 1);
  for (let n = 2; n <= 4; n++) watch.push("new_msg", { n });
  await seen.waitCount("msg", 4);
  await sleep(200);
  const messages = seen.all().filter((entry) => entry.startsWith("msg"));
  const expected = [1, 2, 3, 4].map((n) => `msg {"n":${n}} null`);
  equal(messages, expected, "once each, in order, across the cut");
  ok((await sseStreamsOpened()) >= streamsBefore + 2, "reconnected over the event-stream socket");
  socket.disconnect();
  watcher.disconnect();
});

// `SseSocket` as a WebSocket is used, without a `Socket`: made from the WebSocket URL, the frames sent in one go (the
// first POST still on its way when the others are sent) reach the relay in order; a stream the server refuses closes
// with its HTTP status.
test("an SseSocket is WebSocket-shaped, posts frames sent together in order, and says a refusal's status", SSE, async () => {
  const { SseSocket } = client;
  const seen = new Seen();
  const socket = new SseSocket(`${relay}/websocket?vsn=2.0.0`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => seen.push("open");
  socket.onmessage = (event) => seen.push(`frame ${event.data}`);
  socket.onclose = (event) => seen.push(`close ${event.code} ${event.wasClean}`);
  await seen.waitFor("open");
  const topic = "room:sse-socket-direct";
  socket.send(JSON.stringify(["1", "1", topic, "phx_join", { no_presence: true }]));
  for (let ref = 2; ref <= 4; ref++) socket.send(JSON.stringify(["1", String(ref), topic, "ping", { ref }]));
  await seen.waitCount("frame", 4);
  const replies = seen.labelled("frame").map((frame) => JSON.parse(frame));
  equal(
    replies.map(([, ref, , event, payload]) => [ref, event, payload.status]),
    [1, 2, 3, 4].map((ref) => [String(ref), "phx_reply", "ok"]),
    `the join, then each ping once, in order: ${JSON.stringify(seen.all())}`,
  );
  equal(replies.slice(1).map(([, , , , payload]) => payload.response), [{ ref: 2 }, { ref: 3 }, { ref: 4 }]);
  socket.close(1000, "done");
  await seen.waitFor("close 1000 true");
  socket.send(JSON.stringify(["1", "5", topic, "ping", {}]));

  // The proxy answers the stream's request with a 404, as a server without the event-stream socket does.
  await proxy("no-sse?ms=60000");
  const refused = new Seen();
  const nowhere = SseSocket.connect(`${proxied.replace("ws", "http")}/sse?vsn=2.0.0`);
  nowhere.onopen = () => refused.push("open");
  nowhere.onerror = () => refused.push("error");
  nowhere.onclose = (event) => refused.push(`close ${JSON.stringify(event)}`);
  await refused.waitCount("close", 1);
  await proxy("no-sse?ms=0");
  equal(refused.all().length, 2, JSON.stringify(refused.all()));
  equal(refused.all()[0], "error");
  const closed = JSON.parse(refused.labelled("close")[0]);
  equal([closed.code, closed.wasClean, closed.status], [1006, false, 404], JSON.stringify(closed));
  ok(closed.reason.startsWith("404"), closed.reason);
  await sleep(100);
  equal(seen.count("frame"), 4, "nothing after close");
});
