// The client's npm module in headless Chromium, loaded as a page loads it, against the relay and the cutting proxy
// that `cargo xtask test` starts (support/environment.mjs lists what it passes in). Each test runs in a fresh page
// (page/suite.mjs and page/tests/); tests that need what this build does not export are skipped, saying so.
//
//   FERROCAST_CLIENT_ENTRY=web node --test --test-reporter=spec browser.test.mjs

import { after, test } from "node:test";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "./support/chromium.mjs";
import { readEnvironment } from "./support/environment.mjs";
import { resetProxy } from "./support/proxy-reset.mjs";
import { serveDirectories } from "./support/static-server.mjs";

const PAGE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "page");

// A backstop only: every wait in the page gives up by itself well before (the chaos test, the longest, within
// about 90 s when it fails).
const TEST_TIMEOUT_MS = 120_000;

const environment = readEnvironment();
const served = Object.fromEntries(environment.entries.map(({ name, dir }) => [`/${name}/`, dir]));
const server = await serveDirectories({ "/suite/": PAGE_DIR, ...served });
const browser = await launchChromium().catch(async (error) => {
  await server.close();
  throw error;
});
after(async () => {
  await browser.close();
  await server.close();
});

const pageUrl = `${server.origin}/suite/?${new URLSearchParams({
  module: environment.entries.map(({ name }) => `/${name}/${environment.module}`).join(","),
  relay: environment.relay,
  proxied: environment.proxied,
  control: environment.control,
})}`;
const loaded = environment.entries.map(({ name }) => `client/pkg/${name}/${environment.module}`).join(" + ");
console.log(`${loaded} in Chromium ${browser.version()}`);

for (const { name, skip } of await inFreshPage(listTests)) {
  test(name, { skip: skip ?? false, timeout: TEST_TIMEOUT_MS }, (t) =>
    inFreshPage((page) => runTest(page, name), { report: (line) => t.diagnostic(line), signal: t.signal }),
  );
}

/** The page's tests, `[{name, skip}]`, `skip` saying why one cannot run against this build. */
function listTests(page) {
  return page.evaluate(() => import("/suite/suite.mjs").then((suite) => suite.list()));
}

/** Runs the test `name` in the page: resolves when it passes, rejects with its failure. */
function runTest(page, name) {
  return page.evaluate((name) => import("/suite/suite.mjs").then((suite) => suite.run(name)), name);
}

/**
 * Runs `use(page)` in a page of its own (its own context: no storage, no sockets shared with another test), with
 * the proxy put back to normal first, and closes the page. What the page's code logs (the chaos test's figures) and throws uncaught goes
 * to `report` as it happens; Chromium's own console errors (mostly for the connections the proxy cuts, on purpose)
 * are reported only if the test fails.
 */
async function inFreshPage(use, { report = (line) => console.log(line), signal } = {}) {
  // Before each test rather than after: node:test starts the next test as soon as one overruns its time, without
  // waiting for it to clean up.
  await resetProxy(environment.control);
  const page = await browser.newPage();
  const unreported = [];
  page.on("console", (message) => {
    if (message.type() === "log") report(message.text());
    else unreported.push(`${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => report(`uncaught in the page: ${error.stack ?? error.message}`));
  const reportTheRest = () => unreported.splice(0).forEach(report);
  let finished = false;
  // node:test aborts the signal when a test ends, and also when it overruns its time and is abandoned: then
  // closing its page ends what it left running.
  signal?.addEventListener("abort", () => {
    if (finished) return;
    reportTheRest();
    page.close().catch(() => {});
  });
  try {
    await page.goto(pageUrl);
    return await use(page);
  } catch (error) {
    reportTheRest();
    throw error;
  } finally {
    finished = true;
    await page.close().catch(() => {});
  }
}
