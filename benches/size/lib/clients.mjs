// The rows: each client, how it is measured, and the version that is measured.

import { readdirSync, readFileSync } from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.dirname(HERE)

// npm clients: `entry` (in entries/) is what a page imports; it is bundled, so only what it reaches is counted.
export const NPM_CLIENTS = [
  { name: "phoenix.js", pkg: "phoenix", entry: "phoenix.mjs" },
  { name: "phoenix.js with Presence", pkg: "phoenix", entry: "phoenix-presence.mjs" },
  { name: "socket.io-client", pkg: "socket.io-client", entry: "socket.io-client.mjs" },
  { name: "@supabase/realtime-js", pkg: "@supabase/realtime-js", entry: "supabase-realtime.mjs" },
  { name: "pusher-js", pkg: "pusher-js", entry: "pusher.mjs" },
  { name: "centrifuge (JSON)", pkg: "centrifuge", entry: "centrifuge.mjs" },
  { name: "ably (full)", pkg: "ably", entry: "ably.mjs" },
  { name: "ably (modular)", pkg: "ably", entry: "ably-modular.mjs" },
].map((client) => ({ ...client, entry: path.join(ROOT, "entries", client.entry) }))

// Ferrocast's entries are already bundles (esbuild-minified glue and a wasm-opt -Oz'd .wasm), so their files are
// measured as they are: re-bundling would measure esbuild twice. A page on the core that adds Presence, or
// Presence and server-sent events, downloads the files of each entry it imports.
export const FERROCAST_CLIENTS = [
  { name: "Ferrocast (full)", dirs: ["web"] },
  { name: "Ferrocast (core)", dirs: ["web-core"] },
  { name: "Ferrocast (core + presence)", dirs: ["web-core", "web-presence"] },
  { name: "Ferrocast (core + presence + sse)", dirs: ["web-core", "web-presence", "web-sse"] },
]

// The installed version: what package-lock.json pinned and `npm ci` put in node_modules.
export function installedVersion(pkg) {
  return readJson(path.join(packageDir(pkg), "package.json")).version
}

// Any .wasm a package ships is downloaded next to its JavaScript (none of today's rows ships one).
export function shippedWasm(pkg) {
  const dir = packageDir(pkg)
  return readdirSync(dir, { recursive: true })
    .filter((file) => file.endsWith(".wasm"))
    .map((file) => path.join(dir, file))
}

// The .js and .wasm files a page loads for one Ferrocast entry (the .d.ts files are for editors only).
export function ferrocastFiles(pkgDir, dir) {
  const full = path.join(pkgDir, dir)
  return readdirSync(full)
    .filter((file) => file.endsWith(".js") || file.endsWith(".wasm"))
    .sort()
    .map((file) => path.join(full, file))
}

export function readJson(file) {
  return JSON.parse(readFileSync(file, "utf8"))
}

// Straight under node_modules: several packages' "exports" do not let require.resolve reach their package.json.
function packageDir(pkg) {
  return path.join(ROOT, "node_modules", pkg)
}
