// The webhook receiver of the load generator's `webhooks` scenario (`cargo xtask bench --only load`): the smallest
// endpoint a relay's `--webhook` can POST to, so that what the scenario measures is the relay's webhook path (its
// queue, its batching, its HTTP call and signature) and Node's HTTP server, not an application's work. Node
// built-ins only; not the test receiver (tests/webhooks/receiver.mjs), which keeps every request for assertions.
//
//   node loadgen/webhooks/receiver.mjs --secret whsec_<base64> [--port 0]
//
// Binds 127.0.0.1 (port 0, the default, picks a free one), prints `listening <port>` once listening, and exits when
// its stdin closes, so a generator that dies never leaves it running.
//
// POST (any path) with a batch, `{"events": [...]}`: the time of receipt is taken once the body is in, the answer
// (204) goes out at once, then the batch is checked and counted. Its Standard Webhooks signature is verified with
// node:crypto (HMAC-SHA256 of `${webhook-id}.${webhook-timestamp}.${raw body}`, keyed with the base64 after `whsec_`,
// against each `v1,` signature of the header) and counted when invalid, as is a timestamp more than 5 minutes off.
// Each `broadcast` event whose payload carries `sent_us` (Unix µs when the publisher sent it: same machine, same
// clock) gives one latency, publish to receipt; its `at` (Unix ms when the relay saw it) splits that in two. A
// batch id seen before (a retry) is counted; `seq` (the publisher's number) and `offset` are checked for order.
//
// GET /stats answers what was counted since the start or the last reset (`GET /stats?reset=1` answers, then
// resets): events, batches, events per batch, latency percentiles in µs, invalid signatures and the rest. GET
// /count answers the counts alone, cheaply, for polling. Anything else is 404.

import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

const { values: options } = parseArgs({
  options: { port: { type: "string", default: "0" }, secret: { type: "string" } },
});
const secret = options.secret ?? process.env.FERROCAST_BENCH_WEBHOOK_SECRET;
if (!secret?.startsWith("whsec_")) {
  process.stderr.write("receiver: --secret whsec_<base64> is required\n");
  process.exit(2);
}
const key = Buffer.from(secret.slice("whsec_".length), "base64");
const MAX_BODY = 16 * 1024 * 1024;
// Standard Webhooks' tolerance for a timestamp off the receiver's clock.
const TOLERANCE_S = 5 * 60;

// Unix µs, with performance.now()'s resolution (Date.now() has only ms).
const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;

function fresh() {
  return {
    events: 0, // every event of every batch
    broadcasts: 0, // `broadcast` events with a `sent_us` stamp
    unstamped: 0, // other events (occupied, vacated, presence, run.*), or broadcasts without a stamp
    batches: 0,
    maxBatch: 0,
    invalidSignatures: 0,
    staleTimestamps: 0,
    malformed: 0,
    duplicateBatches: 0,
    seqOutOfOrder: 0, // a `seq` not above the one before
    offsetOutOfOrder: 0, // an offset not above the one before on its topic
    offsetGaps: 0, // an offset more than one above the one before on its topic
    minSeq: null,
    maxSeq: null,
    firstReceiptUs: null,
    lastReceiptUs: null,
    latencies: [], // µs, publish to receipt
    relayToReceipt: [], // µs, the relay's `at` (ms) to receipt
  };
}

let stats = fresh();
// Across resets: order is checked from one step to the next too.
let lastSeq = null;
const lastOffset = new Map();
const seenIds = new Set();

function verify(id, timestamp, signatures, raw) {
  if (typeof id !== "string" || typeof timestamp !== "string" || typeof signatures !== "string") return false;
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.`).update(raw).digest();
  return signatures.split(" ").some((signature) => {
    const [version, value] = signature.split(",", 2);
    if (version !== "v1" || !value) return false;
    const given = Buffer.from(value, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

function record(req, raw, receiptUs) {
  const id = req.headers["webhook-id"];
  const timestamp = req.headers["webhook-timestamp"];
  stats.batches += 1;
  if (!verify(id, timestamp, req.headers["webhook-signature"], raw)) stats.invalidSignatures += 1;
  if (!(Math.abs(Number(timestamp) - receiptUs / 1e6) <= TOLERANCE_S)) stats.staleTimestamps += 1;
  if (seenIds.has(id)) stats.duplicateBatches += 1;
  else seenIds.add(id);
  let events;
  try {
    events = JSON.parse(raw.toString("utf8")).events;
  } catch {
    events = null;
  }
  if (!Array.isArray(events)) {
    stats.malformed += 1;
    return;
  }
  stats.events += events.length;
  stats.maxBatch = Math.max(stats.maxBatch, events.length);
  stats.firstReceiptUs ??= receiptUs;
  stats.lastReceiptUs = receiptUs;
  for (const event of events) {
    if (typeof event.offset === "number" && typeof event.topic === "string") {
      const last = lastOffset.get(event.topic);
      if (last !== undefined && event.offset <= last) stats.offsetOutOfOrder += 1;
      else if (last !== undefined && event.offset > last + 1) stats.offsetGaps += 1;
      lastOffset.set(event.topic, event.offset);
    }
    const payload = event.payload;
    if (event.type !== "broadcast" || typeof payload?.sent_us !== "number") {
      stats.unstamped += 1;
      continue;
    }
    stats.broadcasts += 1;
    stats.latencies.push(receiptUs - payload.sent_us);
    if (typeof event.at === "number") stats.relayToReceipt.push(receiptUs - event.at * 1000);
    if (typeof payload.seq === "number") {
      if (lastSeq !== null && payload.seq <= lastSeq) stats.seqOutOfOrder += 1;
      lastSeq = payload.seq;
      stats.minSeq = stats.minSeq === null ? payload.seq : Math.min(stats.minSeq, payload.seq);
      stats.maxSeq = stats.maxSeq === null ? payload.seq : Math.max(stats.maxSeq, payload.seq);
    }
  }
}

function percentiles(values) {
  if (values.length === 0) return { count: 0, p50_us: 0, p99_us: 0, p999_us: 0, max_us: 0, mean_us: 0 };
  const sorted = Float64Array.from(values).sort();
  const at = (q) => Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]);
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return {
    count: sorted.length,
    p50_us: at(0.5),
    p99_us: at(0.99),
    p999_us: at(0.999),
    max_us: Math.round(sorted[sorted.length - 1]),
    mean_us: Math.round(mean * 10) / 10,
  };
}

// How far this clock (performance's) has drifted from the system's since the receiver started, in µs: the publisher
// stamps with the system clock. Date.now() reads the system clock in whole ms, so it is read as it ticks over.
function clockDriftUs() {
  const before = Date.now();
  let ms = before;
  while (ms === before) ms = Date.now();
  return Math.round(nowUs() - ms * 1000);
}

function report() {
  return {
    events: stats.events,
    broadcasts: stats.broadcasts,
    unstamped: stats.unstamped,
    batches: stats.batches,
    events_per_batch: stats.batches ? Math.round((stats.events / stats.batches) * 10) / 10 : 0,
    max_events_per_batch: stats.maxBatch,
    invalid_signatures: stats.invalidSignatures,
    stale_timestamps: stats.staleTimestamps,
    malformed: stats.malformed,
    duplicate_batches: stats.duplicateBatches,
    seq_out_of_order: stats.seqOutOfOrder,
    offset_out_of_order: stats.offsetOutOfOrder,
    offset_gaps: stats.offsetGaps,
    min_seq: stats.minSeq,
    max_seq: stats.maxSeq,
    first_receipt_us: stats.firstReceiptUs === null ? null : Math.round(stats.firstReceiptUs),
    last_receipt_us: stats.lastReceiptUs === null ? null : Math.round(stats.lastReceiptUs),
    latency: percentiles(stats.latencies),
    relay_to_receipt: percentiles(stats.relayToReceipt),
    clock_drift_us: clockDriftUs(),
  };
}

function answer(res, status, text) {
  if (res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  // A relay that gave up on a request resets its socket: nothing to answer then, and no reason to crash.
  res.on("error", () => {});
  req.on("error", () => {});
  if (req.method === "GET" && req.url.startsWith("/stats")) {
    req.resume();
    answer(res, 200, JSON.stringify(report()));
    if (new URL(req.url, "http://receiver").searchParams.get("reset") === "1") stats = fresh();
    return;
  }
  if (req.method === "GET" && req.url === "/count") {
    // What a generator polls while it waits for a step's events: counts only, nothing sorted.
    req.resume();
    answer(res, 200, JSON.stringify({ broadcasts: stats.broadcasts, events: stats.events, batches: stats.batches }));
    return;
  }
  if (req.method !== "POST") {
    req.resume();
    answer(res, 404, "{}");
    return;
  }
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  });
  req.on("end", () => {
    const receiptUs = nowUs();
    // Acknowledged at once; checked and counted after the answer is written.
    if (!res.destroyed) {
      res.writeHead(204);
      res.end();
    }
    if (size > MAX_BODY) {
      stats.malformed += 1;
      return;
    }
    record(req, Buffer.concat(chunks), receiptUs);
  });
});
// Keep idle keep-alive connections longer than the relay's pool does (90 s), so the relay reuses its pooled
// connection and never picks one just as Node closes it. Node's default is 5 s.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.listen(Number(options.port), "127.0.0.1", () => process.stdout.write(`listening ${server.address().port}\n`));

const exit = () => process.exit(0);
process.stdin.on("end", exit).on("close", exit).on("error", exit).resume();
process.on("SIGTERM", exit);
