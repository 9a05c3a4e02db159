// What the browser end-to-end tests share: headless Chromium (Debian's, driven by playwright-core), screenshots kept
// as artifacts, and the relay serving the built dashboard, on a port that survives a restart.
//
// - `launchBrowser()`: /usr/bin/chromium (or $CHROMIUM_BIN) with flags that work as root in a container and keep
//   it from reaching the network by itself.
// - `screenshot(page, name)`: saves `target/e2e-artifacts/<name>.png` under the repository root; returns the path.
// - `startRelay(args)`, `freePort()`: tests/support/relay-process.mjs's, a relay on a fresh free port.
// - `startRelayAt(port, args)`: a relay on the given port, with `stop()`, `start()` (again, on the same port) and
//   `restart()` (both, as a deploy would).
// - `startDashboardRelay(args)`: `startRelayAt` on a free port with `--www www/dashboard/dist`.
// - `openPage(browser, url, options)`: a page in a fresh context, its console errors and uncaught exceptions
//   collected in `page.problems`.
//
// Chromium refuses sockets to loopback from pages that did not come from the network, so pages are loaded from
// the relay over http, never from a file.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { freePort, startRelay } from "../../tests/support/relay-process.mjs";

export { freePort, startRelay };

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const DASHBOARD_DIST = path.join(ROOT, "www", "dashboard", "dist");
export const ARTIFACTS = path.join(ROOT, "target", "e2e-artifacts");
export const RELAY_BIN = process.env.FERROCAST_RELAY_BIN || path.join(ROOT, "target", "debug", "ferrocast-relay");
export const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Headless Chromium; close it with `browser.close()`. */
export async function launchBrowser(options = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's \`chromium\` (or set CHROMIUM_BIN)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, ...options });
}

/** Saves a PNG of the page (the whole page unless `{fullPage: false}`) as an artifact; returns its path. */
export async function screenshot(page, name, options = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, ...options });
  return file;
}

/**
 * A page in a context of its own (its own cookies and storage, as another visitor), `options` going to
 * `browser.newContext` (`viewport`, `deviceScaleFactor`, …). `page.problems` collects console errors and uncaught
 * exceptions, for tests to assert there were none.
 */
export async function openPage(browser, url, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`uncaught: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") page.problems.push(`console: ${message.text()} (${message.location().url})`);
  });
  if (url) await page.goto(url);
  return page;
}

// Relays this process started: killed if it exits or is interrupted, so none outlives a test run.
const running = new Set();
let guarded = false;
function guardChildren() {
  if (guarded) return;
  guarded = true;
  process.on("exit", () => running.forEach((kill) => kill()));
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(signal, () => {
      running.forEach((kill) => kill());
      process.exit(1);
    });
  }
}

/** Spawns the relay on `port`; resolves once GET /healthz answers 200. */
async function spawnRelay(port, args) {
  if (!existsSync(RELAY_BIN)) {
    throw new Error(
      `relay binary not found at ${RELAY_BIN}: build it with \`cargo build -p ferrocast-relay\` ` +
        "(or set FERROCAST_RELAY_BIN)",
    );
  }
  const child = spawn(RELAY_BIN, ["--listen", `127.0.0.1:${port}`, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-32 * 1024);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.once("error", (error) => keep(`spawn error: ${error.message}\n`));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const killNow = () => alive() && child.kill("SIGKILL");
  guardChildren();
  running.add(killNow);
  const log = () => (output.trim() ? `\n--- relay output ---\n${output.trimEnd()}` : "\n(the relay printed nothing)");

  const deadline = Date.now() + 15_000;
  for (;;) {
    const early = await Promise.race([exited, sleep(50).then(() => null)]);
    if (early) {
      running.delete(killNow);
      throw new Error(`the relay on port ${port} exited before it was ready (${JSON.stringify(early)})${log()}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) });
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      killNow();
      running.delete(killNow);
      throw new Error(`the relay on port ${port} did not answer GET /healthz within 15 s${log()}`);
    }
  }

  async function stop() {
    running.delete(killNow);
    if (!alive()) return;
    child.kill("SIGTERM");
    const how = await Promise.race([exited.then(() => "exited"), sleep(5000, "late", { ref: false })]);
    if (how !== "exited") {
      killNow();
      await exited;
      throw new Error(`the relay did not exit within 5 s of SIGTERM${log()}`);
    }
  }
  return { log, stop };
}

/**
 * The relay on a fixed port: `{port, url, log(), stop(), restart()}`. `restart()` stops the process (SIGTERM: the
 * relay closes its sockets with 1001) and starts a new one on the same port, so pages reconnect to it; whatever
 * the old one kept in memory (topic history, runs) is gone.
 */
export async function startRelayAt(port, args = []) {
  let current = await spawnRelay(port, args);
  const relay = {
    port,
    url: `http://127.0.0.1:${port}`,
    log: () => current.log(),
    stop: () => current.stop(),
    /** Starts it again after `stop()`, on the same port. */
    async start() {
      current = await spawnRelay(port, args);
    },
    async restart({ downMs = 0 } = {}) {
      await current.stop();
      if (downMs) await sleep(downMs);
      current = await spawnRelay(port, args);
    },
  };
  return relay;
}

/** The relay serving the built dashboard at `/`, on a free port (fixed for its restarts). */
export async function startDashboardRelay(args = []) {
  if (!existsSync(path.join(DASHBOARD_DIST, "index.html"))) {
    throw new Error(`${DASHBOARD_DIST}/index.html is missing: build the dashboard (cd www/dashboard && npm run build)`);
  }
  return startRelayAt(await freePort(), ["--www", DASHBOARD_DIST, ...args]);
}
