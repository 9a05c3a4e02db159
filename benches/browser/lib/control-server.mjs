// The control channel between run.mjs and its bench pages: a WebSocket endpoint, /control?page=TOKEN, on the
// static server. Each page connects once when it loads; `waitFor(token)` hands its socket to whoever opened it.

import { WebSocketServer } from "ws"

export class ControlServer {
  // Takes over upgrade requests to /control on `httpServer`.
  constructor(httpServer) {
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
    this.waiting = new Map()
    httpServer.on("upgrade", (request, socket, head) => {
      const url = new URL(request.url, "http://localhost")
      const waiter = url.pathname === "/control" ? this.waiting.get(url.searchParams.get("page")) : undefined
      if (!waiter) {
        socket.destroy()
        return
      }
      this.waiting.delete(url.searchParams.get("page"))
      this.wss.handleUpgrade(request, socket, head, (ws) => waiter(ws))
    })
  }

  // Resolves to the control socket of the page opened with `token`.
  waitFor(token, timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(token)
        reject(new Error(`the bench page did not connect back within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiting.set(token, (ws) => {
        clearTimeout(timer)
        resolve(ws)
      })
    })
  }

  close() {
    for (const ws of this.wss.clients) ws.terminate()
    this.wss.close()
  }
}
