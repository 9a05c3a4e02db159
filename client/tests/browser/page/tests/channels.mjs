// Channels over a socket: joins, pushes and their replies, broadcasts between sockets with presence, a refused
// topic, and params given as a function.

import { equal, isEqual, ok, throws } from "../support/assert.mjs";
import { client } from "../support/client.mjs";
import { proxied, relay } from "../support/endpoints.mjs";
import { proxy } from "../support/proxy.mjs";
import { test } from "../support/registry.mjs";
import { describe, Seen } from "../support/seen.mjs";
import { connected } from "../support/sockets.mjs";
import { until } from "../support/wait.mjs";

const { Presence } = client;

test("joins, pushes and gets replies in JSON and binary", async () => {
  const [socket] = await connected(relay, {});
  const seen = new Seen();
  socket.onMessage(seen.recorder("message"));
  const channel = socket.channel("room:replies", { user_id: "ada" });
  equal(channel.state, "closed");
  channel.join().receive("ok", seen.recorder("joined")).receive("error", seen.recorder("refused"));
  equal(channel.state, "joining");
  await seen.waitFor("joined {}");
  equal(channel.state, "joined");

  channel.push("ping", { hello: "world", n: 1 }).receive("ok", seen.recorder("pong"));
  await seen.waitFor('pong {"hello":"world","n":1}');
  // onMessage sees every frame as phoenix.js decodes it, a reply's payload as `{status, response}`.
  const reply =
    '"topic":"room:replies","event":"phx_reply","payload":{"response":{"hello":"world","n":1},"status":"ok"}}';
  ok(
    seen.all().some((entry) => entry.startsWith("message ") && entry.endsWith(reply)),
    JSON.stringify(seen.all()),
  );

  const bytes = new Uint8Array([0, 1, 2, 255]).buffer;
  channel.push("ping", bytes).receive("ok", seen.recorder("binary pong"));
  await seen.waitFor("binary pong bytes:[0, 1, 2, 255]");

  // A join can only be called once per channel object, as in phoenix.js.
  const again = throws(() => channel.join(), "a second join");
  ok(again.message.includes("twice"), again.message);
  socket.disconnect();
});

test("broadcasts reach the other socket and presence lists both", { needs: "presence" }, async () => {
  const [a] = await connected(relay, {});
  const [b] = await connected(relay, {});
  const [seenA, seenB] = [new Seen(), new Seen()];
  const channelA = a.channel("room:together", { user_id: "ada" });
  const channelB = b.channel("room:together", { user_id: "bob" });
  const presenceA = new Presence(channelA);
  const presenceB = new Presence(channelB);
  presenceA.onJoin(seenA.recorder("join"));
  presenceB.onSync(seenB.recorder("sync"));
  channelB.on("new_msg", seenB.recorder("new_msg"));
  channelA.join().receive("ok", seenA.recorder("joined"));
  await seenA.waitFor("joined {}");
  channelB.join().receive("ok", seenB.recorder("joined"));
  await seenB.waitFor("joined {}");

  const ids = (presence) => presence.list((key) => key);
  await until("both in A's presence", () => isEqual(ids(presenceA), ["ada", "bob"]));
  await until("both in B's presence", () => isEqual(ids(presenceB), ["ada", "bob"]));
  await seenA.waitCount('join "bob"', 1);
  const full = presenceB.list()[0];
  ok("phx_ref" in full.metas[0], `metas keep their phx_ref: ${describe(full)}`);

  channelA.push("new_msg", { body: "hi bob" });
  await seenB.waitFor('new_msg {"body":"hi bob"} null');

  // A leaves: its push is answered, the channel closes, and B sees A go.
  channelA.onClose(seenA.recorder("closed"));
  channelA.leave().receive("ok", seenA.recorder("left"));
  await seenA.waitFor("left {}");
  await seenA.waitFor("closed");
  equal(channelA.state, "closed");
  await until("A gone from B's presence", () => isEqual(ids(presenceB), ["bob"]));
  a.disconnect();
  b.disconnect();
});

test("an unmatched topic is refused", async () => {
  const [socket] = await connected(relay, {});
  const seen = new Seen();
  const channel = socket.channel("nowhere:1");
  channel.join().receive("error", seen.recorder("refused"));
  await seen.waitFor('refused {"reason":"unmatched topic"}');
  socket.disconnect();
});

test("a params function is called before every join", async () => {
  const [socket, seen] = await connected(proxied, { backoff: { baseMs: 50, maxMs: 100 } });
  let calls = 0;
  const params = () => ({ user_id: `fn${++calls}` });
  const channel = socket.channel("room:params", params);
  // Who the relay says is present after each join: the ids each join's params gave. Read from the channel's
  // `presence_state` itself, so entries without `Presence` (the core) run this too.
  let present = [];
  channel.on("presence_state", (state) => (present = Object.keys(state)));
  channel.join().receive("ok", seen.recorder("joined"));
  await until("joined as fn1", () => isEqual(present, ["fn1"]));
  await proxy("cut");
  // The rejoin after the reconnect asks the function again.
  await until("rejoined as fn2", () => present.includes("fn2"));

  const throwing = socket.channel("room:params", () => {
    throw new Error("no token");
  });
  const error = throws(() => throwing.join(), "join throws");
  equal(error.message, 'channel "room:params" params: the function threw');
  socket.disconnect();
});
