// Servers as child processes for the Node tests, the relay binary above all: started on a loopback port, ready once
// they answer over HTTP, stopped with SIGTERM (and SIGKILL if they linger or the test process dies).
//
// The binary is $FERROCAST_RELAY_BIN, or target/debug/ferrocast-relay under the repository root
// (`cargo xtask test` builds it and sets the variable).

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const RELAY_BIN = process.env.FERROCAST_RELAY_BIN || path.join(ROOT, "target", "debug", "ferrocast-relay");

/** A loopback port nobody listens on now. */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Servers this process started: killed if it exits or is interrupted, so none outlives a test run.
const started = new Set();
let guarded = false;
function killStartedOnExit() {
  if (guarded) return;
  guarded = true;
  process.on("exit", () => started.forEach((kill) => kill()));
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(signal, () => {
      started.forEach((kill) => kill());
      process.exit(1);
    });
  }
}

/**
 * Starts a server process; resolves to `{log(), stop(), crash()}` once GET `readyUrl` answers 200.
 *
 * - `name` names it in messages and in its output's heading.
 * - `failOnStatus`: an answer other than 200 means it cannot serve (a page that fails to render), so starting fails
 *   at once; otherwise it means "not ready yet".
 * - `stop()` sends SIGTERM and, after 5 s, SIGKILL; with `mustExitOnTerm` it then also fails, for servers whose
 *   graceful shutdown is part of what is tested.
 */
export async function startServer({
  name,
  command,
  args = [],
  cwd,
  env,
  readyUrl,
  readyWithinMs = 15_000,
  failOnStatus = false,
  mustExitOnTerm = false,
}) {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-64 * 1024);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.once("error", (err) => keep(`spawn error: ${err.message}\n`));
  const running = () => child.exitCode === null && child.signalCode === null;
  const kill = () => running() && child.kill("SIGKILL");
  killStartedOnExit();
  started.add(kill);
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const log = () => (output.trim() ? `\n--- ${name} output ---\n${output.trimEnd()}` : `\n(the ${name} printed nothing)`);
  const fail = async (message) => {
    kill();
    started.delete(kill);
    await exited;
    throw new Error(`${message}${log()}`);
  };

  const deadline = Date.now() + readyWithinMs;
  for (;;) {
    const early = await Promise.race([exited, sleep(50).then(() => null)]);
    if (early) {
      started.delete(kill);
      throw new Error(`the ${name} exited before it was ready (code ${early.code}, signal ${early.signal})${log()}`);
    }
    let response = null;
    let body = "";
    try {
      response = await fetch(readyUrl, { signal: AbortSignal.timeout(5000) });
      body = await response.text();
    } catch {
      // Not listening yet.
    }
    if (response?.status === 200) {
      break;
    }
    if (response && failOnStatus) {
      return fail(`the ${name} answered GET ${readyUrl} with ${response.status}: ${body.slice(0, 500)}`);
    }
    if (Date.now() > deadline) {
      return fail(`the ${name} did not answer GET ${readyUrl} with 200 within ${readyWithinMs / 1000} s`);
    }
  }

  async function stop() {
    started.delete(kill);
    if (!running()) {
      return;
    }
    child.kill("SIGTERM");
    if ((await Promise.race([exited.then(() => "exited"), sleep(5000, "timeout", { ref: false })])) !== "exited") {
      kill();
      await exited;
      if (mustExitOnTerm) {
        throw new Error(`the ${name} did not exit within 5 s of SIGTERM${log()}`);
      }
    }
  }
  /** SIGKILL, as a crash: no shutdown runs. */
  async function crash() {
    started.delete(kill);
    kill();
    await exited;
  }
  return { log, stop, crash };
}

/**
 * Starts the relay with `args`, on `port` (a free one when not given); resolves to `{port, log(), stop(), crash()}`
 * once GET /healthz answers 200. `stop()` fails if the relay does not exit by itself within 5 s of SIGTERM;
 * `crash()` kills it with SIGKILL.
 */
export async function startRelay(args = [], { port } = {}) {
  if (!existsSync(RELAY_BIN)) {
    throw new Error(
      `relay binary not found at ${RELAY_BIN}: build it with \`cargo build -p ferrocast-relay\` ` +
        `(or set FERROCAST_RELAY_BIN)`,
    );
  }
  port ??= await freePort();
  const { log, stop, crash } = await startServer({
    name: "relay",
    command: RELAY_BIN,
    args: ["--listen", `127.0.0.1:${port}`, ...args],
    readyUrl: `http://127.0.0.1:${port}/healthz`,
    mustExitOnTerm: true,
  });
  return { port, log, stop, crash };
}
