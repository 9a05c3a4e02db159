// README's JavaScript quick start, run exactly as written against a real relay: the block between the
// `quickstart` markers is copied out, its relay address pointed at the test relay, and run under Node with the
// `ws` package as the page's WebSocket. It must print what README says it prints.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { startRelay } from "../../../tests/support/relay-process.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const README = path.resolve(HERE, "../../../README.md");

function quickstart() {
  const text = readFileSync(README, "utf8");
  const block = text.match(/<!-- quickstart -->\s*```js\n([\s\S]*?)```/);
  assert.ok(block, "README.md has a ```js block after <!-- quickstart -->");
  const printed = text.match(/<!-- quickstart output -->\s*```\n([\s\S]*?)```/);
  assert.ok(printed, "README.md shows what the quick start prints after <!-- quickstart output -->");
  return { code: block[1], output: printed[1].trim().split("\n") };
}

let relay;
before(async () => {
  relay = await startRelay();
});
after(() => relay?.stop());

test("README's quick start runs and prints what README says", async () => {
  const { code, output } = quickstart();
  assert.match(code, /ws:\/\/localhost:4000\/socket/, "the quick start talks to the relay's default address");
  const script = path.join(HERE, ".quickstart.mjs");
  writeFileSync(script, code.replace("ws://localhost:4000/socket", `ws://127.0.0.1:${relay.port}/socket`));
  const preload = path.join(HERE, ".websocket-global.mjs");
  writeFileSync(preload, 'import WebSocket from "ws"\nglobalThis.WebSocket = WebSocket\n');
  try {
    const child = spawn(process.execPath, ["--import", preload, script], { cwd: HERE });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const deadline = Date.now() + 8000;
    while (!output.every((line) => stdout.includes(line)) && Date.now() < deadline && child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Anything printed twice, or late, would show up in this time too.
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill();
    assert.deepEqual(stdout.trim().split("\n"), output, `stderr: ${stderr}`);
  } finally {
    rmSync(script, { force: true });
    rmSync(preload, { force: true });
  }
});
