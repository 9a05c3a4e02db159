// The demo dashboard (www/dashboard/dist, served by the relay at /) in headless Chromium against a real relay.
// The tests share one relay and run in order: the runs of the pipeline tests are what the feed test looks for, and
// the restart test comes late because it wipes the relay's memory. Screenshots land in target/e2e-artifacts/.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { stagesOf } from "../../tests/support/workflows.mjs";
import { launchBrowser, openPage, screenshot, startDashboardRelay } from "./support.mjs";

const tid = (id) => `[data-testid="${id}"]`;
/** The pipeline's stages, as the relay lists them (read in `before`). */
let PIPELINE;

let relay;
let browser;
let page; // the first visitor, open from the first test to the restart
const runs = {}; // run ids by test

/** Waits until the page's socket is open. */
async function connected(p, timeout = 15_000) {
  await p.locator(`${tid("connection-state")}[data-state="open"]`).waitFor({ timeout });
}

/** The user name the page picked (its presence key). */
async function userName(p) {
  return p.locator(tid("user-name")).inputValue();
}

/** Starts a run from the pipeline runner and waits for its timeline; returns the run id. */
async function startRun(p, { workflow = "pipeline", durationMs = 50, failStep = "", failTimes = 0 } = {}) {
  const shown = await p.locator(tid("run-id")).textContent({ timeout: 100 }).catch(() => null);
  await p.locator(`${tid("workflow-select")} option[value="${workflow}"]`).waitFor({ state: "attached" });
  await p.locator(tid("workflow-select")).selectOption(workflow);
  await p.locator(tid("duration-input")).fill(String(durationMs));
  await p.locator(tid("fail-step-select")).selectOption(failStep);
  if (failStep) await p.locator(tid("fail-times-input")).fill(String(failTimes));
  await p.locator(tid("run-button")).click();
  try {
    const handle = await p.waitForFunction(
      (previous) => {
        const text = document.querySelector('[data-testid="run-id"]')?.textContent?.trim();
        return text && text !== previous ? text : null;
      },
      shown,
      { timeout: 10_000 },
    );
    return await handle.jsonValue();
  } catch (error) {
    const refusal = await p.locator(tid("run-error-message")).textContent({ timeout: 100 }).catch(() => "none");
    throw new Error(`no run started (the page says: ${refusal}): ${error.message}`);
  }
}

/** `{step: {status, attempt, retries}}` of the timeline on screen, in its order. */
async function stepStatuses(p) {
  return p.locator(tid("step")).evaluateAll((rows) =>
    Object.fromEntries(
      rows.map(({ dataset }) => [
        dataset.step,
        { status: dataset.status, attempt: Number(dataset.attempt), retries: Number(dataset.retries) },
      ]),
    ),
  );
}

describe("the demo dashboard", { timeout: 120_000 }, () => {
  before(async () => {
    const starting = startDashboardRelay().then((started) => (relay = started));
    browser = await launchBrowser();
    await starting;
    PIPELINE = await stagesOf(relay.port, "pipeline");
    assert.equal(PIPELINE.length, 8);
  });

  after(async () => {
    await browser?.close();
    await relay?.stop();
  });

  test("loads from the relay and connects: the state shows open, the page joins the room", async () => {
    page = await openPage(browser, `${relay.url}/`, { viewport: { width: 1360, height: 1000 } });
    await connected(page);
    assert.equal(await page.title(), "Ferrocast dashboard");
    const me = await userName(page);
    assert.match(me, /^[a-z]+-\d{3}$/);
    // Presence comes back from the relay: the page sees itself in the room.
    await page.locator(`${tid("presence-user")}[data-user="${me}"]`).waitFor({ timeout: 10_000 });
    // The workflow listing arrived over HTTP, labelled as simulations.
    await page.locator(tid("simulation-badge")).waitFor();
    assert.match(await page.locator(tid("workflow-description")).textContent(), /Simulation/);
    // The SSE feed is open, and the heartbeat (every 5 s) is not needed for the stats to be there.
    await page.locator(`${tid("feed-state")}:has-text("open")`).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator(tid("reconnect-attempts")).textContent(), "0");
    assert.equal(await page.locator(tid("queued-pushes")).textContent().then((t) => t.trim()), "0");
    // A first load is clean: the chat asks for the history of a room nothing was broadcast on yet, and the relay
    // answers it as empty, not 404; the icon is inline, so there is no /favicon.ico to miss.
    assert.equal(await page.locator('link[rel="icon"][href^="data:"]').count(), 1, "the icon needs no request");
    assert.deepEqual(page.problems, [], "no console error, uncaught exception or failed request");
    await screenshot(page, "dashboard-loaded");
  });

  test("a pipeline run shows all 8 steps completed, live from reactor:<run_id>", async () => {
    runs.ok = await startRun(page, { workflow: "pipeline", durationMs: 50 });
    await page.locator(`${tid("run-outcome")}[data-status="completed"]`).waitFor({ timeout: 15_000 });
    const steps = await stepStatuses(page);
    assert.deepEqual(Object.keys(steps), PIPELINE);
    for (const name of PIPELINE) {
      assert.deepEqual(steps[name], { status: "completed", attempt: 1, retries: 0 }, name);
    }
    assert.equal(await page.locator(tid("steps-completed")).textContent(), "8");
    // Each completed step shows its duration (at least the 50 ms it was asked to take).
    const durations = await page.locator(`${tid("step")} .step-meta`).allTextContents();
    assert.equal(durations.filter((text) => /\d+ ms/.test(text)).length, 8, durations.join(" | "));
    await screenshot(page, "pipeline-completed");
  });

  test("failure injection (fail_times 3): two retries, the step fails, the steps before it are undone", async () => {
    runs.failed = await startRun(page, { workflow: "pipeline", durationMs: 50, failStep: "dspy:convert", failTimes: 3 });
    await page.locator(`${tid("run-outcome")}[data-status="failed"]`).waitFor({ timeout: 20_000 });
    const steps = await stepStatuses(page);
    // Tried three times (two retries), failed for good.
    assert.deepEqual(steps["dspy:convert"], { status: "failed", attempt: 3, retries: 2 });
    assert.match(await page.locator(`${tid("step")}[data-step="dspy:convert"]`).textContent(), /failed after 2 retries/);
    // The compensation undid what had completed, and nothing after the failure started.
    assert.equal(steps["ontology:create"].status, "undone");
    assert.equal(steps["turtle:generate"].status, "undone");
    for (const name of PIPELINE.slice(3)) assert.equal(steps[name].status, "pending", name);
    await page.locator(tid("run-compensation")).waitFor();
    assert.match(await page.locator(tid("run-compensation")).textContent(), /2 completed steps were undone/);
    assert.match(await page.locator(tid("run-summary")).textContent(), /2 retries/);
    assert.match(await page.locator(tid("run-error")).textContent(), /dspy:convert/);
    await screenshot(page, "pipeline-compensated");
  });

  test("two pages see each other in presence and exchange a chat message", async () => {
    const other = await openPage(browser, `${relay.url}/`, { viewport: { width: 1100, height: 900 } });
    try {
      await connected(other);
      const [me, them] = [await userName(page), await userName(other)];
      assert.notEqual(me, them);
      await page.locator(`${tid("presence-user")}[data-user="${them}"]`).waitFor({ timeout: 10_000 });
      await other.locator(`${tid("presence-user")}[data-user="${me}"]`).waitFor({ timeout: 10_000 });

      const text = `hello from ${me} at ${Date.now()}`;
      await page.locator(tid("chat-input")).fill(text);
      await page.locator(tid("chat-send")).click();
      const received = other.locator(`${tid("chat-message")}[data-user="${me}"]`, { hasText: text });
      await received.waitFor({ timeout: 10_000 });
      // The sender sees it once, from the broadcast.
      await page.locator(`${tid("chat-message")}[data-user="${me}"]`, { hasText: text }).waitFor();
      assert.equal(await page.locator(tid("chat-message"), { hasText: text }).count(), 1);

      const reply = `hi ${me}, ${them} here`;
      await other.locator(tid("chat-input")).fill(reply);
      await other.locator(tid("chat-input")).press("Enter");
      await page.locator(`${tid("chat-message")}[data-user="${them}"]`, { hasText: reply }).waitFor({ timeout: 10_000 });
      await screenshot(page, "chat-first-page");
      await screenshot(other, "chat-second-page");

      // A new name rejoins under it: the first page sees the old one go and the new one come.
      const renamed = `${them}-x`;
      await other.locator(tid("user-name")).fill(renamed);
      await other.locator(tid("rename")).click();
      await page.locator(`${tid("presence-user")}[data-user="${renamed}"]`).waitFor({ timeout: 10_000 });
      await page.locator(`${tid("presence-user")}[data-user="${them}"]`).waitFor({ state: "detached", timeout: 10_000 });
    } finally {
      await other.context().close();
    }
    // When the other page goes, presence says so.
    await page.locator(`${tid("presence-user")}[data-user="${await userName(page)}"]`).waitFor();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="presence-user"]').length === 1,
      null,
      { timeout: 10_000 },
    );
  });

  test("the server-sent-events feed receives the run summaries, newest first", async () => {
    const item = (run, event) => page.locator(`${tid("feed-item")}[data-run-id="${run}"][data-event="${event}"]`);
    for (const event of ["run_started", "run_completed"]) await item(runs.ok, event).waitFor({ timeout: 10_000 });
    for (const event of ["run_started", "run_compensated", "run_failed"]) {
      await item(runs.failed, event).waitFor({ timeout: 10_000 });
    }
    assert.match(await item(runs.ok, "run_completed").textContent(), /8\/8 steps · completed/);
    assert.match(await item(runs.failed, "run_failed").textContent(), /2\/8 steps|0\/8 steps/);
    const order = await page
      .locator(tid("feed-item"))
      .evaluateAll((rows) => rows.map((row) => `${row.dataset.runId}:${row.dataset.event}`));
    assert.deepEqual(order.slice(0, 2), [`${runs.failed}:run_failed`, `${runs.failed}:run_compensated`]);
    assert.equal(order.at(-1), `${runs.ok}:run_started`);
    // The chart counted what came in.
    assert.ok(Number(await page.locator(tid("rate-total")).textContent()) > 20);
    await screenshot(page, "feed");
  });

  // With the relay's in-memory backend a restart loses every topic's history (a new epoch): the page reconnects
  // and rejoins, the relay cannot replay what was missed, so the page must say recovery was not possible and
  // reload its state (the chat is emptied and fetched again; the run is no longer known).
  test("relay restart: the page reconnects; history is gone, so it shows recovery was not possible and reloads", async () => {
    const me = await userName(page);
    assert.ok((await page.locator(tid("chat-message")).count()) > 0, "the chat has messages before the restart");
    await relay.stop();
    await page.locator(`${tid("reconnect-indicator")}[data-reconnecting="true"]`).waitFor({ timeout: 10_000 });
    assert.notEqual(await page.locator(tid("connection-state")).getAttribute("data-state"), "open");
    await screenshot(page, "restart-reconnecting");
    await relay.start();

    await connected(page, 20_000);
    assert.equal(await page.locator(tid("reconnect-count")).textContent(), "1×");
    const roomNotice = page.locator(`${tid("recovery-notice")}[data-topic="room:lobby"]`);
    await roomNotice.waitFor({ timeout: 10_000 });
    assert.match(await roomNotice.textContent(), /recovery not possible — state reloaded/);
    // Reloaded: the old messages were dropped and the (new, empty) history fetched again.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="chat-message"]').length === 0, null, {
      timeout: 5_000,
    });
    // The run's channel could not recover either, and the restarted relay does not know the run.
    await page.locator(`${tid("recovery-notice")}[data-topic="reactor:${runs.failed}"]`).waitFor({ timeout: 10_000 });
    await page.locator(tid("run-forgotten")).waitFor({ timeout: 5_000 });
    assert.equal(await page.locator(tid("run-outcome")).getAttribute("data-status"), "unknown");
    // Presence is rebuilt on the new relay, and chat works again.
    await page.locator(`${tid("presence-user")}[data-user="${me}"]`).waitFor({ timeout: 10_000 });
    await page.locator(tid("chat-input")).fill("back after the restart");
    await page.locator(tid("chat-send")).click();
    await page.locator(tid("chat-message"), { hasText: "back after the restart" }).waitFor({ timeout: 10_000 });
    // The event stream resumed with an id of the old relay: it too reports the loss and reloads.
    await page.locator(`${tid("feed-panel")} ${tid("recovery-notice")}`).waitFor({ timeout: 20_000 });
    assert.equal(await page.locator(tid("feed-item")).count(), 0);
    await screenshot(page, "restart-recovered");
  });

  test("phone viewport (390x844): no horizontal overflow", async () => {
    const phone = await openPage(browser, `${relay.url}/`, {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    try {
      await connected(phone);
      // Fill the panels with their widest content: a run with retries and undos, a chat message, feed items.
      await startRun(phone, { workflow: "reverse_flow", durationMs: 30, failStep: "ttl:derive", failTimes: 3 });
      await phone.locator(`${tid("run-outcome")}[data-status="failed"]`).waitFor({ timeout: 20_000 });
      await phone.locator(tid("chat-input")).fill("a message from a phone-sized screen, long enough to need wrapping");
      await phone.locator(tid("chat-send")).click();
      await phone.locator(tid("chat-message")).first().waitFor({ timeout: 10_000 });
      await phone.locator(`${tid("feed-item")}[data-event="run_failed"]`).waitFor({ timeout: 10_000 });
      const width = await phone.evaluate(() => document.scrollingElement.scrollWidth);
      assert.ok(width <= 390, `the page is ${width} px wide on a 390 px screen`);
      await screenshot(phone, "phone-390x844");
      await phone.evaluate(() => window.scrollTo(0, 0));
      await screenshot(phone, "phone-390x844-first-screen", { fullPage: false });
    } finally {
      await phone.context().close();
    }
  });
});
