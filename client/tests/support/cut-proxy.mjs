// A TCP proxy in front of the relay that the browser tests can tell to cut every connection, or to refuse new
// ones for a while, so reconnects are tested against real sockets.
//
//   node cut-proxy.mjs LISTEN_PORT TARGET_PORT CONTROL_PORT
//
// Control (HTTP on 127.0.0.1:CONTROL_PORT, CORS open to the test page):
//   POST /cut          destroy every proxied connection; answers {"cut": n}
//   POST /refuse?ms=N  for N ms, close new connections as soon as they arrive; answers {"refusing": N}
//   POST /mute         drop whatever the relay sends on the open connections (the client's frames still go
//                      through), so a push is handled but its reply never arrives; answers {"muted": n}
//   GET  /stats        {"accepted": n, "refused": n, "open": n}
//   GET  /relay/PATH   the relay's own HTTP answer to GET /PATH (its API sends no CORS headers for the page)
// It exits when its parent does (stdin closes).
import net from "node:net"
import http from "node:http"

const [listenPort, targetPort, controlPort] = process.argv.slice(2).map(Number)
const open = new Set()
let accepted = 0
let refused = 0
let refuseUntil = 0

const proxy = net.createServer((client) => {
  if (Date.now() < refuseUntil) {
    refused++
    client.destroy()
    return
  }
  accepted++
  const upstream = net.connect(targetPort, "127.0.0.1")
  const pair = { client, upstream, muted: false }
  open.add(pair)
  const end = () => {
    open.delete(pair)
    client.destroy()
    upstream.destroy()
  }
  client.on("error", end).on("close", end)
  upstream.on("error", end).on("close", end)
  client.pipe(upstream)
  upstream.on("data", (data) => {
    if (!pair.muted) client.write(data)
  })
})

const control = http.createServer(async (request, response) => {
  const url = new URL(request.url, "http://127.0.0.1")
  let body
  if (url.pathname === "/cut") {
    const n = open.size
    for (const { client, upstream } of [...open]) {
      client.destroy()
      upstream.destroy()
    }
    open.clear()
    body = { cut: n }
  } else if (url.pathname === "/refuse") {
    const ms = Number(url.searchParams.get("ms") || 0)
    refuseUntil = Date.now() + ms
    body = { refusing: ms }
  } else if (url.pathname === "/mute") {
    for (const pair of open) pair.muted = true
    body = { muted: open.size }
  } else if (url.pathname === "/stats") {
    body = { accepted, refused, open: open.size }
  } else if (url.pathname.startsWith("/relay/")) {
    const upstream = await fetch(`http://127.0.0.1:${targetPort}${url.pathname.slice("/relay".length)}`)
    body = await upstream.json()
  } else {
    response.writeHead(404).end()
    return
  }
  response.writeHead(200, { "content-type": "application/json", "access-control-allow-origin": "*" })
  response.end(JSON.stringify(body))
})

proxy.listen(listenPort, "127.0.0.1", () => {
  control.listen(controlPort, "127.0.0.1", () => console.log("ready"))
})
process.stdin.on("end", () => process.exit(0))
process.stdin.resume()
