// The benchmark's output: a table for people, and one JSON line for scripts.

const KB = 1000

const pad = (value, width) => String(value).padStart(width)
const padEnd = (value, width) => String(value).padEnd(width)
const kb = (bytes) => `${(bytes / KB).toFixed(1)} KB`

export function printTable({ cases, sizes, settings }) {
  const lines = []
  lines.push(
    `Headless Chromium ${settings.chromium}; ${settings.seconds} s per case (rate over the steady part); ` +
      `at most ${settings.maxInFlight} messages in flight; publisher: ${settings.publisher}`,
  )
  const busy = settings.loadAverage > settings.cores / 2
  lines.push(
    `load average before the cases: ${settings.loadAverage} on ${settings.cores} cores` +
      (busy ? ": the machine was busy, so these rates are lower than on an idle one" : ""),
  )
  lines.push("")
  lines.push(
    `${padEnd("case", 27)}${pad("msgs/s", 10)}${pad("per WS msg", 12)}${pad("sent", 10)}${pad("received", 10)}` +
      `${pad("lost", 7)}${pad("gaps", 6)}${pad("closed", 8)}${pad("in flight", 11)}${pad("pub busy", 10)}`,
  )
  for (const result of cases) {
    if (result.skipped) {
      lines.push(`${padEnd(result.label, 27)}skipped: ${result.skipped}`)
      continue
    }
    const closed = result.closes + result.slowConsumers > 0 ? "yes" : "no"
    lines.push(
      `${padEnd(result.label, 27)}${pad(result.messagesPerSecond.toLocaleString("en-US"), 10)}` +
        `${pad(result.messagesPerWsMessage ?? "-", 12)}${pad(result.sent, 10)}${pad(result.received, 10)}` +
        `${pad(result.lost, 7)}${pad(result.gaps, 6)}${pad(closed, 8)}${pad(result.meanInFlight, 11)}` +
        `${pad(`${Math.round(result.publisherBusy * 100)}%`, 10)}`,
    )
    if (result.note) lines.push(`  note: ${result.note}`)
    for (const error of result.pageErrors) lines.push(`  page error: ${error}`)
  }
  lines.push("")
  lines.push(`${padEnd("bundle", 40)}${pad("raw", 12)}${pad("gzip -9", 12)}`)
  for (const [label, size] of [
    ["ferrocast (wasm + JS glue, pkg/web)", sizes.ferrocast],
    ["phoenix.js (phoenix.min.js)", sizes.phoenix],
  ]) {
    lines.push(`${padEnd(label, 40)}${pad(kb(size.raw), 12)}${pad(kb(size.gzip), 12)}`)
    if (size.files.length > 1) {
      for (const file of size.files)
        lines.push(`${padEnd(`  ${file.file}`, 40)}${pad(kb(file.raw), 12)}${pad(kb(file.gzip), 12)}`)
    }
  }
  lines.push("")
  lines.push(
    "msgs/s: messages handed to the page's new_msg callback per second, over the steady part; per WS msg: " +
      "messages per WebSocket message; lost: published but never seen; gaps: breaks in the sequence; closed: " +
      "the page's socket closed (or the relay dropped it as a slow consumer); in flight: mean messages published " +
      "but not yet seen (near the cap: the page is the bottleneck); pub busy: share of the time spent publishing.",
  )
  console.log(lines.join("\n"))
}

export function printJson(report) {
  console.log(JSON.stringify(report))
}
