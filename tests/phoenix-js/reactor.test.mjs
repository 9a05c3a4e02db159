// Workflows with the official phoenix.js client: a page pushes `workflow:execute` on `reactor:runs`, joins the run's
// topic from the reply (after the run has begun, as a page does) and sees every event from `run_started` on, in
// order; a run with an injected failure shows its retries, then its compensation.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "phoenix";
import WebSocket from "ws";

import { startRelay } from "../support/relay-process.mjs";
import { RUN_ENDS, RUN_EVENTS, stagesOf } from "../support/workflows.mjs";

const WAIT_MS = 5000;
let relay;
let socket;
before(async () => {
  relay = await startRelay();
  socket = new Socket(`ws://127.0.0.1:${relay.port}/socket`, { transport: WebSocket });
  socket.connect();
});
after(() => {
  socket?.disconnect();
  relay?.stop();
});

function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}\n${relay.log()}`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function reply(push, what) {
  return within(
    new Promise((resolve) => {
      push.receive("ok", (response) => resolve({ status: "ok", response }));
      push.receive("error", (response) => resolve({ status: "error", response }));
    }),
    what,
  );
}

/** Starts `workflow` over `reactor:runs`; resolves to the run id. */
async function start(workflow, inputs) {
  const runs = socket.channel("reactor:runs");
  assert.equal((await reply(runs.join(), "the join of reactor:runs")).status, "ok");
  const started = await reply(runs.push("workflow:execute", { workflow, inputs }), "workflow:execute");
  runs.leave();
  assert.equal(started.status, "ok", JSON.stringify(started.response));
  return started.response.run_id;
}

/** Joins the run's topic and collects `step event` labels until the run ends. */
async function watch(runId) {
  const channel = socket.channel(`reactor:${runId}`);
  const labels = [];
  const payloads = [];
  const ended = new Promise((resolve) => {
    for (const event of RUN_EVENTS) {
      channel.on(event, (payload) => {
        labels.push(payload.step ? `${event} ${payload.step}` : event);
        payloads.push(payload);
        if (RUN_ENDS.includes(event)) resolve();
      });
    }
  });
  assert.equal((await reply(channel.join(), `the join of reactor:${runId}`)).status, "ok");
  await within(ended, `the end of run ${runId}`);
  channel.leave();
  return { labels, payloads };
}

test("a pipeline run joined after it began is seen from its start, every step in order", async () => {
  const runId = await start("pipeline", { duration_ms: 20 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const { labels, payloads } = await watch(runId);
  const stages = await stagesOf(relay.port, "pipeline");
  assert.equal(stages.length, 8);
  const expected = ["run_started", ...stages.flatMap((s) => [`step_started ${s}`, `step_completed ${s}`]), "run_completed"];
  assert.deepEqual(labels, expected);
  assert.deepEqual(
    payloads.map((p) => p.seq),
    expected.map((_, i) => i + 1),
  );
  assert.ok(payloads.every((p) => p.run_id === runId && typeof p.at === "number"));
});

test("a failing run shows its retries, then undoes what it completed, last first", async () => {
  const runId = await start("pipeline", { duration_ms: 5, fail_step: "dspy:convert", fail_times: 3 });
  const { labels } = await watch(runId);
  assert.deepEqual(labels.slice(labels.indexOf("step_started dspy:convert")), [
    "step_started dspy:convert",
    "step_retrying dspy:convert",
    "step_started dspy:convert",
    "step_retrying dspy:convert",
    "step_started dspy:convert",
    "step_failed dspy:convert",
    "step_undone turtle:generate",
    "step_undone ontology:create",
    "run_compensated",
    "run_failed dspy:convert",
  ]);
});
