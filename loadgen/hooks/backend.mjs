// The push backend of the load generator's `hooks` scenario (`cargo xtask bench --only load`): the smallest
// application backend a relay's push hook can call, so that what the scenario measures is the hook's path (the
// relay's HTTP call, Node's HTTP server, a JSON parse and stringify), not an application's work. Node built-ins
// only; not the test backend (tests/support/hooks-backend.mjs), which keeps a log of every call in memory.
//
//   node loadgen/hooks/backend.mjs [--port 0]
//
// Binds 127.0.0.1 (port 0, the default, picks a free one), prints `listening <port>` once listening, and exits when
// its stdin closes, so a generator that dies never leaves it running.
//
// POST /push with the relay's push body, {client, transport, protocol, user, topic, event, payload}, is answered at
// once with {"result": {"reply": <payload>}}: the client's payload back as the push's ok reply. Anything else is
// 404; a body that is not a JSON object is 400.

import { createServer } from "node:http";
import { parseArgs } from "node:util";

const { values: options } = parseArgs({ options: { port: { type: "string", default: "0" } } });
const MAX_BODY = 1024 * 1024;

function answer(res, status, text) {
  if (res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  // A relay that gave up on a call resets its socket: nothing to answer then, and no reason to crash.
  res.on("error", () => {});
  if (req.method !== "POST" || req.url !== "/push") {
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
  req.on("error", () => {});
  req.on("end", () => {
    let body;
    try {
      body = size <= MAX_BODY ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : null;
    } catch {
      body = null;
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      answer(res, 400, JSON.stringify({ error: { code: 400, message: "the body is not a JSON object" } }));
      return;
    }
    answer(res, 200, JSON.stringify({ result: { reply: body.payload ?? null } }));
  });
});
// Keep idle keep-alive connections longer than the relay's pool does (90 s), so the relay reuses its pooled
// connections and never picks one just as Node closes it. Node's default is 5 s.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.listen(Number(options.port), "127.0.0.1", () => process.stdout.write(`listening ${server.address().port}\n`));

const exit = () => process.exit(0);
process.stdin.on("end", exit).on("close", exit).on("error", exit).resume();
process.on("SIGTERM", exit);
