// One benchmark case: a fresh page connects a client and joins its room, a publisher feeds the room as fast as
// the page takes the messages, and the page's counters give the steady rate and whether anything was lost.
//
// Pacing: the relay closes a consumer whose queue passes 4096 frames (1013), so at most `maxInFlight` messages are
// in flight (published but not yet counted by the page's callback) at any time. The page reports its count
// unasked every `maxInFlight / 8` callbacks, and each report tops the flight back up. (Asking the page instead
// would wait behind every WebSocket message already queued for its main thread, so the flight would drain to
// nothing before each top-up.)

import { BenchPage } from "./bench-page.mjs"
import { openPublisher } from "./publisher.mjs"
import { sleep } from "./util.mjs"

export const CASES = [
  { id: "bare", label: "bare WebSocket (baseline)", client: "bare", batch: null },
  { id: "phoenix", label: "phoenix.js", client: "phoenix", batch: null },
  { id: "ferrocast-unbatched", label: "ferrocast batch:false", client: "ferrocast", batch: false },
  { id: "ferrocast-batched", label: "ferrocast batch:true", client: "ferrocast", batch: true },
]

const DRAIN_TIMEOUT_MS = 3_000
// How long the feeder waits for a report before it looks again (the publisher's own room may have grown).
const REPORT_WAIT_MS = 5
// The first part of the run is left out of the rate: wasm tiering, JIT warm-up, the pipeline filling.
const WARMUP_SHARE = 0.2
const MAX_WARMUP_MS = 2_000

// Runs `spec` (one of CASES) for `seconds`; resolves to the case's figures, or `{skipped}`.
export async function runCase(spec, { cdp, files, relay, seconds, maxInFlight, publisherKind }) {
  const page = await BenchPage.open(cdp, files.control, files.url)
  const result = {
    case: spec.id,
    label: spec.label,
    client: spec.client,
    batch: spec.batch,
    pageErrors: page.pageErrors,
  }
  try {
    const topic = `room:bench-${spec.id}`
    const refill = Math.max(1, Math.floor(maxInFlight / 8))
    const started = await page.start({
      client: spec.client,
      batch: spec.batch,
      url: relay.socketUrl,
      topic,
      reportEvery: refill,
    })
    if (started.skipped) return { ...result, skipped: started.skipped }
    const slowBefore = (await relay.metrics()).ferrocast_slow_consumers_total ?? 0
    const publisher = await openPublisher(publisherKind, relay, topic)
    let figures
    try {
      figures = await feed(page, publisher, { seconds, maxInFlight, refill })
    } finally {
      publisher.close()
    }
    const slowAfter = (await relay.metrics()).ferrocast_slow_consumers_total ?? 0
    await page.stop()
    const publisherName = publisher.description
    return {
      ...result,
      note: started.note,
      publisher: publisherName,
      ...figures,
      slowConsumers: slowAfter - slowBefore,
    }
  } finally {
    await page.close()
  }
}

// Publishes for `seconds` with at most `maxInFlight` messages in flight, then waits for the page to catch up.
// The rate is taken between two snapshots (count and time from the page's own clock).
async function feed(page, publisher, { seconds, maxInFlight, refill }) {
  const warmupMs = Math.min(MAX_WARMUP_MS, seconds * 1000 * WARMUP_SHARE)
  const startedAt = Date.now()
  let sent = 0
  let warm = null
  // Where the limit lies: a flight that stays near `maxInFlight` means the page (or the relay) is the bottleneck;
  // a publisher busy most of the time means the feed is. Both are time-weighted over the run.
  let inFlightTime = 0
  let publishingTime = 0
  let previous = startedAt
  for (;;) {
    const now = Date.now()
    inFlightTime += (sent - page.latest.count) * (now - previous)
    previous = now
    const elapsed = now - startedAt
    if (elapsed >= seconds * 1000 || page.latest.closes > 0 || page.latest.errors > 0) break
    if (warm === null && elapsed >= warmupMs) warm = await page.snapshot()
    const room = Math.min(maxInFlight - (sent - page.latest.count), publisher.room())
    // Topping up by small amounts would cost a publish per report; below `refill`, the next report comes first.
    if (room >= refill) {
      const publishStart = Date.now()
      await publisher.publish(sent, room)
      publishingTime += Date.now() - publishStart
      sent += room
    } else {
      await page.nextReport(REPORT_WAIT_MS)
    }
  }
  const fedMs = Math.max(1, Date.now() - startedAt)
  const last = await page.snapshot()
  const steady = warm ?? last
  let final = last
  const drainUntil = Date.now() + DRAIN_TIMEOUT_MS
  while (final.count < sent && final.closes === 0 && Date.now() < drainUntil) {
    await sleep(20)
    final = await page.snapshot()
  }
  const received = last.count - steady.count
  const wsMessages = last.wsMessages - steady.wsMessages
  const steadySeconds = (last.t - steady.t) / 1000
  return {
    steadySeconds: round(steadySeconds, 2),
    messagesPerSecond: steadySeconds > 0 ? Math.round(received / steadySeconds) : 0,
    messagesPerWsMessage: wsMessages > 0 ? round(received / wsMessages, 2) : null,
    meanInFlight: Math.round(inFlightTime / fedMs),
    publisherBusy: round(publishingTime / fedMs, 2),
    sent,
    received: final.count,
    lost: sent - final.count,
    gaps: final.gaps,
    closes: final.closes,
    errors: final.errors,
  }
}

const round = (value, digits) => Number(value.toFixed(digits))
