// What the cluster tests share: `cargo xtask cluster …` run from the workspace root, and the addresses `up` prints.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Runs `cargo xtask cluster ARGS` from the workspace root; resolves to its output once it exits 0. */
export function cluster(...args) {
  return new Promise((resolve, reject) => {
    const cargo = process.env.CARGO ?? "cargo";
    const child = spawn(cargo, ["run", "--quiet", "-p", "xtask", "--", "cluster", ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    // `up` may build the relay first when run alone.
    const timer = setTimeout(() => child.kill("SIGKILL"), 600_000);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`cargo xtask cluster ${args.join(" ")} failed (${code ?? signal}):\n${stderr}${stdout}`));
    });
  });
}

/** A `relay N: http://127.0.0.1:PORT pid PID` line, as `up` and `restart` print them. */
export function parseRelay(line) {
  const match = /^relay (\d+): (http:\/\/127\.0\.0\.1:\d+) pid (\d+)$/.exec(line);
  assert.ok(match, `relay line: ${line}`);
  return { index: Number(match[1]), url: match[2], pid: Number(match[3]) };
}

/** The addresses `up` ends with. */
export function parseUp(stdout, stderr) {
  const lines = stdout.trim().split("\n");
  const balancer = /^balancer: (http:\/\/127\.0\.0\.1:\d+)$/.exec(lines[0])?.[1];
  const redis = /^redis: (redis:\/\/127\.0\.0\.1:\d+)$/.exec(lines[1])?.[1];
  const relays = lines.slice(2).map(parseRelay);
  relays.forEach((relay, i) => assert.equal(relay.index, i + 1));
  const stats = /HAProxy's stats: (http:\/\/127\.0\.0\.1:\d+)\//.exec(stderr)?.[1];
  assert.ok(balancer && redis && stats, `up's output:\n${stderr}${stdout}`);
  return { balancer, redis, relays, stats };
}

/** Whether `pid` runs (a zombie nobody reaps has ended). */
export function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]);
  } catch {
    return false;
  }
}

/** Polls `check` every `every` ms until it gives a truthy value, which it resolves to; fails after `ms`. */
export async function waitUntil(what, check, ms = 5000, every = 50) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await sleep(every);
  }
  throw new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(last)})`);
}

/** `metric`'s value in a relay's /metrics text (0 when absent). */
export async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
}
