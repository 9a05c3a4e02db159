// What each realtime browser client costs a page, measured one way for all of them, as a Markdown table.
//
//   node measure.mjs [--pkg DIR]      (after `npm ci`; DIR also from FERROCAST_PKG, default ../../client/pkg)
//
// npm clients: an entry that imports what a page imports (entries/) is bundled by the pinned esbuild with
// --bundle --minify --format=esm --platform=browser; "min" is that output, "min+gzip" its gzip -9, plus any .wasm
// the package ships. Ferrocast: the already-built files of client/pkg/web (full), web-core (core), and the core
// with web-presence and web-sse beside it, .js and .wasm, each gzipped as they are. Versions come from node_modules, so package-lock.json decides them.

import { existsSync } from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { bundle, ESBUILD_VERSION } from "./lib/bundle.mjs"
import {
  FERROCAST_CLIENTS,
  NPM_CLIENTS,
  ferrocastFiles,
  installedVersion,
  readJson,
  shippedWasm,
} from "./lib/clients.mjs"
import { sizeOf, sizeOfFile, total } from "./lib/sizes.mjs"
import { markdownTable } from "./lib/table.mjs"

const HERE = path.dirname(fileURLToPath(import.meta.url))

const { values } = parseArgs({ options: { pkg: { type: "string" } } })
// An explicit directory is taken from where the command runs; the default is this project's sibling build.
const pkgDir = path.resolve(values.pkg ?? process.env.FERROCAST_PKG ?? path.join(HERE, "../../client/pkg"))
if (!existsSync(path.join(pkgDir, "package.json"))) {
  console.error(`no built Ferrocast package in ${pkgDir}: run \`cargo xtask build-client\`, or pass --pkg DIR`)
  process.exit(1)
}

const rows = []
for (const client of NPM_CLIENTS) {
  const wasm = shippedWasm(client.pkg).map(sizeOfFile)
  rows.push({ name: client.name, ...total([sizeOf(await bundle(client.entry)), ...wasm]) })
}
for (const client of FERROCAST_CLIENTS) {
  const files = client.dirs.flatMap((dir) => {
    const found = ferrocastFiles(pkgDir, dir)
    if (found.length === 0) {
      console.error(`no .js or .wasm files in ${path.join(pkgDir, dir)}`)
      process.exit(1)
    }
    return found
  })
  rows.push({ name: client.name, ...total(files.map(sizeOfFile)) })
}

const versions = [...new Set(NPM_CLIENTS.map((client) => client.pkg))]
  .map((pkg) => `${pkg} ${installedVersion(pkg)}`)
  .concat(`@ferrocast/client ${readJson(path.join(pkgDir, "package.json")).version}`)

const shown = path.relative(HERE, pkgDir) || "."
console.log(markdownTable(rows))
console.log()
console.log(
  `Method: each npm client's entry bundled by esbuild ${ESBUILD_VERSION} (--bundle --minify --format=esm ` +
    `--platform=browser), min+gzip = gzip -9 of that (zlib level 9) plus any .wasm shipped; Ferrocast: the built ` +
    `.js and .wasm files of ${shown}/web (full), ${shown}/web-core (core) and the entries beside it, each gzip -9, not re-bundled. ` +
    `1 KB = 1000 bytes. Versions: ${versions.join(", ")}.`,
)
