// The HTTP server the benchmark page is loaded from: Chromium refuses loopback WebSockets from pages that were not
// served over the network. It serves a fixed list of files only: the page, the Ferrocast client's no-bundler build
// under /ferrocast/, and phoenix.js's ES module build under /phoenix/; and the pages' control channel at /control.

import { createServer } from "node:http"
import { readFile } from "node:fs/promises"
import path from "node:path"
import { ControlServer } from "./control-server.mjs"

const MIME_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".map": "application/json",
  ".ts": "text/plain; charset=utf-8",
}

// `routes` maps URL paths to files; resolves to `{url, control, close()}` once listening on a free loopback port.
export function serveFiles(routes) {
  const server = createServer(async (request, response) => {
    const urlPath = new URL(request.url, "http://localhost").pathname
    const file = routes[urlPath === "/" ? "/bench.html" : urlPath]
    if (!file) {
      response.writeHead(404).end("not found")
      return
    }
    try {
      const body = await readFile(file)
      const type = MIME_TYPES[path.extname(file)] ?? "application/octet-stream"
      response.writeHead(200, { "content-type": type, "cache-control": "no-store" }).end(body)
    } catch (error) {
      response.writeHead(500).end(String(error))
    }
  })
  const control = new ControlServer(server)
  return new Promise((resolve, reject) => {
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      resolve({
        url: `http://127.0.0.1:${port}`,
        control,
        close: () => {
          control.close()
          return new Promise((done) => server.close(done).closeAllConnections())
        },
      })
    })
  })
}

// The routes for the bench page, the files of `pkgWebDir` (client/pkg/web) and phoenix.js from `phoenixDir`.
export function benchRoutes({ pageDir, pkgWebDir, phoenixStaticDir, pkgWebFiles }) {
  const routes = {
    "/bench.html": path.join(pageDir, "bench.html"),
    "/bench.mjs": path.join(pageDir, "bench.mjs"),
    "/phoenix/phoenix.mjs": path.join(phoenixStaticDir, "phoenix.mjs"),
    "/phoenix/phoenix.mjs.map": path.join(phoenixStaticDir, "phoenix.mjs.map"),
  }
  for (const name of pkgWebFiles) routes[`/ferrocast/${name}`] = path.join(pkgWebDir, name)
  return routes
}
