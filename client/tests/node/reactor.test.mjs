// Workflows with @ferrocast/client, as the dashboard uses them: push `workflow:execute`, join the run's topic from
// the reply, and see the run from `run_started` on (the relay replays a run's history to a late joiner), every
// step in order; an injected failure shows the compensation.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Socket } from "@ferrocast/client";

import { startRelay } from "../../../tests/support/relay-process.mjs";
import { RUN_ENDS, RUN_EVENTS, stagesOf } from "../../../tests/support/workflows.mjs";

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

function answer(push, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to ${what}\n${relay.log()}`)), WAIT_MS);
    push
      .receive("ok", (response) => (clearTimeout(timer), resolve({ status: "ok", response })))
      .receive("error", (response) => (clearTimeout(timer), resolve({ status: "error", response })));
  });
}

async function run(workflow, inputs) {
  const runs = socket.channel("reactor:runs");
  assert.equal((await answer(runs.join(), "the join of reactor:runs")).status, "ok");
  const started = await answer(runs.push("workflow:execute", { workflow, inputs }), "workflow:execute");
  assert.equal(started.status, "ok", JSON.stringify(started.response));
  const { run_id: runId, topic } = started.response;
  const channel = socket.channel(topic);
  const labels = [];
  const ended = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`run ${runId} did not end: ${labels}\n${relay.log()}`)), WAIT_MS);
    for (const event of RUN_EVENTS) {
      channel.on(event, (payload) => {
        labels.push(payload.step ? `${event} ${payload.step}` : event);
        if (RUN_ENDS.includes(event)) (clearTimeout(timer), resolve());
      });
    }
  });
  const joined = await answer(channel.join(), `the join of ${topic}`);
  assert.equal(joined.status, "ok");
  assert.equal(joined.response.run.run_id, runId, "the join reply carries the run's status");
  await ended;
  channel.leave();
  runs.leave();
  return labels;
}

test("a reverse-flow run started over the channel is seen whole, in order", async () => {
  const labels = await run("reverse_flow", { duration_ms: 10 });
  const reverseFlow = await stagesOf(relay.port, "reverse_flow");
  assert.equal(reverseFlow.length, 8);
  const stages = reverseFlow.flatMap((stage) => [`step_started ${stage}`, `step_completed ${stage}`]);
  assert.deepEqual(labels, ["run_started", ...stages, "run_completed"]);
});

test("a run whose stage keeps failing delivers its compensation events", async () => {
  const labels = await run("reverse_flow", { duration_ms: 5, fail_step: "reactor:trace", fail_times: 9 });
  assert.deepEqual(labels.slice(-4), [
    "step_failed reactor:trace",
    "step_undone k8s:observe",
    "run_compensated",
    "run_failed reactor:trace",
  ]);
});
