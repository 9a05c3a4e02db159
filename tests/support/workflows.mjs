// What the Node tests of workflows share: the events a run publishes on its topic, and the demo workflows' stages
// as the relay lists them (`GET /api/workflows`), so no test keeps its own copy of either.

/** The events that end a run. */
export const RUN_ENDS = ["run_completed", "run_failed", "run_halted"];

/** Every event a run publishes on `reactor:<run_id>`. */
export const RUN_EVENTS = [
  "run_started",
  ...RUN_ENDS,
  "run_compensated",
  "step_started",
  "step_completed",
  "step_retrying",
  "step_failed",
  "step_undone",
  "step_undo_failed",
];

/** The step names of `workflow`, in order, from the relay on `port`. */
export async function stagesOf(port, workflow) {
  const response = await fetch(`http://127.0.0.1:${port}/api/workflows`);
  if (!response.ok) throw new Error(`GET /api/workflows answered ${response.status}`);
  const { workflows } = await response.json();
  const listed = workflows.find((listing) => listing.name === workflow);
  if (!listed) throw new Error(`the relay lists no workflow named ${workflow}`);
  return listed.steps.map((step) => step.name);
}
