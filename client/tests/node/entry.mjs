// The package entry these tests run against: `@ferrocast/client` (the full API, its Node build) unless
// FERROCAST_CLIENT_ENTRY=core, which loads `@ferrocast/client/core` (the no-bundler build, handed its wasm here,
// since Node's fetch cannot read a file URL). A test of something the core does not have checks `has`.

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const core = process.env.FERROCAST_CLIENT_ENTRY === "core";

async function load() {
  if (!core) return import("@ferrocast/client");
  const client = await import("@ferrocast/client/core");
  const wasm = createRequire(import.meta.url).resolve("@ferrocast/client/core").replace(/\.js$/, "_bg.wasm");
  await client.default({ module_or_path: await readFile(wasm) });
  return client;
}

export const client = await load();
export const { Socket } = client;
export const entry = core ? "core" : "full";

/** Whether the entry exports `name` (`EventStream` is not in the core). */
export const has = (name) => name in client;
