// Commands to the cutting proxy in front of the relay (client/tests/support/cut-proxy.mjs lists them), and the
// counts the tests read from it and from the relay behind it.

import { control } from "./endpoints.mjs";

/**
 * Tells the proxy to do something (`cut`, `refuse?ms=…`, `stats`, `relay/PATH`) and returns its JSON answer. With
 * a `body`, `relay/PATH` posts it to the relay (`relay/api/broadcast` publishes).
 */
export async function proxy(command, body = "") {
  const response = await fetch(`${control}/${command}`, { method: "POST", ...(body ? { body } : {}) });
  return response.json();
}

/** Cuts every proxied connection and refuses new ones for `ms`: the client is offline until then. */
export async function goOffline(ms) {
  await proxy(`refuse?ms=${ms}`);
  await proxy("cut");
}

/** A count from the proxy's `stats` (`cuts`, `sseRequests`, …). */
export async function proxyCount(key) {
  return (await proxy("stats"))[key];
}

/** How many event streams the relay has opened, from its metrics. */
export async function sseStreamsOpened() {
  const metrics = await proxy("relay/metrics");
  if (typeof metrics !== "string") throw new Error(`the metrics' text, not ${JSON.stringify(metrics)}`);
  const line = metrics.split("\n").find((line) => line.startsWith("ferrocast_sse_streams_total "));
  if (!line) throw new Error("no ferrocast_sse_streams_total in the relay's metrics");
  const count = Number(line.split(" ").at(-1));
  if (!Number.isInteger(count)) throw new Error(`not a count: ${line}`);
  return count;
}
