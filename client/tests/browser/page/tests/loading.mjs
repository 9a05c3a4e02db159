// Loading the wasm as a page without a bundler does: `init()` takes a URL or path, `{module_or_path}`, a promise of a
// `Response`, or bytes served without the wasm type, rejects with the status when the wasm cannot be had (and can be
// tried again), and `initSync` takes bytes, as they are or as `{module}`. Each case imports the entry afresh (a query string makes a new module),
// so it loads its own wasm, and opens a socket on it to show the load worked.

import { ok } from "../support/assert.mjs";
import { moduleUrls, relay } from "../support/endpoints.mjs";
import { test } from "../support/registry.mjs";
import { until } from "../support/wait.mjs";

let fresh = 0;

/** The core's entry as a new module, and the URL of its wasm. */
async function freshEntry() {
  const url = new URL(moduleUrls[0], location.href);
  const entry = await import(`${url}?fresh=${++fresh}`);
  return { entry, wasm: new URL("ferrocast_client_bg.wasm", url) };
}

/** Connects a socket of `entry` to the relay and joins a channel: the wasm it loaded works. */
async function works(entry) {
  const socket = new entry.Socket(relay);
  socket.connect();
  let joined = false;
  socket.channel("room:loading").join().receive("ok", () => (joined = true));
  await until("the join's reply", () => joined);
  socket.disconnect();
}

test("init loads the wasm from a URL, {module_or_path}, a promise of a Response, or bytes of another type", async () => {
  const given = [
    (wasm) => wasm.href,
    (wasm) => ({ module_or_path: wasm }),
    (wasm) => fetch(wasm),
    async (wasm) => {
      const bytes = await (await fetch(wasm)).arrayBuffer();
      return URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
    },
  ];
  for (const input of given) {
    const { entry, wasm } = await freshEntry();
    await entry.default(await input(wasm));
    await works(entry);
  }
});

test("init rejects with the status when the wasm is missing, and loads on the next try", async () => {
  const { entry, wasm } = await freshEntry();
  let error;
  await entry.default(new URL("missing.wasm", wasm)).catch((caught) => (error = caught));
  ok(error instanceof Error, "init rejected");
  ok(error.message.includes("404"), `the message names the status: ${error.message}`);
  await entry.default(wasm);
  await works(entry);
});

test("initSync loads the wasm from bytes, given as they are or as {module}, and warns of neither", async () => {
  const warnings = [];
  const warn = console.warn;
  console.warn = (...args) => warnings.push(args.join(" "));
  try {
    for (const given of [(bytes) => ({ module: bytes }), (bytes) => bytes]) {
      const { entry, wasm } = await freshEntry();
      entry.initSync(given(await (await fetch(wasm)).arrayBuffer()));
      await works(entry);
    }
  } finally {
    console.warn = warn;
  }
  ok(warnings.length === 0, `no warning: ${warnings.join("; ")}`);
});
