// What the webhook tests share: receivers (receiver.mjs, child processes that check every signature with the npm
// `standardwebhooks` package) and what their logs come to, and a minimal Phoenix socket to join and leave topics.

import { after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const HERE = path.dirname(fileURLToPath(import.meta.url));

// ---- receivers ----------------------------------------------------------------------------------------------------

const children = new Set();
after(() => children.forEach((child) => child.kill("SIGKILL")));

/** Starts receiver.mjs with a fresh secret; resolves once it listens. */
export async function startReceiver() {
  const secret = `whsec_${randomBytes(24).toString("base64")}`;
  const child = spawn(process.execPath, [path.join(HERE, "receiver.mjs"), "--secret", secret], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the receiver did not start within 5 s: ${output}`)), 5000);
    const read = (chunk) => {
      output += chunk;
      const listening = /listening (\d+)/.exec(output);
      if (listening) {
        clearTimeout(timer);
        resolve(Number(listening[1]));
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.once("exit", (code) => reject(new Error(`the receiver exited (${code}): ${output}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  const signal = () => AbortSignal.timeout(5000);
  const post = (where, body) =>
    fetch(`${base}${where}`, { method: "POST", body: JSON.stringify(body ?? {}), signal: signal() });
  return {
    secret,
    url: `${base}/hooks/in`,
    log: async () => (await fetch(`${base}/_log`, { signal: signal() })).json(),
    mode: (mode) => post("/_mode", mode),
    delay: (ms) => post("/_delay", { ms }),
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.stdin.end();
      await Promise.race([exited, sleep(3000)]);
      child.kill("SIGKILL");
      children.delete(child);
    },
  };
}

/** The events of the batches a receiver acknowledged (2xx), each batch id once, in the order they arrived. */
export function acked(log) {
  const seen = new Set();
  const events = [];
  for (const record of log) {
    if (record.status_answered < 300 && !seen.has(record.id)) {
      seen.add(record.id);
      events.push(...(record.events ?? []));
    }
  }
  return events;
}

/**
 * Polls `check` (sync or async) every 50 ms until it returns a truthy value, which it resolves to; past `ms`, fails
 * with what `seen` resolves to and the servers' `output`.
 */
export async function waitUntil(what, check, { ms, seen, output = () => "" }) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) {
      const last = seen ? `\nlast seen: ${JSON.stringify(await seen()).slice(0, 3000)}` : "";
      throw new Error(`timed out after ${ms / 1000} s waiting for ${what}${last}\n${output()}`);
    }
    await sleep(50);
  }
}

/** Runs `receiver.mjs --check` (its verification against requests it signs); resolves to `{code, output}`. */
export async function checkReceiver() {
  const child = spawn(process.execPath, [path.join(HERE, "receiver.mjs"), "--check"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const code = await Promise.race([new Promise((resolve) => child.once("exit", resolve)), sleep(10_000, "timeout")]);
  child.kill("SIGKILL");
  return { code, output };
}

/** What every delivery must be, whatever it carries: signed, well-formed, small enough. */
export function assertWellFormed(log, idPattern = /^msg_[0-9a-f]+$/) {
  for (const record of log) {
    const where = `delivery ${record.id} at ${record.at}`;
    assert.equal(record.valid, true, `${where}: the signature does not verify: ${record.error}`);
    assert.match(record.id ?? "", idPattern, `${where}: webhook-id`);
    assert.ok(Math.abs(Number(record.timestamp) * 1000 - record.at) < 5000, `${where}: webhook-timestamp is not now`);
    assert.match(record.content_type ?? "", /^application\/json/, `${where}: content-type`);
    assert.equal(record.path, "/hooks/in", `${where}: path`);
    assert.ok(Array.isArray(record.events), `${where}: the body is not {"events": [...]}`);
    assert.ok(record.events.length >= 1 && record.events.length <= 100, `${where}: ${record.events.length} events`);
  }
}

// ---- a Phoenix socket -----------------------------------------------------------------------------------------------

/** A Phoenix V2 (JSON) client: joins and leaves, each awaited until the relay replies. */
export class PhoenixSocket {
  static async connect(port) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket/websocket?vsn=2.0.0`, { handshakeTimeout: 5000 });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    return new PhoenixSocket(ws);
  }

  constructor(ws) {
    this.ws = ws;
    this.ref = 0;
    this.replies = new Map();
    this.joinRefs = new Map();
    ws.on("message", (data) => {
      const [, ref, , event, payload] = JSON.parse(data.toString());
      if (event === "phx_reply" && this.replies.has(ref)) this.replies.get(ref)(payload);
    });
  }

  request(joinRef, topic, event, payload) {
    const ref = String(++this.ref);
    const reply = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${event} ${topic} within 5 s`)), 5000);
      this.replies.set(ref, (answer) => {
        clearTimeout(timer);
        this.replies.delete(ref);
        resolve(answer);
      });
    });
    this.ws.send(JSON.stringify([joinRef ?? ref, ref, topic, event, payload]));
    return { ref, reply };
  }

  async join(topic, params = { no_presence: true }) {
    const joinRef = String(this.ref + 1);
    const { reply } = this.request(joinRef, topic, "phx_join", params);
    this.joinRefs.set(topic, joinRef);
    const answer = await reply;
    assert.equal(answer.status, "ok", `join ${topic}: ${JSON.stringify(answer)}`);
  }

  async leave(topic) {
    const { reply } = this.request(this.joinRefs.get(topic), topic, "phx_leave", {});
    assert.equal((await reply).status, "ok", `leave ${topic}`);
    this.joinRefs.delete(topic);
  }

  close() {
    this.ws.terminate();
  }
}
