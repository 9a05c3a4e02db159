// Byte counts as a page pays them: raw, and gzip -9 (zlib level 9), each file compressed on its own as a server
// sends it. zlib's level 9 lands a little above GNU gzip -9, which `cargo xtask build-client` runs (71.1 against
// 70.9 KB for Ferrocast's full entry): every row here goes through the same compressor, which is what compares.

import { readFileSync } from "node:fs"
import { gzipSync } from "node:zlib"

export function sizeOf(bytes) {
  return { min: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length }
}

export function sizeOfFile(file) {
  return sizeOf(readFileSync(file))
}

// A bundle and the .wasm it fetches are two downloads, so their sizes add up rather than being gzipped together.
export function total(sizes) {
  return sizes.reduce((sum, size) => ({ min: sum.min + size.min, gzip: sum.gzip + size.gzip }), { min: 0, gzip: 0 })
}
