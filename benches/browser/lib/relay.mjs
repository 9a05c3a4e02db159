// Starts a ferrocast-relay on a free loopback port for the benchmark, and stops it again.
//
// The relay is started through `sh` so its soft open-file limit can be raised to the hard one first (the rules of
// this machine ask every tool to do so); the benchmark itself opens only two connections per case.

import { spawn } from "node:child_process"
import { freePort, sleep } from "./util.mjs"

const STARTUP_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 3_000
const KEPT_LOG_CHARS = 4_000

// The relay's queue per connection, raised from its default (4096 frames) so the publisher can keep enough
// messages in flight that the page, not the round trips of the feed, sets the pace.
export const RELAY_OUTBOX_FRAMES = 65_536

// Runs `bin --listen 127.0.0.1:<free port> --outbox-frames N` and resolves once `/healthz` answers.
export async function startRelay(bin) {
  const port = await freePort()
  const child = spawn("sh", ["-c", 'ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"', bin, "--listen", `127.0.0.1:${port}`, "--outbox-frames", String(RELAY_OUTBOX_FRAMES)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "info" },
  })
  const relay = new Relay(child, port)
  const deadline = Date.now() + STARTUP_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (relay.exited) throw new Error(`the relay exited at start (${relay.exited}):\n${relay.log}`)
    if (await relay.healthy()) return relay
    await sleep(50)
  }
  await relay.stop()
  throw new Error(`the relay did not answer /healthz within ${STARTUP_TIMEOUT_MS} ms:\n${relay.log}`)
}

class Relay {
  constructor(child, port) {
    this.child = child
    this.port = port
    this.exited = null
    this.log = ""
    const keep = (chunk) => {
      this.log = (this.log + chunk).slice(-KEPT_LOG_CHARS)
    }
    child.stdout.on("data", keep)
    child.stderr.on("data", keep)
    this.done = new Promise((resolve) => {
      child.on("exit", (code, signal) => {
        this.exited = signal ?? `code ${code}`
        resolve()
      })
    })
    // Should run.mjs die without reaching its cleanup, the relay must not outlive it.
    this.killOnExit = () => child.kill("SIGKILL")
    process.on("exit", this.killOnExit)
  }

  get httpUrl() {
    return `http://127.0.0.1:${this.port}`
  }

  get socketUrl() {
    return `ws://127.0.0.1:${this.port}/socket`
  }

  async healthy() {
    try {
      return (await fetch(`${this.httpUrl}/healthz`)).ok
    } catch {
      return false
    }
  }

  // The relay's counters from /metrics, by name (`ferrocast_slow_consumers_total`, ...).
  async metrics() {
    const text = await (await fetch(`${this.httpUrl}/metrics`)).text()
    const values = {}
    for (const line of text.split("\n")) {
      const match = /^(ferrocast_[a-z_]+) ([0-9.e+-]+)$/.exec(line)
      if (match) values[match[1]] = Number(match[2])
    }
    return values
  }

  // SIGTERM (the relay shuts down gracefully), then SIGKILL if it takes too long.
  async stop() {
    if (!this.exited) {
      this.child.kill("SIGTERM")
      const killed = sleep(STOP_TIMEOUT_MS).then(() => this.exited || this.child.kill("SIGKILL"))
      await Promise.race([this.done, killed])
      await this.done
    }
    process.off("exit", this.killOnExit)
  }
}
