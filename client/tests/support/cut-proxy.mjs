// A TCP proxy in front of the relay that the browser tests can tell to cut every connection, or to refuse new
// ones for a while, so reconnects are tested against real sockets.
//
//   node cut-proxy.mjs LISTEN_PORT TARGET_PORT CONTROL_PORT
//
// Control (HTTP on 127.0.0.1:CONTROL_PORT, CORS open to the test page):
//   POST /cut          destroy every proxied connection; answers {"cut": n}
//   POST /refuse?ms=N  for N ms, close new connections as soon as they arrive; answers {"refusing": N}
//   POST /block-websockets?ms=N  for N ms, drop connections that ask for a WebSocket upgrade (other HTTP passes)
//   POST /refuse-websockets?n=N  drop the next N connections that ask for a WebSocket upgrade, as a server that
//                      is restarting refuses them (n=0 stops it); answers {"refusingWebSockets": N}
//   POST /no-sse?ms=N  for N ms, answer GET /socket/sse with 404 (with CORS, so the page sees it), as a server
//                      without the event-stream socket (Phoenix) does; answers {"noSse": N}
//   POST /mute         drop whatever the relay sends on the open connections (the client's frames still go
//                      through), so a push is handled but its reply never arrives; answers {"muted": n}
//   POST /chaos?ms=N&min=A&max=B&mute=M
//                      for N ms, cut every connection at random intervals of A to B ms (default 50 to 300), each
//                      cut after muting the connections for a random 0 to M ms (default 0); answers at once with
//                      {"chaos": N}. ms=0 stops it, cutting what it had muted.
//   GET  /stats        {"accepted": n, "refused": n, "open": n, "cuts": n, "blockedUpgrades": n,
//                      "refusedUpgrades": n, "sseRequests": n}, cuts counting those that found a connection open,
//                      sseRequests every GET /socket/sse seen, passed on or answered 404
//   GET  /relay/PATH   the relay's own HTTP answer to GET /PATH (its API sends no CORS headers for the page);
//                      JSON as it is, any other text as a JSON string. A request with a body is sent on as a POST
//                      of that body (to publish through /api/broadcast).
// It exits when its parent does (stdin closes).
import net from "node:net"
import http from "node:http"

const [listenPort, targetPort, controlPort] = process.argv.slice(2).map(Number)
const open = new Set()
let accepted = 0
let refused = 0
let refuseUntil = 0
let cuts = 0
let chaosTimer = null
let blockWebSocketsUntil = 0
let blockedUpgrades = 0
let refuseUpgrades = 0
let refusedUpgrades = 0
let noSseUntil = 0
let sseRequests = 0

const NOT_FOUND = [
  "HTTP/1.1 404 Not Found",
  "content-type: text/plain",
  "access-control-allow-origin: *",
  "content-length: 10",
  "connection: close",
  "",
  "Not Found\n",
].join("\r\n")

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
  client.on("data", (data) => {
    const head = data.toString("latin1")
    const upgrade = /^upgrade:\s*websocket/im.test(head)
    // A network that blocks WebSockets: an upgrade request is dropped with its connection.
    if (Date.now() < blockWebSocketsUntil && upgrade) {
      blockedUpgrades++
      end()
      return
    }
    if (refuseUpgrades > 0 && upgrade) {
      refuseUpgrades--
      refusedUpgrades++
      end()
      return
    }
    // A request starts a chunk (the browser writes each request's head at once), so its line is found there.
    if (/^GET \/socket\/sse[?\s]/.test(head)) {
      sseRequests++
      if (Date.now() < noSseUntil) {
        // Answered here, and the relay never hears of it: let go of the relay's side without ending the client's
        // before the answer is out.
        open.delete(pair)
        upstream.removeAllListeners("close").destroy()
        client.end(NOT_FOUND)
        return
      }
    }
    upstream.write(data)
  })
  upstream.on("data", (data) => {
    if (!pair.muted) client.write(data)
  })
})

function cutAll() {
  const n = open.size
  for (const { client, upstream } of [...open]) {
    client.destroy()
    upstream.destroy()
  }
  open.clear()
  if (n > 0) cuts++
  return n
}

// Muted connections stay muted until cut: unmuting one would hand the client a stream with a hole in it, which
// TCP never does.
function mutedOpen() {
  return [...open].some((pair) => pair.muted)
}

function stopChaos() {
  clearTimeout(chaosTimer)
  chaosTimer = null
  if (mutedOpen()) cutAll()
}

function startChaos(until, min, max, mute) {
  stopChaos()
  const next = () => {
    if (Date.now() >= until) {
      chaosTimer = null
      return
    }
    const quiet = Math.random() * mute
    const wait = Math.max(0, min + Math.random() * (max - min) - quiet)
    chaosTimer = setTimeout(() => {
      for (const pair of open) pair.muted = true
      chaosTimer = setTimeout(() => {
        cutAll()
        next()
      }, quiet)
    }, wait)
  }
  next()
}

const control = http.createServer(async (request, response) => {
  const url = new URL(request.url, "http://127.0.0.1")
  const number = (name, fallback) => Number(url.searchParams.get(name) ?? fallback)
  let body
  if (url.pathname === "/cut") {
    body = { cut: cutAll() }
  } else if (url.pathname === "/chaos") {
    const ms = number("ms", 0)
    if (ms > 0) startChaos(Date.now() + ms, number("min", 50), number("max", 300), number("mute", 0))
    else stopChaos()
    body = { chaos: ms }
  } else if (url.pathname === "/refuse") {
    const ms = Number(url.searchParams.get("ms") || 0)
    refuseUntil = Date.now() + ms
    body = { refusing: ms }
  } else if (url.pathname === "/block-websockets") {
    const ms = Number(url.searchParams.get("ms") || 0)
    blockWebSocketsUntil = Date.now() + ms
    body = { blocking: ms }
  } else if (url.pathname === "/refuse-websockets") {
    refuseUpgrades = number("n", 0)
    body = { refusingWebSockets: refuseUpgrades }
  } else if (url.pathname === "/no-sse") {
    const ms = number("ms", 0)
    noSseUntil = Date.now() + ms
    body = { noSse: ms }
  } else if (url.pathname === "/mute") {
    for (const pair of open) pair.muted = true
    body = { muted: open.size }
  } else if (url.pathname === "/stats") {
    body = { accepted, refused, open: open.size, cuts, blockedUpgrades, refusedUpgrades, sseRequests }
  } else if (url.pathname.startsWith("/relay/")) {
    const chunks = []
    for await (const chunk of request) chunks.push(chunk)
    const sent = Buffer.concat(chunks)
    const init = sent.length > 0 ? { method: "POST", body: sent } : {}
    const upstream = await fetch(`http://127.0.0.1:${targetPort}${url.pathname.slice("/relay".length)}`, init)
    // JSON comes back as it is; anything else (the metrics' text) as one JSON string.
    const text = await upstream.text()
    try {
      body = JSON.parse(text)
    } catch {
      body = text
    }
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
