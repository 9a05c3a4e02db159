// The events a workflow run publishes on its topic `reactor:<run_id>`. The relay names them (`EventKind::name` in
// reactor/src/event.rs, the source of truth): this is their one copy in JavaScript, for the dashboard and for the
// Node tests (tests/support/workflows.mjs re-exports it), so the page's build imports nothing from tests/.

/** The events that end a run. */
export const RUN_ENDS = ["run_completed", "run_failed", "run_halted"]

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
]
