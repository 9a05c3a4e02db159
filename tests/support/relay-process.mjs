// The relay binary as a child process for the Node tests: started on a free loopback port, ready once
// GET /healthz answers 200, stopped with SIGTERM (and SIGKILL if it lingers or the test process dies).
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

/** Starts the relay; resolves to `{port, log(), stop()}` once it serves. */
export async function startRelay(args = []) {
  if (!existsSync(RELAY_BIN)) {
    throw new Error(
      `relay binary not found at ${RELAY_BIN}: build it with \`cargo build -p ferrocast-relay\` ` +
        `(or set FERROCAST_RELAY_BIN)`,
    );
  }
  const port = await freePort();
  const child = spawn(RELAY_BIN, ["--listen", `127.0.0.1:${port}`, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-64 * 1024);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.once("error", (err) => keep(`spawn error: ${err.message}\n`));
  const running = () => child.exitCode === null && child.signalCode === null;
  const kill = () => running() && child.kill("SIGKILL");
  // A test process that dies (or is interrupted) must not leave the relay running.
  process.on("exit", kill);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(signal, () => {
      kill();
      process.exit(1);
    });
  }
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const log = () => (output.trim() ? `\n--- relay output ---\n${output.trimEnd()}` : "\n(the relay printed nothing)");

  const deadline = Date.now() + 15000;
  for (;;) {
    const early = await Promise.race([exited, sleep(50).then(() => null)]);
    if (early) {
      throw new Error(`the relay exited before it was ready (code ${early.code}, signal ${early.signal})${log()}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) });
      await response.arrayBuffer();
      if (response.status === 200) {
        break;
      }
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      throw new Error(`the relay did not answer GET /healthz with 200 within 15 s${log()}`);
    }
  }

  /** SIGTERM, then SIGKILL after 5 s; fails if the relay did not exit by itself. */
  async function stop() {
    if (!running()) {
      return;
    }
    child.kill("SIGTERM");
    if ((await Promise.race([exited.then(() => "exited"), sleep(5000, "timeout", { ref: false })])) !== "exited") {
      kill();
      await exited;
      throw new Error(`the relay did not exit within 5 s of SIGTERM${log()}`);
    }
  }
  return { port, log, stop };
}
