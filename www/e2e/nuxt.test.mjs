// The Nuxt example (www/nuxt-example) end to end: its built server renders the page with the relay's workflows and
// an unconnected socket, then Chromium hydrates it, connects, joins room:nuxt and shows a broadcast posted to the
// relay's HTTP API.
//
// Needs the app built first (`npm ci && npm run build` in www/nuxt-example) and the relay binary
// ($FERROCAST_RELAY_BIN, or target/debug/ferrocast-relay). Run with `node --test nuxt.test.mjs` in www/e2e.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { freePort, launchBrowser, screenshot, startRelay, startServer } from "./support.mjs";

const APP_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../nuxt-example");
const SERVER_ENTRY = path.join(APP_DIR, ".output", "server", "index.mjs");

let relay;
let relayUrl;
let app;
let browser;

/** Runs the built Nuxt server on a free loopback port; resolves to `{url, log(), stop()}` once it answers. */
async function startNuxt(env) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { log, stop } = await startServer({
    name: "nuxt server",
    command: process.execPath,
    args: [SERVER_ENTRY],
    cwd: APP_DIR,
    env: { ...process.env, ...env, HOST: "127.0.0.1", PORT: String(port), NITRO_HOST: "127.0.0.1", NITRO_PORT: String(port) },
    readyUrl: `${url}/`,
    readyWithinMs: 20_000,
    // It listens, but cannot render the page (a missing module, say): waiting will not help.
    failOnStatus: true,
  });
  return { url, log, stop };
}

/** The text of the first element with `data-testid` in server-rendered HTML (tags inside removed), or null. */
function testIdText(html, testId) {
  const match = new RegExp(`<([a-z]+)[^>]*\\bdata-testid="${testId}"[^>]*>([\\s\\S]*?)</\\1>`).exec(html);
  return match ? match[2].replace(/<[^>]*>/g, "").trim() : null;
}

/** Waits until the element `[data-testid=testId]` on the page reads `expected`; fails saying what it read. */
async function waitForTestId(page, testId, expected, timeout = 15000) {
  try {
    await page.waitForFunction(
      ([id, text]) => document.querySelector(`[data-testid="${id}"]`)?.textContent.trim() === text,
      [testId, expected],
      { timeout },
    );
  } catch (err) {
    const actual = await page
      .evaluate((id) => document.querySelector(`[data-testid="${id}"]`)?.textContent.trim() ?? null, testId)
      .catch(() => "(page gone)");
    throw new Error(`[data-testid=${testId}] read ${JSON.stringify(actual)}, not ${JSON.stringify(expected)}: ${err.message}`);
  }
}

before(async () => {
  if (!existsSync(SERVER_ENTRY)) {
    throw new Error(`${SERVER_ENTRY} is missing: build the example first (npm ci && npm run build in www/nuxt-example)`);
  }
  relay = await startRelay([]);
  relayUrl = `http://127.0.0.1:${relay.port}`;
  app = await startNuxt({ NUXT_PUBLIC_RELAY_URL: relayUrl });
});

after(async () => {
  await browser?.close().catch(() => {});
  await app?.stop();
  await relay?.stop();
});

test("the page is rendered on the server with the relay's workflows and no connection yet", { timeout: 30000 }, async () => {
  const expected = (await (await fetch(`${relayUrl}/api/workflows`)).json()).workflows.map((w) => w.name);
  assert.ok(expected.includes("pipeline") && expected.includes("reverse_flow"), `relay workflows: ${expected}`);

  const response = await fetch(`${app.url}/`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /text\/html/);
  const html = await response.text();
  const context = () => `${html.slice(0, 4000)}${app.log()}`;

  assert.equal(testIdText(html, "rendered-on"), "server", context());
  assert.equal(testIdText(html, "hydrated"), "no", context());
  assert.equal(testIdText(html, "relay-url"), relayUrl, context());
  assert.equal(testIdText(html, "workflows-error"), null, context());
  const names = [...html.matchAll(/data-testid="workflow-name"[^>]*>([^<]*)</g)].map((m) => m[1]);
  assert.deepEqual(names.sort(), [...expected].sort(), context());
  // The socket is made only in the browser: the server says it is closed and the channel not joined.
  assert.equal(testIdText(html, "socket-state"), "closed", context());
  assert.equal(testIdText(html, "channel-state"), "closed", context());
});

test("in Chromium the page hydrates, connects, joins room:nuxt and shows broadcasts", { timeout: 60000 }, async () => {
  browser = await launchBrowser();
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") {
      problems.push(`console error: ${message.text()}`);
    }
  });
  const context = () => `${problems.length ? `\n${problems.join("\n")}` : ""}${app.log()}${relay.log()}`;

  try {
    await page.goto(`${app.url}/`);
    await waitForTestId(page, "hydrated", "yes");
    await waitForTestId(page, "socket-state", "open");
    await waitForTestId(page, "channel-state", "joined");
    // The workflows came with the page: still there after hydration, not fetched again.
    assert.equal(await page.locator('[data-testid="workflow-name"]').count(), 2, context());
    await waitForTestId(page, "rendered-on", "server");

    // Presence: this page is in the room under its own name, and sees a second visitor come and go.
    const userId = (await page.locator('[data-testid="user-id"]').textContent()).trim();
    assert.match(userId, /^nuxt-/);
    await page.locator('[data-testid="presence"]', { hasText: userId }).waitFor({ timeout: 10000 });
    const visitor = await (await browser.newContext()).newPage();
    await visitor.goto(`${app.url}/`);
    await waitForTestId(visitor, "channel-state", "joined");
    const visitorId = (await visitor.locator('[data-testid="user-id"]').textContent()).trim();
    assert.notEqual(visitorId, userId);
    await page.locator('[data-testid="presence"]', { hasText: visitorId }).waitFor({ timeout: 10000 });
    await waitForTestId(page, "presence-count", "2");
    await visitor.context().close();
    await page.locator('[data-testid="presence"]', { hasText: visitorId }).waitFor({ state: "detached", timeout: 10000 });
    await waitForTestId(page, "presence-count", "1");

    // A broadcast from the relay's HTTP API reaches the page.
    const body = `hello from the relay ${Date.now()}`;
    const posted = await fetch(`${relayUrl}/api/broadcast`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ topic: "room:nuxt", event: "new_msg", payload: { body, user: "e2e" } }),
    });
    assert.equal(posted.status, 200, `${await posted.text()}${context()}`);
    await page.locator('[data-testid="message-body"]', { hasText: body }).waitFor({ timeout: 10000 });

    // And a message sent from the page goes round through the relay.
    const typed = `hello from the page ${Date.now()}`;
    await page.locator('[data-testid="message-input"]').fill(typed);
    await page.locator('[data-testid="send"]').click();
    await page.locator('[data-testid="message-body"]', { hasText: typed }).waitFor({ timeout: 10000 });
    assert.equal(await page.locator('[data-testid="message"]').count(), 2, context());

    await screenshot(page, "nuxt-example");
    assert.deepEqual(problems, [], context());
  } catch (err) {
    await screenshot(page, "nuxt-example-failure").catch(() => {});
    err.message += context();
    throw err;
  }
});
