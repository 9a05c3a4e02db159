// A webhook receiver for the end-to-end tests of webhooks out: the relay POSTs its signed event batches here, this
// checks each signature with the npm `standardwebhooks` package (an implementation independent of the relay's),
// keeps a record of every delivery for the tests to read (GET /_log, cleared by POST /_reset), and answers in the
// mode a test set with POST /_mode, so the relay's retries, dead letters and Retry-After handling can be driven:
//
//   {}                                               200 (the default)
//   {"status": 500, "for_ms": 10000}                 500 for 10 s, then 200 again
//   {"status": 400, "body": "no such customer", "times": 1}   400 with that body once, then 200
//   {"status": 429, "retry_after": 2, "times": 1}    429 with `Retry-After: 2` once, then 200
//
// POST /_delay {"ms": 20} makes every answer from then on wait 20 ms (a slow receiver; 0 for none).
//
// `node receiver.mjs --secret whsec_...` listens on 127.0.0.1 (a free port), prints `listening <port>`, and exits
// when its stdin closes (so a test that dies never leaves it running) or on SIGTERM. `node receiver.mjs --check`
// checks the verification itself against requests it signs (good, tampered, wrong key, stale) and exits.

import { createHmac, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";

const MAX_BODY = 16 * 1024 * 1024;
const arg = (name) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};

/** `{valid, error?}` for a raw body and its headers, by the `standardwebhooks` package. */
function verify(webhook, raw, headers) {
  try {
    webhook.verify(raw, headers, { jsonParse: false });
    return { valid: true };
  } catch (error) {
    return { valid: false, error: String(error.message ?? error) };
  }
}

/** Signs `body` as the spec says, by hand (not with the package): the headers a relay would send. */
function sign(secret, id, timestamp, body) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const mac = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": `v1,${mac}` };
}

function selfCheck() {
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const webhook = new Webhook(secret);
  const body = JSON.stringify({ events: [{ type: "broadcast", topic: "room:a", event: "e", payload: { é: 1 } }] });
  const now = Math.floor(Date.now() / 1000);
  const headers = sign(secret, "msg_00ff", now, body);
  const foreign = sign(`whsec_${randomBytes(32).toString("base64")}`, "msg_00ff", now, body);
  const cases = [
    ["a good signature", verify(webhook, body, headers), true],
    ["a tampered body", verify(webhook, body.replace("room:a", "room:b"), headers), false],
    ["another id", verify(webhook, body, { ...headers, "webhook-id": "msg_0100" }), false],
    ["another secret", verify(webhook, body, foreign), false],
    ["a timestamp 10 minutes old", verify(webhook, body, sign(secret, "msg_00ff", now - 600, body)), false],
    ["a timestamp 10 minutes ahead", verify(webhook, body, sign(secret, "msg_00ff", now + 600, body)), false],
    ["no signature", verify(webhook, body, { ...headers, "webhook-signature": undefined }), false],
  ];
  const wrong = cases.filter(([, result, expected]) => result.valid !== expected);
  for (const [what, result, expected] of cases) {
    console.log(`${result.valid === expected ? "ok  " : "FAIL"} ${what}: valid=${result.valid}`);
  }
  process.exit(wrong.length ? 1 : 0);
}

function serve(secret) {
  const webhook = new Webhook(secret);
  let log = [];
  let mode = {};
  let delayMs = 0;

  // The answer to a delivery under the current mode, which it may use up.
  function answer() {
    if (mode.status === undefined || (mode.until !== undefined && Date.now() >= mode.until) || mode.times === 0) {
      mode = {};
      return { status: 200, headers: {}, body: "" };
    }
    if (mode.times !== undefined) mode.times -= 1;
    const headers = mode.retry_after === undefined ? {} : { "retry-after": String(mode.retry_after) };
    return { status: mode.status, headers, body: mode.body ?? "" };
  }

  const server = createServer(async (request, response) => {
    const chunks = [];
    let size = 0;
    for await (const chunk of request) {
      size += chunk.length;
      if (size > MAX_BODY) return response.writeHead(413).end();
      chunks.push(chunk);
    }
    const raw = Buffer.concat(chunks);
    const url = new URL(request.url, "http://receiver");
    const reply = (status, value) =>
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));

    if (request.method === "GET" && url.pathname === "/_log") return reply(200, log);
    if (request.method === "POST" && url.pathname === "/_reset") {
      log = [];
      mode = {};
      return reply(200, { ok: true });
    }
    if (request.method === "POST" && url.pathname === "/_mode") {
      const set = raw.length ? JSON.parse(raw.toString()) : {};
      mode = { ...set, until: set.for_ms === undefined ? undefined : Date.now() + set.for_ms };
      return reply(200, { ok: true });
    }
    if (request.method === "POST" && url.pathname === "/_delay") {
      delayMs = Number(JSON.parse(raw.toString() || "{}").ms ?? 0);
      return reply(200, { ok: true });
    }
    if (request.method !== "POST") return reply(405, { error: "POST only" });
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));

    const at = Date.now();
    let events = null;
    try {
      events = JSON.parse(raw.toString("utf8")).events ?? null;
    } catch {
      // Recorded as null: the test sees a body that is not JSON.
    }
    const { valid, error } = verify(webhook, raw, request.headers);
    const { status, headers, body } = answer();
    log.push({
      path: url.pathname,
      id: request.headers["webhook-id"] ?? null,
      timestamp: request.headers["webhook-timestamp"] ?? null,
      content_type: request.headers["content-type"] ?? null,
      valid,
      ...(error ? { error } : {}),
      events,
      status_answered: status,
      at,
    });
    response.writeHead(status, { "content-type": "text/plain", ...headers }).end(body);
  });

  server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("close", () => process.exit(0));
  process.stdin.resume();
  process.on("SIGTERM", () => process.exit(0));
}

if (process.argv.includes("--check")) {
  selfCheck();
} else {
  const secret = arg("--secret");
  if (!secret) {
    console.error("usage: node receiver.mjs --secret whsec_<base64> | --check");
    process.exit(2);
  }
  serve(secret);
}
