// Headless-Chromium benchmark of the Ferrocast wasm client next to phoenix.js: messages per second handed to the
// page's `new_msg` callback, for phoenix.js, Ferrocast with `batch: false` and Ferrocast with `batch: true` (and a
// bare WebSocket as the baseline), each fed by a relay as fast as the page takes them; and each client's bundle
// size.
//
//   node run.mjs --relay-bin PATH [--pkg DIR] [--seconds N] [--json]
//                [--publisher auto|socket|http] [--max-in-flight N]
//
// It starts the relay and a static server for the page on free loopback ports, runs the cases one after another
// in fresh pages, prints a table (and with --json one JSON line), and stops everything it started, also on errors.
// The whole run stays under two minutes: --seconds is capped, and a watchdog ends a run that overstays.

import { readdirSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { chromium } from "playwright-core"
import { CASES, runCase } from "./lib/cases.mjs"
import { RELAY_OUTBOX_FRAMES, startRelay } from "./lib/relay.mjs"
import { printJson, printTable } from "./lib/report.mjs"
import { bundleSize } from "./lib/sizes.mjs"
import { benchRoutes, serveFiles } from "./lib/static-server.mjs"
import { launchChromium } from "../../tests/support/chromium.mjs"

const HERE = path.dirname(fileURLToPath(import.meta.url))
const MAX_SECONDS = 20
const WATCHDOG_MS = 115_000
// Under the relay's queue per connection (RELAY_OUTBOX_FRAMES), with room for replies and heartbeats.
const DEFAULT_MAX_IN_FLIGHT = 24_000
const MAX_IN_FLIGHT_LIMIT = RELAY_OUTBOX_FRAMES - 1_000

const options = readOptions()
const watchdog = setTimeout(() => {
  console.error(`the run took longer than ${WATCHDOG_MS / 1000} s: stopping`)
  process.exit(2)
}, WATCHDOG_MS)
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130))

const started = { relay: null, files: null, browser: null }
try {
  await main()
} catch (error) {
  console.error(error?.stack ?? String(error))
  process.exitCode = 1
} finally {
  await started.browser?.close().catch(() => {})
  await started.files?.close()
  await started.relay?.stop()
  clearTimeout(watchdog)
}

async function main() {
  const loadBefore = os.loadavg()[0]
  const pkgWebDir = path.join(options.pkg, "web")
  const pkgWebFiles = readdirSync(pkgWebDir)
  const phoenixStaticDir = path.join(HERE, "node_modules", "phoenix", "priv", "static")
  const sizes = {
    ferrocast: bundleSize(
      ["ferrocast_client_bg.wasm", "ferrocast_client.js"].map((file) => path.join(pkgWebDir, file)),
    ),
    phoenix: bundleSize([path.join(phoenixStaticDir, "phoenix.min.js")]),
  }

  started.relay = await startRelay(options.relayBin)
  started.files = await serveFiles(
    benchRoutes({ pageDir: path.join(HERE, "page"), pkgWebDir, phoenixStaticDir, pkgWebFiles }),
  )
  started.browser = await launchChromium(chromium, { headless: true })
  // Bench pages are opened through this session, outside Playwright's pages (see lib/bench-page.mjs).
  const cdp = await started.browser.newBrowserCDPSession()
  console.log(
    `relay on 127.0.0.1:${started.relay.port} (open-file soft limit raised to the hard one; ` +
      "2 connections per case, far below it)",
  )

  const cases = []
  for (const spec of CASES) {
    cases.push(
      await runCase(spec, {
        cdp,
        files: started.files,
        relay: started.relay,
        seconds: options.seconds,
        maxInFlight: options.maxInFlight,
        publisherKind: options.publisher,
      }),
    )
  }
  const publishers = [...new Set(cases.map((result) => result.publisher).filter(Boolean))]
  const settings = {
    chromium: started.browser.version(),
    seconds: options.seconds,
    maxInFlight: options.maxInFlight,
    publisher: publishers.join(", ") || options.publisher,
    cores: os.availableParallelism(),
    // Other work on the machine takes CPU from the browser: the 1-minute load average before the cases (after
    // them it counts the benchmark's own processes too).
    loadAverage: round(loadBefore),
  }
  printTable({ cases, sizes, settings })
  if (options.json) printJson({ settings, cases, sizes })
}

function readOptions() {
  const { values } = parseArgs({
    options: {
      "relay-bin": { type: "string" },
      pkg: { type: "string", default: path.resolve(HERE, "..", "..", "client", "pkg") },
      seconds: { type: "string", default: "8" },
      json: { type: "boolean", default: false },
      publisher: { type: "string", default: "auto" },
      "max-in-flight": { type: "string", default: String(DEFAULT_MAX_IN_FLIGHT) },
    },
  })
  const usage = "usage: node run.mjs --relay-bin PATH [--pkg DIR] [--seconds N] [--json] [--publisher auto|socket|http]"
  if (!values["relay-bin"]) fail(usage)
  const seconds = Number(values.seconds)
  if (!(seconds > 0)) fail(`--seconds must be a positive number\n${usage}`)
  if (seconds > MAX_SECONDS) console.error(`--seconds capped at ${MAX_SECONDS} to keep the run under two minutes`)
  const maxInFlight = Math.floor(Number(values["max-in-flight"]))
  if (!(maxInFlight > 0) || maxInFlight > MAX_IN_FLIGHT_LIMIT) {
    fail(`--max-in-flight must be 1..${MAX_IN_FLIGHT_LIMIT} (the relay closes consumers past ${RELAY_OUTBOX_FRAMES} queued frames)`)
  }
  if (!["auto", "socket", "http"].includes(values.publisher)) fail(`--publisher must be auto, socket or http\n${usage}`)
  return {
    relayBin: path.resolve(values["relay-bin"]),
    pkg: path.resolve(values.pkg),
    seconds: Math.min(seconds, MAX_SECONDS),
    json: values.json,
    publisher: values.publisher,
    maxInFlight,
  }
}

function round(value) {
  return Number(value.toFixed(2))
}

function fail(message) {
  console.error(message)
  process.exit(64)
}
