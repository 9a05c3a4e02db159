// What the suite is told from outside: which build of the client to load, and where the relay and the cutting
// proxy that `cargo xtask test` started listen. Run by hand, start them as xtask does (`test_in_browser` in
// xtask/src/client.rs) and pass the same variables.
//
//   FERROCAST_CLIENT_ENTRY   a directory under client/pkg (default `web`), or several joined by `+`, which the
//                            page loads together as a page does the core and the entries beside it
//                            (`web-core+web-presence+web-sse`)
//   FERROCAST_CLIENT_MODULE  the ES module in each that the page imports (default `ferrocast_client.js`)
//   FERROCAST_TEST_RELAY     the relay's WebSocket endpoint (ws://127.0.0.1:PORT/socket)
//   FERROCAST_TEST_PROXY     the same endpoint through the cutting proxy
//   FERROCAST_TEST_CONTROL   the proxy's control endpoint (http://127.0.0.1:PORT)

import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const PKG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../pkg");

/** The entry under test and the endpoints, or an error that says what is missing. */
export function readEnvironment(env = process.env) {
  const entry = env.FERROCAST_CLIENT_ENTRY || "web";
  const module = env.FERROCAST_CLIENT_MODULE || "ferrocast_client.js";
  const entries = entry.split("+").map((name) => {
    // A name, not a path: the page imports it as /<name>/<module> from the suite's own server.
    if (!/^[\w.-]+$/.test(name) || name.startsWith(".")) {
      throw new Error(`FERROCAST_CLIENT_ENTRY=${entry}: ${name} is not the name of a directory under client/pkg`);
    }
    const dir = path.join(PKG, name);
    if (!existsSync(path.join(dir, module))) {
      throw new Error(`${path.join(dir, module)} is missing: build the client first (cargo xtask build-client)`);
    }
    return { name, dir };
  });
  const required = (name) => {
    if (!env[name]) throw new Error(`${name} is not set: run this suite through \`cargo xtask test\``);
    return env[name];
  };
  return {
    entry,
    module,
    entries,
    relay: required("FERROCAST_TEST_RELAY"),
    proxied: required("FERROCAST_TEST_PROXY"),
    control: required("FERROCAST_TEST_CONTROL"),
  };
}
