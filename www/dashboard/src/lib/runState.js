// A run's step timeline, folded from the events of its topic `reactor:<run_id>` (README "Workflows"), or read
// from its status (`GET /api/runs/{id}`, the join reply's `run`) when the events are not there.

function blankStep(name) {
  return { name, status: "pending", attempt: 0, retries: 0, durationMs: null, undoMs: null, detail: "" }
}

function blankRun() {
  return {
    status: "pending",
    startedAt: null,
    durationMs: null,
    error: null,
    failedStep: null,
    compensated: false,
    undone: null,
    events: 0,
  }
}

/** Steps and run from events `[{event, payload}]`, in `seq` order, each `seq` once. */
export function foldEvents(messages, stepNames = []) {
  const steps = new Map(stepNames.map((name) => [name, blankStep(name)]))
  const stepOf = (name) => {
    if (!steps.has(name)) steps.set(name, blankStep(name))
    return steps.get(name)
  }
  const run = blankRun()
  const bySeq = new Map()
  for (const message of messages) {
    const seq = message.payload?.seq
    if (typeof seq === "number" && !bySeq.has(seq)) bySeq.set(seq, message)
  }
  const ordered = [...bySeq.values()].sort((a, b) => a.payload.seq - b.payload.seq)
  for (const { event, payload: p } of ordered) {
    run.events += 1
    const step = p.step ? stepOf(p.step) : null
    switch (event) {
      case "run_started":
        run.status = "running"
        run.startedAt = p.at
        for (const name of p.steps ?? []) stepOf(name)
        break
      case "step_started":
        step.status = "running"
        step.attempt = p.attempt ?? step.attempt + 1
        break
      case "step_retrying":
        step.status = "retrying"
        step.attempt = p.attempt ?? step.attempt
        step.retries += 1
        step.durationMs = p.duration_ms ?? null
        step.detail = `attempt ${p.attempt} failed: ${p.reason ?? "error"} · retry in ${p.delay_ms ?? "?"} ms`
        break
      case "step_completed":
        step.status = "completed"
        step.attempt = p.attempt ?? step.attempt
        step.durationMs = p.duration_ms ?? null
        step.detail = step.retries ? `completed after ${step.retries} ${step.retries === 1 ? "retry" : "retries"}` : ""
        break
      case "step_failed":
        step.status = "failed"
        step.attempt = p.attempt ?? step.attempt
        step.durationMs = p.duration_ms ?? null
        step.detail = step.retries
          ? `failed after ${step.retries} ${step.retries === 1 ? "retry" : "retries"}: ${p.error ?? "error"}`
          : `failed: ${p.error ?? "error"}`
        break
      case "step_undone":
        step.status = "undone"
        step.undoMs = p.duration_ms ?? null
        step.detail = "undone by the compensation"
        break
      case "step_undo_failed":
        step.status = "undo_failed"
        step.undoMs = p.duration_ms ?? null
        step.detail = `undo failed: ${p.error ?? "error"}`
        break
      case "run_compensated":
        run.compensated = true
        run.undone = Array.isArray(p.undone) ? p.undone.length : (p.undone ?? null)
        if (run.status === "running") run.status = "compensating"
        break
      case "run_completed":
        run.status = "completed"
        run.durationMs = p.duration_ms ?? null
        break
      case "run_failed":
        run.status = "failed"
        run.durationMs = p.duration_ms ?? null
        run.error = p.error ?? null
        run.failedStep = p.step ?? null
        break
      case "run_halted":
        run.status = "halted"
        run.durationMs = p.duration_ms ?? null
        run.error = p.reason ?? null
        run.failedStep = p.step ?? null
        break
    }
  }
  return { run, steps: [...steps.values()] }
}

const STATE_TO_STATUS = {
  pending: "pending",
  ready: "pending",
  running: "running",
  backing_off: "retrying",
  compensating: "undoing",
  undoing: "undoing",
  completed: "completed",
  failed: "failed",
  halted: "failed",
  cancelled: "pending",
  undone: "undone",
  undo_failed: "undo_failed",
}

/** Steps and run from a run's status JSON. */
export function fromStatus(status, stepNames = []) {
  const run = blankRun()
  const steps = new Map(stepNames.map((name) => [name, blankStep(name)]))
  if (!status) {
    // A run the relay does not know (any more): nothing can be said about its steps.
    run.status = "unknown"
    for (const step of steps.values()) step.status = "unknown"
    return { run, steps: [...steps.values()] }
  }
  run.status = status.status
  run.startedAt = status.started_at
  run.durationMs = status.finished_at ? status.duration_ms : null
  run.error = status.outcome?.error ?? status.outcome?.halt ?? null
  for (const record of status.steps ?? []) {
    const step = blankStep(record.name)
    step.status = STATE_TO_STATUS[record.state] ?? record.state
    step.attempt = record.attempts ?? 0
    step.retries = Math.max(0, step.attempt - 1)
    step.durationMs = record.duration_ms ?? null
    step.detail = record.error ? `error: ${record.error}` : ""
    steps.set(record.name, step)
  }
  run.compensated = [...steps.values()].some((step) => step.status === "undone")
  return { run, steps: [...steps.values()] }
}
