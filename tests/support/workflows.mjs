// What the Node tests of workflows share: the events a run publishes on its topic (the dashboard's list, the one
// copy in JavaScript), and the demo workflows' stages as the relay lists them (`GET /api/workflows`), so no test
// keeps its own copy of either.

export { RUN_ENDS, RUN_EVENTS } from "../../www/dashboard/src/lib/runEvents.js";

/** The step names of `workflow`, in order, from the relay on `port`. */
export async function stagesOf(port, workflow) {
  const response = await fetch(`http://127.0.0.1:${port}/api/workflows`);
  if (!response.ok) throw new Error(`GET /api/workflows answered ${response.status}`);
  const { workflows } = await response.json();
  const listed = workflows.find((listing) => listing.name === workflow);
  if (!listed) throw new Error(`the relay lists no workflow named ${workflow}`);
  return listed.steps.map((step) => step.name);
}
