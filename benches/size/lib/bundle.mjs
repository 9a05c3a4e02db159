// One entry bundled as a page's build would: the same as
// `esbuild ENTRY --bundle --minify --format=esm --platform=browser`, kept in memory.

import * as esbuild from "esbuild"

export async function bundle(entry) {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    write: false,
    logLevel: "warning",
  })
  return result.outputFiles[0].contents
}

export const ESBUILD_VERSION = esbuild.version
