// What the browser end-to-end tests share: headless Chromium (Debian's, driven by playwright-core), screenshots kept
// as artifacts, and the relay serving the built dashboard, on a port that survives a restart.
//
// - `launchBrowser()`: /usr/bin/chromium (or $CHROMIUM_BIN) with flags that work as root in a container and keep
//   it from reaching the network by itself.
// - `screenshot(page, name)`: saves `target/e2e-artifacts/<name>.png` under the repository root; returns the path.
// - `startRelay(args, {port})`, `startServer(options)`, `freePort()`: tests/support/relay-process.mjs's: the relay,
//   and any server process ready once a URL answers 200.
// - `startRelayAt(port, args)`: a relay on the given port, with `stop()`, `start()` (again, on the same port) and
//   `restart()` (both, as a deploy would).
// - `startDashboardRelay(args)`: `startRelayAt` on a free port with `--www www/dashboard/dist`.
// - `openPage(browser, url, options)`: a page in a fresh context, its console errors, uncaught exceptions
//   and failed requests collected in `page.problems`.
//
// Chromium refuses sockets to loopback from pages that did not come from the network, so pages are loaded from
// the relay over http, never from a file.

import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { launchChromium } from "../../tests/support/chromium.mjs";
import { freePort, startRelay, startServer } from "../../tests/support/relay-process.mjs";

export { freePort, startRelay, startServer };

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const DASHBOARD_DIST = path.join(ROOT, "www", "dashboard", "dist");
export const ARTIFACTS = path.join(ROOT, "target", "e2e-artifacts");
/** Headless Chromium; close it with `browser.close()`. */
export async function launchBrowser(options = {}) {
  return launchChromium(chromium, options);
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
 * `browser.newContext` (`viewport`, `deviceScaleFactor`, …). `page.problems` collects console errors, uncaught
 * exceptions and answers of 400 or more to the page's requests, for tests to assert there were none.
 */
export async function openPage(browser, url, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`uncaught: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") page.problems.push(`console: ${message.text()} (${message.location().url})`);
  });
  // A failed request is a problem even where Chromium logs nothing for it (an icon, a prefetch).
  page.on("response", (response) => {
    if (response.status() >= 400) page.problems.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
  });
  if (url) await page.goto(url);
  return page;
}

/**
 * The relay on a fixed port: `{port, url, log(), stop(), restart()}`. `restart()` stops the process (SIGTERM: the
 * relay closes its sockets with 1001) and starts a new one on the same port, so pages reconnect to it; whatever
 * the old one kept in memory (topic history, runs) is gone.
 */
export async function startRelayAt(port, args = []) {
  let current = await startRelay(args, { port });
  const relay = {
    port,
    url: `http://127.0.0.1:${port}`,
    log: () => current.log(),
    stop: () => current.stop(),
    /** Starts it again after `stop()`, on the same port. */
    async start() {
      current = await startRelay(args, { port });
    },
    async restart({ downMs = 0 } = {}) {
      await current.stop();
      if (downMs) await sleep(downMs);
      current = await startRelay(args, { port });
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
