// Small helpers the benchmark's modules share.

import net from "node:net"

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// A loopback port nobody listens on right now (the OS picks it; the caller binds it right after).
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}
