// An application backend for the relay's hook tests: the relay calls its connect, join, push and refresh hooks over
// HTTP, and it answers each in a way the request itself picks (connect params, topic prefix, push event), keeps a log
// of every hook call for the tests to read (GET /log), and can be made to fail or stall (POST /mode).
//
// `node tests/support/hooks-backend.mjs [--secret S]` prints `listening <port>` once it listens on 127.0.0.1, and
// exits when its stdin closes, so a test that dies (and with it the pipe) never leaves it running.

import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

const secretAt = process.argv.indexOf("--secret");
const SECRET = secretAt > 0 ? process.argv[secretAt + 1] : undefined;
const MAX_BODY = 4 * 1024 * 1024;
// A signature more than this far from now is a replay (or a relay clock bug) and counts as invalid.
const MAX_SKEW_S = 300;
const LOGGED_HEADERS = [
  "cookie",
  "authorization",
  "x-request-id",
  "traceparent",
  "x-ferrocast-signature",
  "x-ferrocast-hook",
];
const HUGE = "x".repeat(2 * 1024 * 1024);

// What the tests read and reset: the hook calls so far, pushes per (client, topic), and the failure mode.
let log = [];
let pushCounts = new Map();
let mode = {};

const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);
const nowS = () => Math.floor(Date.now() / 1000);
const json = (value, status = 200) => ({ status, type: "application/json", text: JSON.stringify(value) });
const text = (body, status = 200, type = "text/plain") => ({ status, type, text: body });
const empty = (status) => ({ status, text: "" });
const error = (code, message) => json({ error: { code, message } });

// The answers, one function per hook, from the parsed request body.
const HOOKS = {
  async connect(body, headers) {
    const params = isObject(body.params) ? body.params : {};
    if (params.refuse !== undefined) return error(4403, "no entry");
    if (params.disconnect !== undefined) return json({ disconnect: { code: 4500, reason: "go away" } });
    if (params.answer === "garbage") return text("not json");
    // The session cookie of a Nuxt-style app, forwarded by the relay as an HTTP header (--proxy-header Cookie).
    const session = /(?:^|;\s*)session=([^;]*)/.exec(headers.cookie ?? "")?.[1];
    const user = params.user ?? session;
    if (user === undefined) return error(4401, "who are you");
    const result = { user, info: { name: user } };
    if (params.expire_in !== undefined) result.expire_at = nowS() + Number(params.expire_in);
    return json({ result });
  },

  async join(body) {
    const open = () =>
      json({ result: { data: { welcome: body.topic, user: body.user }, presence: { name: body.user } } });
    const topic = String(body.topic ?? "");
    if (topic.startsWith("app:closed:")) return error(403, "not allowed");
    if (topic.startsWith("app:kick:")) return json({ disconnect: { code: 4501, reason: "kicked at the door" } });
    if (topic.startsWith("app:garbage:")) return text("<html>oops", 200, "text/html");
    if (topic.startsWith("app:shape:")) return json([1, 2, 3]);
    if (topic.startsWith("app:huge:")) return json({ result: { data: { blob: HUGE } } });
    if (topic.startsWith("app:down:")) return empty(503);
    if (topic.startsWith("app:slow:")) await sleep(Number(body.params?.delay_ms ?? 10_000));
    return open();
  },

  // `seq` was counted when the push arrived, before any waiting, so it is the order the relay sent pushes in.
  async push(body, _headers, seq) {
    const reply = body.binary === true ? { binary: true, bytes: body.payload } : { echo: body.payload, seq };
    const echo = () => json({ result: { reply } });
    // Random delays, so that pushes sent concurrently would be answered out of order.
    if (String(body.topic ?? "").startsWith("app:random:")) {
      await sleep(Math.random() * 20);
      return echo();
    }
    switch (body.event) {
      case "shout":
        return json({ result: { reply: { shouted: true }, broadcast: { event: "shouted", payload: body.payload } } });
      case "shout2": {
        const broadcast = ["first", "second"].map((event) => ({ event, payload: body.payload }));
        return json({ result: { reply: { shouted: true }, broadcast } });
      }
      case "deny":
        return error(400, "denied");
      case "kick":
        return json({ disconnect: { code: 4502, reason: "kicked out" } });
      case "slow":
        await sleep(Number(body.payload?.delay_ms ?? 10_000));
        return echo();
      case "garbage":
        return text("nope");
      case "noreply":
        return json({ result: {} });
      default: // "echo", and any event nobody planned for
        return echo();
    }
  },

  async refresh(body) {
    if (String(body.user ?? "").startsWith("norefresh")) return error(4401, "expired");
    if (String(body.user ?? "").startsWith("kick")) return json({ disconnect: { code: 4503, reason: "time is up" } });
    return json({ result: { expire_at: nowS() + 60 } });
  },
};

// The verdict on `x-ferrocast-signature: t=<s>,v1=<hex>`: the HMAC is fed as the body streams in, so a body too
// large to keep is still checked. Without --secret nothing can be valid.
function signatureCheck(header) {
  if (header === undefined) return { update() {}, verdict: () => "absent" };
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (SECRET === undefined || !match || Math.abs(Date.now() / 1000 - Number(match[1])) > MAX_SKEW_S) {
    return { update() {}, verdict: () => "invalid" };
  }
  const hmac = createHmac("sha256", SECRET).update(`${match[1]}.`);
  const expected = Buffer.from(match[2], "hex");
  return {
    update: (chunk) => hmac.update(chunk),
    verdict: () => (timingSafeEqual(hmac.digest(), expected) ? "valid" : "invalid"),
  };
}

// The whole body, or null when it is over MAX_BODY (read to the end all the same, so the answer can be sent).
function readBody(req, onChunk = () => {}) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      onChunk(chunk);
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on("end", () => resolve(size <= MAX_BODY ? Buffer.concat(chunks) : null));
    req.on("error", reject);
  });
}

function parse(bytes) {
  try {
    return bytes === null ? null : JSON.parse(bytes.toString("utf8"));
  } catch {
    return null;
  }
}

async function hook(name, req) {
  const at = Date.now();
  const signature = signatureCheck(req.headers["x-ferrocast-signature"]);
  const bytes = await readBody(req, signature.update);
  const body = parse(bytes);
  const headers = Object.fromEntries(LOGGED_HEADERS.filter((h) => h in req.headers).map((h) => [h, req.headers[h]]));
  const raw = bytes === null ? null : bytes.toString("utf8");
  log.push({ hook: name, body, raw, headers, signature: signature.verdict(), at });
  if (bytes === null) return empty(413);
  if (!isObject(body)) return json({ error: "the body is not a JSON object" }, 400);
  // Counted on arrival, before any delay: see `push`.
  let seq;
  if (name === "push") {
    const key = JSON.stringify([body.client, body.topic]);
    seq = (pushCounts.get(key) ?? 0) + 1;
    pushCounts.set(key, seq);
  }
  const { status, delay_ms } = mode;
  if (delay_ms !== undefined) await sleep(Number(delay_ms));
  if (status !== undefined) return empty(Number(status));
  return HOOKS[name](body, headers, seq);
}

async function route(req) {
  const path = new URL(req.url, "http://backend").pathname;
  const name = path.slice(1);
  if (req.method === "GET" && path === "/log") return json(log);
  if (req.method === "POST" && path === "/reset") {
    [log, pushCounts, mode] = [[], new Map(), {}];
    return json({});
  }
  if (req.method === "POST" && path === "/mode") {
    const body = parse(await readBody(req));
    const status = body?.status;
    if (!isObject(body) || (status !== undefined && !(Number.isInteger(status) && status >= 200 && status <= 599))) {
      return json({ error: "the mode is {}, {status: 200..599} or {delay_ms: n}" }, 400);
    }
    mode = body;
    return json(mode);
  }
  if (req.method === "POST" && Object.hasOwn(HOOKS, name)) return hook(name, req);
  return empty(404);
}

const server = createServer(async (req, res) => {
  // A relay that gave up (timed out) resets the socket: nothing to answer then, and no reason to crash.
  res.on("error", () => {});
  let answer;
  try {
    answer = await route(req);
  } catch (err) {
    console.error(`hooks backend: ${req.method} ${req.url}: ${err.stack ?? err}`);
    answer = empty(500);
  }
  if (res.destroyed) return;
  const headers = { "content-length": Buffer.byteLength(answer.text) };
  if (answer.type) headers["content-type"] = answer.type;
  res.writeHead(answer.status, headers).end(answer.text);
});
// Never close an idle keep-alive connection: the relay's pool could pick it just as it closes, failing a hook call
// for a reason no test is about.
server.keepAliveTimeout = 0;
server.listen(0, "127.0.0.1", () => process.stdout.write(`listening ${server.address().port}\n`));

const exit = () => process.exit(0);
process.stdin.on("end", exit).on("close", exit).on("error", exit).resume();
process.on("SIGTERM", exit);
