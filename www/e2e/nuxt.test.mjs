// The Nuxt example (www/nuxt-example) end to end: its built server renders the page with the relay's workflows and
// an unconnected socket, then Chromium hydrates it, connects, joins room:nuxt and shows a broadcast posted to the
// relay's HTTP API. The relay runs with the example's Nitro routes as its backend hooks for `app:*` topics, signed
// with a secret both share and given the socket's cookies: app:chat is refused until the page signs in, then
// shows who is there and what they say, through the push hook's broadcasts.
//
// Needs the app built first (`npm ci && npm run build` in www/nuxt-example) and the relay binary
// ($FERROCAST_RELAY_BIN, or target/debug/ferrocast-relay). Run with `node --test nuxt.test.mjs` in www/e2e.

import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { freePort, launchBrowser, openPage, screenshot, startRelay, startServer } from "./support.mjs";

const APP_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../nuxt-example");
const SERVER_ENTRY = path.join(APP_DIR, ".output", "server", "index.mjs");

let relay;
let relayUrl;
let app;
let browser;
// What the relay signs its hook calls with, and the Nuxt server checks them with.
const PROXY_SECRET = randomBytes(16).toString("hex");

/** Runs the built Nuxt server on `port`; resolves to `{url, log(), stop()}` once it answers. */
async function startNuxt(port, env) {
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
  // The relay is told the hooks' URLs when it starts, and the app the relay's: the app's port is chosen first.
  const appPort = await freePort();
  const hooks = `http://127.0.0.1:${appPort}/api/realtime`;
  relay = await startRelay([
    ...["--proxy-join", `app:*=${hooks}/join`, "--proxy-push", `app:*=${hooks}/push`],
    ...["--proxy-header", "Cookie", "--proxy-secret", PROXY_SECRET],
  ]);
  relayUrl = `http://127.0.0.1:${relay.port}`;
  app = await startNuxt(appPort, {
    NUXT_PUBLIC_RELAY_URL: relayUrl,
    NUXT_PROXY_SECRET: PROXY_SECRET,
    NUXT_SESSION_SECRET: randomBytes(16).toString("hex"),
  });
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
  assert.equal(testIdText(html, "app-channel-state"), "closed", context());
  // Nobody is signed in: the sign-in form is rendered.
  assert.match(html, /data-testid="app-sign-in-form"/, context());
  assert.equal(testIdText(html, "app-signed-in"), null, context());
});

test("the hook routes answer only calls the relay signed, by the session cookie", { timeout: 30000 }, async () => {
  const body = JSON.stringify({ client: "c1", transport: "websocket", protocol: "2.0.0", user: "", topic: "app:chat" });
  const t = Math.floor(Date.now() / 1000);
  const sign = (secret, at = t) => `t=${at},v1=${createHmac("sha256", secret).update(`${at}.${body}`).digest("hex")}`;
  const join = (headers) =>
    fetch(`${app.url}/api/realtime/join`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });

  assert.equal((await join({})).status, 401, app.log());
  assert.equal((await join({ "x-ferrocast-signature": sign("not the secret") })).status, 401, app.log());
  assert.equal((await join({ "x-ferrocast-signature": sign(PROXY_SECRET, t - 3600) })).status, 401, app.log());

  const signedOut = await join({ "x-ferrocast-signature": sign(PROXY_SECRET) });
  assert.equal(signedOut.status, 200, app.log());
  assert.deepEqual(await signedOut.json(), { error: { code: 403, message: "sign in first" } });

  const login = await fetch(`${app.url}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "eve" }),
  });
  assert.equal(login.status, 200, app.log());
  const cookie = login.headers.get("set-cookie").split(";")[0];
  assert.match(cookie, /^session=/);
  const signedIn = await join({ "x-ferrocast-signature": sign(PROXY_SECRET), cookie });
  assert.deepEqual(await signedIn.json(), {
    result: { data: { topic: "app:chat", welcome: "welcome to app:chat, eve" }, presence: { name: "eve" } },
  });
  // A session cookie the server did not sign is no session.
  const unsigned = Buffer.from(JSON.stringify({ name: "eve", exp: 9e9 })).toString("base64url");
  const forged = cookie.replace(/^session=[^.]*/, `session=${unsigned}`);
  const forgedJoin = await join({ "x-ferrocast-signature": sign(PROXY_SECRET), cookie: forged });
  assert.deepEqual(await forgedJoin.json(), { error: { code: 403, message: "sign in first" } });
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

/** How many joins the relay's join hook has refused so far (its /metrics). */
async function joinsRefused() {
  const metrics = await (await fetch(`${relayUrl}/metrics`)).text();
  return Number(/^ferrocast_proxy_requests_total\{hook="join",outcome="refused"\} (\d+)$/m.exec(metrics)?.[1]);
}

/** The texts of every `[data-testid=testId]` on the page, trimmed. */
async function testIdTexts(page, testId) {
  return (await page.locator(`[data-testid="${testId}"]`).allTextContents()).map((text) => text.trim());
}

const HOOKS_TEST = "in Chromium, app:chat is the Nuxt server's: refused signed out, then presence and said broadcasts";
test(HOOKS_TEST, { timeout: 90000 }, async () => {
  browser ??= await launchBrowser();
  const ada = await openPage(browser, `${app.url}/`);
  let bob = null;
  const problems = () => [...ada.problems, ...(bob?.problems ?? [])];
  const context = () => `${problems().length ? `\n${problems().join("\n")}` : ""}${app.log()}${relay.log()}`;

  try {
    // Signed out: the join hook refuses, with its message and code; the built-in room is joined all the same.
    await waitForTestId(ada, "hydrated", "yes");
    await waitForTestId(ada, "channel-state", "joined");
    await waitForTestId(ada, "app-channel-error-reason", "sign in first");
    assert.match(await ada.locator('[data-testid="app-channel-error"]').textContent(), /\(403\)/);
    assert.ok(await ada.locator('[data-testid="app-say"]').isDisabled(), "say is disabled until joined");
    // Refused, the page leaves the channel rather than have the client ask again every few seconds.
    await waitForTestId(ada, "app-channel-state", "closed");
    const refused = await joinsRefused();
    assert.ok(refused >= 1, `the relay counted ${refused} refused joins`);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(await joinsRefused(), refused, "no join retried while signed out");

    // Signing in sets the session cookie; the socket connects again with it and the join hook lets ada in.
    await ada.locator('[data-testid="app-name"]').fill("ada");
    await ada.locator('[data-testid="app-sign-in"]').click();
    await waitForTestId(ada, "app-signed-in", "ada");
    await waitForTestId(ada, "app-channel-state", "joined");
    await waitForTestId(ada, "app-welcome", "welcome to app:chat, ada");
    assert.equal(await ada.locator('[data-testid="app-channel-error"]').count(), 0, context());
    await waitForTestId(ada, "app-presences", "ada");
    // The reconnect rejoined the built-in room too.
    await waitForTestId(ada, "channel-state", "joined");

    // A second visitor, in a context of its own (its own cookies), signs in and shows up in ada's presence.
    bob = await openPage(browser, `${app.url}/`);
    await waitForTestId(bob, "app-channel-error-reason", "sign in first");
    await bob.locator('[data-testid="app-name"]').fill("bob");
    await bob.locator('[data-testid="app-sign-in"]').click();
    await waitForTestId(bob, "app-channel-state", "joined");
    await waitForTestId(ada, "app-presence-count", "2");
    assert.deepEqual((await testIdTexts(ada, "app-presence")).sort(), ["ada", "bob"], context());
    await waitForTestId(bob, "app-presence-count", "2");

    // What ada says: the push hook replies ok and broadcasts "said", which both pages show, from ada.
    const text = `hello from ada ${Date.now()}`;
    await ada.locator('[data-testid="app-say-input"]').fill(text);
    await ada.locator('[data-testid="app-say"]').click();
    for (const page of [ada, bob]) {
      await page.locator('[data-testid="app-said-text"]', { hasText: text }).waitFor({ timeout: 10000 });
      assert.deepEqual(await testIdTexts(page, "app-said-from"), ["ada"], context());
    }
    const draft = await ada.locator('[data-testid="app-say-input"]').inputValue();
    assert.equal(draft, "", "the draft is cleared after the ok reply");

    // The push hook's error answer is the push's error reply: nothing is broadcast.
    await bob.locator('[data-testid="app-say-input"]').fill("   ");
    await bob.locator('[data-testid="app-say"]').click();
    await waitForTestId(bob, "app-say-error", "say something");
    assert.equal(await bob.locator('[data-testid="app-said-item"]').count(), 1, context());

    // Signing out connects again without the session: bob leaves ada's presence and is refused again.
    await bob.locator('[data-testid="app-sign-out"]').click();
    await waitForTestId(bob, "app-channel-error-reason", "sign in first");
    await waitForTestId(bob, "app-channel-state", "closed");
    assert.equal(await bob.locator('[data-testid="app-sign-in-form"]').count(), 1, context());
    await waitForTestId(ada, "app-presence-count", "1");
    assert.deepEqual(await testIdTexts(ada, "app-presence"), ["ada"], context());

    await screenshot(ada, "nuxt-example-hooks");
    assert.deepEqual(problems(), [], context());
  } catch (err) {
    await screenshot(ada, "nuxt-example-hooks-failure").catch(() => {});
    err.message += context();
    throw err;
  } finally {
    await ada.context().close();
    await bob?.context().close();
  }
});
