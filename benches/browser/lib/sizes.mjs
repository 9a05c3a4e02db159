// Bundle sizes, raw and gzipped at zlib level 9: what a page downloads for each client.

import { readFileSync } from "node:fs"
import path from "node:path"
import { gzipSync } from "node:zlib"

function fileSize(file) {
  const bytes = readFileSync(file)
  return { file: path.basename(file), raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length }
}

// `{files: [{file, raw, gzip}], raw, gzip}`: each file and the sum (each file gzipped on its own, as served).
export function bundleSize(files) {
  const sizes = files.map(fileSize)
  return {
    files: sizes,
    raw: sizes.reduce((sum, size) => sum + size.raw, 0),
    gzip: sizes.reduce((sum, size) => sum + size.gzip, 0),
  }
}
