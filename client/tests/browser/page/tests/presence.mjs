// Presence's static functions, which pages use on state they keep themselves.

import { equal, ok } from "../support/assert.mjs";
import { client } from "../support/client.mjs";
import { test } from "../support/registry.mjs";
import { describe, Seen } from "../support/seen.mjs";

const { Presence } = client;

test("presence syncState and syncDiff work as in phoenix.js", { needs: "presence" }, () => {
  const seen = new Seen();
  const state = Presence.syncState(
    {},
    { u1: { metas: [{ id: 1, phx_ref: "1" }] } },
    seen.recorder("join"),
    seen.recorder("leave"),
  );
  equal(describe(state), '{"u1":{"metas":[{"id":1,"phx_ref":"1"}]}}');
  equal(seen.all(), ['join "u1"']);
  const diff = {
    joins: { u2: { metas: [{ id: 2, phx_ref: "2" }] } },
    leaves: { u1: { metas: [{ id: 1, phx_ref: "1" }] } },
  };
  const merged = Presence.syncDiff(state, diff, seen.recorder("join"), seen.recorder("leave"));
  ok(Object.is(merged, state), "syncDiff updates the state it is given, as phoenix.js does");
  equal(describe(merged), '{"u2":{"metas":[{"id":2,"phx_ref":"2"}]}}');
  equal(seen.all().slice(1), ['join "u2"', 'leave "u1" {"metas":[]}']);
});
