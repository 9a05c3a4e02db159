// The client's own cost per message, without a relay, a publisher or a browser: the package's Node build fed
// prepared WebSocket messages by a stand-in WebSocket, timed around `onmessage`. The browser benchmark (run.mjs) is
// held back by its publisher once the page is fast (`pub busy` near 100%); this measures the page's side alone, so
// two builds of the client compare on what they do per message.
//
//   node client-cpu.mjs [--pkg DIR]   (default ../../client/pkg; prints µs per message, batched and one per message)

import path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const { values } = parseArgs({ options: { pkg: { type: "string" } } })
const pkg = path.resolve(values.pkg ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "../../client/pkg"))
const { Socket } = await import(path.join(pkg, "node/ferrocast_client.js"))

const TOPIC = "room:bench"
const FRAMES_PER_BATCH = 400

/** Answers joins as a relay would; everything else the socket sends is dropped. */
let connection
class StandInWebSocket {
  constructor() {
    connection = this
    setTimeout(() => this.onopen?.({}), 0)
  }
  send(data) {
    const [joinRef, ref, topic, event] = JSON.parse(data)
    if (event !== "phx_join") return
    const reply = [joinRef, ref, topic, "phx_reply", { status: "ok", response: {} }]
    setTimeout(() => this.onmessage?.({ data: JSON.stringify(reply) }), 0)
  }
  close() {}
}

const socket = new Socket("ws://stand-in/socket", { transport: StandInWebSocket })
socket.connect()
const channel = socket.channel(TOPIC, {})
let received = 0
channel.on("new_msg", () => received++)
await new Promise((joined) => channel.join().receive("ok", joined))

// Broadcasts as the relay sends them: a position on each, in batches or one per WebSocket message.
let offset = 0
const broadcast = () => {
  offset++
  return [null, null, TOPIC, "new_msg", { body: "hello world", seq: offset }, { offset, epoch: "e1" }]
}
const batches = Array.from({ length: 50 }, () => JSON.stringify(Array.from({ length: FRAMES_PER_BATCH }, broadcast)))
const singles = Array.from({ length: 5_000 }, () => JSON.stringify(broadcast()))

/** The best of `rounds` passes over `messages`, in µs per message the callback received. */
function timed(messages, rounds) {
  let best = Infinity
  for (let round = 0; round < rounds; round++) {
    const before = received
    const started = performance.now()
    for (const data of messages) connection.onmessage({ data })
    best = Math.min(best, ((performance.now() - started) * 1000) / (received - before))
  }
  return best
}

timed(batches.slice(0, 10), 1)
const batched = timed(batches, 5)
const single = timed(singles, 3)
console.log(`${pkg}: batched ${batched.toFixed(2)} µs/message, one per WebSocket message ${single.toFixed(2)} µs/message`)
process.exit(0)
