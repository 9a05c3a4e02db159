// Differential oracle for ferrocast-protocol's presence module.
//
// It builds the scripted and seeded-random cases, writes them to cases.json, runs each one through the real
// phoenix.js `Presence` class (from the pinned npm package) and writes what the class did to expected.json. The Rust
// test `protocol/tests/presence.rs` replays cases.json and must produce expected.json exactly.
//
//   node oracle.mjs          regenerate cases.json and expected.json
//   node oracle.mjs --check  regenerate in memory and exit 1 if either committed file differs
//
// Payloads are stored as JSON text, not as objects, because key order is part of the behaviour under test and a
// JSON object read back by serde_json (or rebuilt by JavaScript) would not keep the order written here.

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Presence } from "phoenix";

const here = dirname(fileURLToPath(import.meta.url));
const CASES_FILE = join(here, "cases.json");
const EXPECTED_FILE = join(here, "expected.json");

// ---- Payload text builders -------------------------------------------------------------------------------------

// An object's JSON text from [key, text] pairs, in exactly this order (repeats allowed, as on a real wire).
const objectText = (pairs) => "{" + pairs.map(([key, text]) => JSON.stringify(key) + ":" + text).join(",") + "}";

// A meta object's JSON text; `fields` come before `phx_ref`, as Phoenix's own payloads put them.
const meta = (ref, fields = {}) => ({ ...fields, phx_ref: ref });

// An entry's JSON text: its extra fields, then its metas.
const entry = (metas, extra = {}) => JSON.stringify({ ...extra, metas });

// A presence map's JSON text from [key, metas] or [key, metas, extra] triples, in order.
const mapText = (items) => objectText(items.map(([key, metas, extra]) => [key, entry(metas, extra)]));

const state = (joinRef, items) => ({ op: "state", joinRef, payload: mapText(items) });
const diff = (joinRef, joins, leaves) => ({
  op: "diff",
  joinRef,
  payload: objectText([["joins", mapText(joins)], ["leaves", mapText(leaves)]]),
});
const raw = (op, joinRef, payload) => ({ op, joinRef, payload });

// ---- Scripted cases --------------------------------------------------------------------------------------------

const m = (ref) => meta(ref, { online_at: 1000 });

function scriptedCases() {
  return [
    { name: "join of a new key", steps: [state("1", []), diff("1", [["alice", [m("a1")]]], [])] },
    {
      name: "second meta for an existing key puts current metas first",
      steps: [state("1", [["alice", [m("a1")]]]), diff("1", [["alice", [m("a2")]]], [])],
    },
    {
      name: "leave of one of two metas keeps the key",
      steps: [state("1", [["alice", [m("a1"), m("a2")]]]), diff("1", [], [["alice", [m("a1")]]])],
    },
    {
      name: "leave of the last meta deletes the key",
      steps: [state("1", [["alice", [m("a1")]], ["bob", [m("b1")]]]), diff("1", [], [["alice", [m("a1")]]])],
    },
    {
      name: "leave for an unknown key does nothing but sync",
      steps: [state("1", [["alice", [m("a1")]]]), diff("1", [], [["carol", [m("c1")]]])],
    },
    {
      name: "leave naming an unknown ref still reports the leave",
      steps: [state("1", [["alice", [m("a1")]]]), diff("1", [], [["alice", [m("zz")]]])],
    },
    {
      name: "sync state adds, removes and changes keys",
      steps: [
        state("1", [["a", [m("1")]], ["b", [m("2")]], ["c", [m("3"), m("4")]]]),
        state("1", [["b", [m("2")]], ["c", [m("4"), m("5")]], ["d", [m("6")]]]),
      ],
    },
    {
      name: "diffs before the first state are held and applied after it in order",
      steps: [
        diff("1", [["bob", [m("b1")]]], []),
        diff("1", [["alice", [m("a2")]]], [["bob", [m("b1")]]]),
        state("1", [["alice", [m("a1")]]]),
        diff("1", [["carol", [m("c1")]]], []),
      ],
    },
    {
      name: "after a rejoin diffs are held and the fresh state is re-diffed",
      steps: [
        state("1", [["alice", [m("a1")]], ["bob", [m("b1")]]]),
        diff("1", [["carol", [m("c1")]]], []),
        diff("2", [["dave", [m("d1")]]], []),
        diff("2", [], [["carol", [m("c1")]]]),
        state("2", [["bob", [m("b1")]], ["carol", [m("c1")]], ["erin", [m("e1")]]]),
        diff("2", [], [["bob", [m("b1")]]]),
      ],
    },
    {
      name: "a diff under an older join ref after the state is held again",
      steps: [state("2", [["a", [m("1")]]]), diff("1", [["b", [m("2")]]], []), state("2", [["a", [m("1")]]])],
    },
    {
      name: "extra fields survive joins and leaves",
      steps: [
        state("1", [["u1", [m("a1")], { user: { name: "Ann" } }], ["u2", [m("b1")]]]),
        diff("1", [["u1", [m("a2")], { user: { name: "Ann B." } }]], []),
        diff("1", [["u2", [m("b2")], { user: { name: "Bo" }, rank: 3 }]], [["u1", [m("a1")], { stale: true }]]),
        state("1", [["u1", [m("a2"), m("a3")], { user: { name: "Ann C." } }], ["u2", [m("b1")], { other: [1, 2] }]]),
      ],
    },
    {
      name: "list order with integer-like keys",
      steps: [
        state("1", [
          ["10", [m("r10")]],
          ["2", [m("r2")]],
          ["a", [m("ra")]],
          ["01", [m("r01")]],
          ["0", [m("r0")]],
          ["4294967294", [m("rmax")]],
          ["4294967295", [m("rover")]],
          ["-1", [m("rneg")]],
          ["1.5", [m("rfrac")]],
        ]),
        diff("1", [["b", [m("rb")]], ["3", [m("r3")]], ["00", [m("r00")]]], [["a", [m("ra")]]]),
      ],
    },
    {
      name: "diff callbacks follow JavaScript key order",
      steps: [
        state("1", [["x", [m("x1")]], ["5", [m("51")]]]),
        diff("1", [["b", [m("b1")]], ["10", [m("t1")]], ["2", [m("21")]]], [["x", [m("x1")]], ["5", [m("51")]], ["c", [m("c1")]]]),
      ],
    },
    {
      name: "metadata update replaces a meta through phx_ref_prev",
      steps: [
        state("1", [["alice", [m("a1"), m("a9")]]]),
        diff("1", [["alice", [meta("a2", { status: "away", phx_ref_prev: "a1" })]]], [["alice", [m("a1")]]]),
      ],
    },
    {
      name: "joining an already present ref moves it to the end",
      steps: [
        state("1", [["alice", [m("a1"), m("a2"), m("a3")]]]),
        diff("1", [["alice", [meta("a1", { online_at: 2000 })]]], []),
      ],
    },
    {
      name: "join with empty metas keeps an empty entry until a leave",
      steps: [
        state("1", []),
        diff("1", [["ghost", []]], []),
        diff("1", [["alice", [m("a1")]]], []),
        diff("1", [], [["ghost", []]]),
      ],
    },
    {
      name: "state entry with empty metas",
      steps: [state("1", [["a", [m("1")]], ["b", []]]), state("1", [["a", []], ["b", []], ["c", []]])],
    },
    {
      name: "repeated keys in the JSON text keep the first place and last value",
      steps: [
        raw("state", "1", `{"a":{"metas":[{"phx_ref":"1"}]},"b":{"metas":[{"phx_ref":"2"}]},"a":{"metas":[{"phx_ref":"3"}]}}`),
        raw(
          "diff",
          "1",
          `{"joins":{"c":{"metas":[{"phx_ref":"4"}]}},"leaves":{"b":{"metas":[{"phx_ref":"2"}]},"c":{"metas":[{"phx_ref":"x"}]},"b":{"metas":[{"phx_ref":"nope"}]}}}`,
        ),
        raw("diff", "1", `{"leaves":{},"joins":{"d":{"metas":[{"phx_ref":"5"}]}},"joins":{"e":{"metas":[{"phx_ref":"6"}]}}}`),
      ],
    },
    {
      name: "repeated refs within a key's metas",
      steps: [
        state("1", [["a", [m("1"), m("1"), m("2")]]]),
        diff("1", [["a", [m("2"), m("3"), m("3")]]], []),
        diff("1", [], [["a", [m("1")]]]),
        state("1", [["a", [m("3"), m("4"), m("4")]]]),
      ],
    },
    {
      name: "no join ref holds every diff until a state with one",
      steps: [
        state(null, [["a", [m("1")]]]),
        diff(null, [["b", [m("2")]]], []),
        diff("1", [["c", [m("3")]]], []),
        state("1", [["a", [m("1")]]]),
        diff("1", [], [["a", [m("1")]]]),
      ],
    },
    {
      name: "an empty join ref counts as none",
      steps: [state("", [["a", [m("1")]]]), diff("", [["b", [m("2")]]], []), state("3", []), diff("3", [["c", [m("3")]]], [])],
    },
    {
      name: "same key joins and leaves in one diff",
      steps: [
        state("1", [["a", [m("1"), m("2")]]]),
        diff("1", [["a", [m("3")]]], [["a", [m("1"), m("3")]]]),
        diff("1", [["a", [m("4")]]], [["a", [m("2"), m("4")]]]),
      ],
    },
    {
      name: "a key removed and added again goes last",
      steps: [
        state("1", [["a", [m("1")]], ["b", [m("2")]], ["c", [m("3")]]]),
        diff("1", [], [["a", [m("1")]]]),
        diff("1", [["a", [m("4")]]], []),
        state("1", [["c", [m("3")]], ["b", [m("2")]], ["a", [m("4")]], ["d", [m("5")]]]),
      ],
    },
    {
      name: "join ref changing back to the recorded one ends the hold",
      steps: [
        state("1", [["a", [m("1")]]]),
        diff("2", [["b", [m("2")]]], []),
        diff("1", [["c", [m("3")]]], []),
        state("1", []),
      ],
    },
    {
      name: "leaves written before joins are still applied after them",
      steps: [
        state("1", [["a", [m("1")]]]),
        raw("diff", "1", `{"leaves":{"a":{"metas":[{"phx_ref":"2"}]}},"joins":{"a":{"metas":[{"phx_ref":"2"}]}},"ignored":1}`),
      ],
    },
    {
      name: "nested meta values and unicode keys",
      steps: [
        state("1", [
          ["ünï", [meta("u1", { device: { kind: "phone", tags: ["a", null, true] }, score: -2.5 })]],
          ["user:42", [meta("u2", { typing: false })]],
        ]),
        diff("1", [["ünï", [meta("u3", { device: null })]]], [["user:42", [meta("u2", {})]]]),
        state("1", []),
      ],
    },
  ];
}

// ---- Seeded random cases ---------------------------------------------------------------------------------------

// SplitMix32-style generator: a fixed seed makes the cases the same on every run.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

const KEYS = ["a", "b", "c", "user:1", "0", "1", "2", "10", "01", "-1", "4294967295", "ünï"];
const DEVICES = ["phone", "laptop", "tablet"];

function randomCase(index) {
  const rand = rng(0xfe110 + index);
  const int = (n) => Math.floor(rand() * n);
  const pick = (list) => list[int(list.length)];
  const chance = (p) => rand() < p;

  let nextRef = 1;
  let joinRef = String(1 + int(3));
  // What the server believes: key -> { metas, extra }, kept in insertion order with a Map.
  const truth = new Map();
  const knownRefs = [];
  const newMeta = () => {
    const ref = chance(0.1) && knownRefs.length > 0 ? pick(knownRefs) : `r${nextRef++}`;
    knownRefs.push(ref);
    return meta(ref, chance(0.5) ? { device: pick(DEVICES), online_at: int(10000) } : {});
  };
  const newExtra = () => (chance(0.3) ? { user: { name: pick(["Ann", "Bo", "Cy"]), v: int(5) } } : undefined);

  const steps = [];
  const length = 8 + int(18);
  for (let step = 0; step < length; step++) {
    const roll = rand();
    if (roll < 0.1) {
      // The channel rejoins: a new join ref, and what changes meanwhile is never sent as a diff.
      joinRef = chance(0.1) ? null : String(Number(joinRef ?? 0) + 1 + int(2));
      for (let i = int(3); i > 0; i--) {
        const key = pick(KEYS);
        if (truth.has(key) && chance(0.5)) truth.delete(key);
        else truth.set(key, { metas: [newMeta()], extra: newExtra() });
      }
    } else if (roll < 0.3) {
      const items = [...truth.entries()].map(([key, e]) => [key, e.metas, e.extra]);
      if (chance(0.3)) items.reverse();
      steps.push(state(joinRef, items));
    } else {
      const joins = [];
      const leaves = [];
      for (let i = int(4); i > 0; i--) {
        const key = pick(KEYS);
        const metas = [];
        for (let j = 1 + int(2); j > 0; j--) metas.push(newMeta());
        const extra = newExtra();
        joins.push([key, metas, extra]);
        const current = truth.get(key);
        const kept = current ? current.metas.filter((x) => !metas.some((y) => y.phx_ref === x.phx_ref)) : [];
        truth.set(key, { metas: [...kept, ...metas], extra });
      }
      for (let i = int(4); i > 0; i--) {
        const key = pick(KEYS);
        const current = truth.get(key);
        if (!current || chance(0.15)) {
          leaves.push([key, [newMeta()]]);
          continue;
        }
        const gone = current.metas.filter(() => chance(0.6));
        if (gone.length === 0) gone.push(current.metas[0] ?? newMeta());
        leaves.push([key, gone, chance(0.2) ? { note: "left" } : undefined]);
        current.metas = current.metas.filter((x) => !gone.some((y) => y.phx_ref === x.phx_ref));
        if (current.metas.length === 0) truth.delete(key);
      }
      steps.push(diff(chance(0.9) ? joinRef : String(Number(joinRef ?? 0) + 7), joins, leaves));
    }
  }
  return { name: `random ${index}`, steps };
}

function buildCases() {
  const cases = scriptedCases();
  for (let i = 0; i < 30; i++) cases.push(randomCase(i));
  return cases;
}

// ---- Running phoenix.js ----------------------------------------------------------------------------------------

// A copy of a callback argument as it is at call time; phoenix.js passes live objects that later steps mutate.
const snapshot = (value) => (value === undefined ? null : JSON.parse(JSON.stringify(value)));

function runCase(testCase) {
  let channelJoinRef = null;
  const handlers = {};
  const channel = {
    on: (event, callback) => {
      handlers[event] = callback;
    },
    joinRef: () => channelJoinRef,
  };
  const presence = new Presence(channel);
  let events = [];
  presence.onJoin((key, current, joined) => events.push(["join", key, snapshot(current), snapshot(joined)]));
  presence.onLeave((key, current, left) => events.push(["leave", key, snapshot(current), snapshot(left)]));
  presence.onSync(() => events.push(["sync"]));

  const steps = testCase.steps.map((step) => {
    channelJoinRef = step.joinRef;
    events = [];
    handlers[step.op === "state" ? "presence_state" : "presence_diff"](JSON.parse(step.payload));
    return { events, list: snapshot(presence.list((key, entry) => [key, entry])) };
  });
  return { name: testCase.name, steps, final: snapshot(Presence.list(presence.state)) };
}

// ---- Output ----------------------------------------------------------------------------------------------------

const text = (value) => JSON.stringify(value, null, 1) + "\n";

const cases = buildCases();
const expected = cases.map(runCase);
const outputs = [
  [CASES_FILE, text(cases)],
  [EXPECTED_FILE, text(expected)],
];

if (process.argv.includes("--check")) {
  let failed = false;
  for (const [file, fresh] of outputs) {
    let committed;
    try {
      committed = readFileSync(file, "utf8");
    } catch {
      console.error(`${file}: missing`);
      failed = true;
      continue;
    }
    if (committed === fresh) continue;
    failed = true;
    let names = [];
    try {
      const old = JSON.parse(committed);
      const now = JSON.parse(fresh);
      const length = Math.max(old.length, now.length);
      for (let i = 0; i < length; i++) {
        if (JSON.stringify(old[i]) !== JSON.stringify(now[i])) names.push(now[i]?.name ?? old[i]?.name ?? `#${i}`);
      }
      if (old.length !== now.length) names.unshift(`(${old.length} cases committed, ${now.length} generated)`);
    } catch {
      names = ["(committed file is not valid JSON)"];
    }
    console.error(`${file} differs from a fresh run in ${names.length} case(s): ${names.slice(0, 10).join("; ")}`);
  }
  if (failed) {
    console.error("Regenerate with `node oracle.mjs` and review the change.");
    process.exit(1);
  }
  console.log(`oracle check passed: ${cases.length} cases, ${cases.reduce((n, c) => n + c.steps.length, 0)} steps`);
} else {
  for (const [file, fresh] of outputs) writeFileSync(file, fresh);
  console.log(`wrote ${cases.length} cases to cases.json and expected.json`);
}
