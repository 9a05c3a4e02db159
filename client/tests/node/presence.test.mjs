// `Presence` (client/js/presence.js over the protocol's tracker in wasm) against phoenix.js: every case of the
// presence oracle (protocol/tests/presence-oracle: cases.json, and expected.json, what phoenix.js's own `Presence`
// did with them) through the package, as a channel would deliver its frames. No relay needed.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { client } from "./entry.mjs";

const ORACLE = new URL("../../../protocol/tests/presence-oracle/", import.meta.url);
const read = (file) => JSON.parse(readFileSync(new URL(file, ORACLE), "utf8"));
const skip = !("Presence" in client) && "this entry does not export Presence";

/** A copy of a callback argument as it is at call time, as the oracle records them. */
const snapshot = (value) => (value === undefined ? null : JSON.parse(JSON.stringify(value)));

/** A channel as `Presence` uses one: `on` and `joinRef` (`ref`), its frames delivered by `deliver`. */
function fakeChannel() {
  const bindings = new Map();
  return {
    ref: null,
    joinRef() {
      return this.ref;
    },
    on(event, callback) {
      bindings.set(event, callback);
      return bindings.size;
    },
    deliver(event, payload) {
      bindings.get(event)(payload);
    },
  };
}

test("presence frames give phoenix.js's callbacks and lists, with the server's own meta objects", { skip }, () => {
  const cases = read("cases.json");
  const expected = read("expected.json");
  assert.equal(cases.length, expected.length);
  cases.forEach((testCase, index) => {
    const channel = fakeChannel();
    const presence = new client.Presence(channel);
    let events;
    presence.onJoin((key, current, joined) => events.push(["join", key, snapshot(current), snapshot(joined)]));
    presence.onLeave((key, current, left) => events.push(["leave", key, snapshot(current), snapshot(left)]));
    presence.onSync(() => events.push(["sync"]));
    const sent = new Set();
    const steps = testCase.steps.map((step) => {
      channel.ref = step.joinRef;
      events = [];
      const payload = JSON.parse(step.payload);
      for (const object of step.op === "state" ? [payload] : [payload.joins, payload.leaves]) {
        for (const entry of Object.values(object)) for (const meta of entry.metas) sent.add(meta);
      }
      channel.deliver(step.op === "state" ? "presence_state" : "presence_diff", payload);
      const list = presence.list((key, entry) => [key, entry]);
      for (const [key, entry] of list) {
        for (const meta of entry.metas) assert.ok(sent.has(meta), `${testCase.name}: a meta of ${key} is a copy`);
      }
      return { events, list: snapshot(list) };
    });
    const got = { name: testCase.name, steps, final: snapshot(presence.list()) };
    assert.deepEqual(got, expected[index], testCase.name);
  });
});

test("static syncState and syncDiff merge as phoenix.js does", { skip }, () => {
  const { Presence } = client;
  const seen = [];
  const record = (what) => (key, current, changed) => seen.push([what, key, snapshot(current), snapshot(changed)]);
  const alice = { phx_ref: "a1", device: "phone" };
  const state = Presence.syncState(
    { alice: { metas: [alice] }, gone: { metas: [{ phx_ref: "g" }] } },
    { alice: { metas: [{ phx_ref: "a1" }, { phx_ref: "a2" }] }, 7: { metas: [{ phx_ref: "s" }] } },
    record("join"),
    record("leave"),
  );
  assert.deepEqual(Object.keys(state), ["7", "alice"]);
  assert.equal(state.alice.metas[0], alice, "a meta already present stays the object it was");
  assert.deepEqual(snapshot(state.alice.metas.map((meta) => meta.phx_ref)), ["a1", "a2"]);
  assert.deepEqual(seen, [
    ["join", "7", null, { metas: [{ phx_ref: "s" }] }],
    ["join", "alice", { metas: [alice] }, { metas: [{ phx_ref: "a2" }] }],
    ["leave", "gone", { metas: [] }, { metas: [{ phx_ref: "g" }] }],
  ]);
  const merged = Presence.syncDiff(state, { joins: {}, leaves: { 7: { metas: [{ phx_ref: "s" }] } } });
  assert.equal(merged, state, "syncDiff changes the state it is given");
  assert.deepEqual(Object.keys(merged), ["alice"]);
});
