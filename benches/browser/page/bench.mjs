// The benchmark page's side. run.mjs opens it with `?page=TOKEN` and drives it over a control WebSocket back to
// the server it came from (run.mjs does not instrument the tab; see lib/bench-page.mjs): `start` connects one
// client (a bare WebSocket, phoenix.js or the Ferrocast wasm client) and joins a room, `progress` reads the
// counters, `stop` disconnects. The page only counts what reaches the `new_msg` callback, so the figure is what
// an application would see.

import { Socket as PhoenixSocket } from "/phoenix/phoenix.mjs"

// What the page has seen since `start`: callbacks, sequence gaps (lost or reordered broadcasts), WebSocket
// messages (to show how many broadcasts each one carried), and socket closes and errors.
const seen = { count: 0, gaps: 0, expectedSeq: 0, wsMessages: 0, closes: 0, errors: 0 }
let socket = null
// Every this many callbacks, and on every close or error, the page tells run.mjs unasked: run.mjs tops the
// flight up from these reports, so the page is never left idle waiting to be asked.
let reportEvery = Infinity

// The control socket is made before WebSocket is replaced below, so its messages are not counted.
const control = new WebSocket(`ws://${location.host}/control?page=${new URLSearchParams(location.search).get("page")}`)
const tell = (message) => control.readyState === control.OPEN && control.send(JSON.stringify(message))

function report() {
  tell({ report: { count: seen.count, closes: seen.closes, errors: seen.errors } })
}

window.addEventListener("error", (event) => tell({ pageError: String(event.message) }))
window.addEventListener("unhandledrejection", (event) =>
  tell({ pageError: String(event.reason?.stack ?? event.reason) }),
)

// Counts WebSocket messages as they arrive, whichever client opened the socket. Both clients look the global up
// when they connect, so replacing it before that is enough; every case pays the same one listener per message.
class CountingWebSocket extends WebSocket {
  constructor(...args) {
    super(...args)
    this.addEventListener("message", () => {
      seen.wsMessages += 1
    })
  }
}
window.WebSocket = CountingWebSocket

// The `new_msg` callback under test: as little work as an application could do, plus the order check.
function onNewMsg(payload) {
  if (payload.seq !== seen.expectedSeq) seen.gaps += 1
  seen.expectedSeq = payload.seq + 1
  seen.count += 1
  if (seen.count % reportEvery === 0) report()
}

// The wasm client, loaded on first use so the phoenix.js case never pays for it. A client built before the
// `batch` option existed refuses it as an unknown option: then the unbatched case runs with the defaults (which
// do not batch) and the batched case is skipped, each saying why.
async function ferrocastSocket(url, batch) {
  const { default: init, Socket } = await import("/ferrocast/ferrocast_client.js")
  await init()
  try {
    return { socket: new Socket(url, { transport: "websocket", batch }), note: null }
  } catch (error) {
    const message = String(error?.message ?? error)
    if (!/unknown Socket option/.test(message) || !message.includes("batch")) throw error
    if (batch) return { skipped: `this client build does not know the batch option (${message})` }
    return {
      socket: new Socket(url, { transport: "websocket" }),
      note: "the client does not know `batch` yet: ran with its defaults (unbatched)",
    }
  }
}

function joined(channel) {
  return new Promise((resolve, reject) => {
    channel
      .join()
      .receive("ok", resolve)
      .receive("error", (reason) => reject(new Error(`join refused: ${JSON.stringify(reason)}`)))
      .receive("timeout", () => reject(new Error("join timed out")))
  })
}

// The baseline: a bare WebSocket that joins by hand and does the least any client must do per message, one
// JSON.parse and a look at the event, so the table shows what this browser and machine allow at all.
function bareSocket(url, topic) {
  const ws = new WebSocket(`${url}/websocket?vsn=2.0.0`)
  socket = { disconnect: () => ws.close() }
  ws.onclose = () => {
    seen.closes += 1
    report()
  }
  ws.onerror = () => {
    seen.errors += 1
    report()
  }
  return new Promise((resolve, reject) => {
    ws.onopen = () => ws.send(JSON.stringify(["1", "1", topic, "phx_join", { no_presence: true }]))
    ws.onmessage = (event) => {
      const [, ref, , kind, payload] = JSON.parse(event.data)
      if (kind === "new_msg") onNewMsg(payload)
      else if (ref === "1" && kind === "phx_reply") {
        if (payload.status === "ok") resolve({ note: null })
        else reject(new Error(`join refused: ${JSON.stringify(payload)}`))
      }
    }
  })
}

// Connects `client` ("bare", "phoenix" or "ferrocast") to `url` and joins `topic`, reporting every
// `reportEvery` callbacks; resolves once joined, with `{note}` or `{skipped}`.
async function start({ client, batch, url, topic, reportEvery: every }) {
  reportEvery = every
  if (client === "bare") return bareSocket(url, topic)
  const made = client === "phoenix" ? { socket: new PhoenixSocket(url), note: null } : await ferrocastSocket(url, batch)
  if (made.skipped) return { skipped: made.skipped }
  socket = made.socket
  socket.onClose(() => {
    seen.closes += 1
    report()
  })
  socket.onError(() => {
    seen.errors += 1
    report()
  })
  socket.connect()
  const channel = socket.channel(topic, { no_presence: true })
  channel.on("new_msg", onNewMsg)
  await joined(channel)
  return { note: made.note }
}

// A snapshot of the counters, timed by the page's own clock.
function progress() {
  const { count, gaps, wsMessages, closes, errors } = seen
  return { count, gaps, wsMessages, closes, errors, t: performance.now() }
}

function stop() {
  reportEvery = Infinity
  socket?.disconnect()
}

const requests = { start, progress, stop }

control.onmessage = async (event) => {
  const { id, op, args } = JSON.parse(event.data)
  try {
    tell({ id, result: (await requests[op](args)) ?? null })
  } catch (error) {
    tell({ id, error: String(error?.stack ?? error) })
  }
}
