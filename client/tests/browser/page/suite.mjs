// The page's side of the suite. The runner (browser.test.mjs) imports this module into a fresh page, asks `list()`
// once for the tests and which of them this build cannot run, then imports it into a fresh page per test and calls
// `run(name)`, which resolves when the test passes and rejects with its failure.

import { features } from "./support/client.mjs";
import { registered } from "./support/registry.mjs";
import "./tests/connecting.mjs";
import "./tests/channels.mjs";
import "./tests/presence.mjs";
import "./tests/reconnecting.mjs";
import "./tests/page-lifecycle.mjs";
import "./tests/batches.mjs";
import "./tests/connection-values.mjs";
import "./tests/server-sent-events.mjs";
import "./tests/event-stream.mjs";
import "./tests/chaos.mjs";
import "./tests/loading.mjs";

// Why a test that needs a feature is skipped when the build lacks it.
const MISSING = {
  presence: "this build of the client does not export Presence",
  sse: "this build of the client exports neither SseSocket nor EventStream: no server-sent events",
};

/** `[{name, skip}]`, `skip` saying why the test cannot run against this build, or null. */
export function list() {
  return registered().map(({ name, needs }) => {
    if (needs && !(needs in features)) throw new Error(`test "${name}" needs "${needs}", which is no feature`);
    return { name, skip: needs && !features[needs] ? MISSING[needs] : null };
  });
}

export async function run(name) {
  const test = registered().find((registered) => registered.name === name);
  if (!test) throw new Error(`no test is named "${name}"`);
  await test.body();
}
