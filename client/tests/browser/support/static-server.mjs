// The HTTP server the test page comes from. Chromium refuses loopback sockets to pages that were not served over
// the network, so the page is served, never opened from a file. It serves two directories only: the page's own
// files (`page/`) under /suite/, and one build of the client (client/pkg/<entry>) under /<entry>/.

import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import path from "node:path";

const MIME_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  // What `WebAssembly.instantiateStreaming` insists on; anything else costs the glue a fallback and a warning.
  ".wasm": "application/wasm",
  ".json": "application/json",
};

/** Serves `{"/prefix/": directory}` on a free loopback port; resolves to `{origin, close()}`. */
export function serveDirectories(directories) {
  const server = createServer(async (request, response) => {
    try {
      const file = resolve(directories, new URL(request.url, "http://localhost").pathname);
      if (!file) {
        response.writeHead(404).end("not found");
        return;
      }
      const body = await readFile(file);
      const type = MIME_TYPES[path.extname(file)] ?? "application/octet-stream";
      response.writeHead(200, { "content-type": type, "cache-control": "no-store" }).end(body);
    } catch (error) {
      const missing = ["ENOENT", "EISDIR"].includes(error.code);
      response.writeHead(missing ? 404 : 500).end(String(error));
    }
  });
  return new Promise((done, fail) => {
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      done({
        origin: `http://127.0.0.1:${server.address().port}`,
        close: () => new Promise((closed) => server.close(closed).closeAllConnections()),
      });
    });
  });
}

/** The file a URL path names, or null when it is outside every served directory. */
function resolve(directories, urlPath) {
  for (const [prefix, directory] of Object.entries(directories)) {
    if (!urlPath.startsWith(prefix)) continue;
    const file = path.join(directory, decodeURIComponent(urlPath.slice(prefix.length)) || "index.html");
    return file.startsWith(directory + path.sep) ? file : null;
  }
  return null;
}
