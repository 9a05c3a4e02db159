// Publishers that put numbered `new_msg` broadcasts (`{"seq": n, "body": ...}`) into a room as fast as asked.
//
// - `SocketPublisher`: a Phoenix socket (V2 frames over the `ws` package) joined to the room, pushing `new_msg`.
//   The room broadcasts each push to every member, the publisher too, and replies to it: two frames come back
//   per message, and the publisher reads them all so that its own queue on the relay stays short.
// - `HttpPublisher`: `POST /api/broadcast`, a JSON array of many broadcasts per request where the relay accepts
//   arrays, one object per request otherwise.
//
// Both expose `publish(firstSeq, count)` and `room()`: how many more messages the publisher itself can take
// before its own queue on the relay could overflow (the relay closes a connection whose queue passes 4096 frames).

import WebSocket from "ws"

const BODY = "hello from the benchmark"
const JOIN_TIMEOUT_MS = 5_000
const HTTP_ARRAY_CHUNK = 4_000
// Frames the relay may hold for the socket publisher at most: well under its 4096-frame queue.
const SOCKET_PUBLISHER_MAX_OUTSTANDING_FRAMES = 3_000

const payloadJson = (seq) => `{"seq":${seq},"body":"${BODY}"}`

// Opens the publisher `kind` ("socket", "http" or "auto": arrays over HTTP when the relay takes them, the socket
// otherwise) for `topic` on `relay`.
export async function openPublisher(kind, relay, topic) {
  if (kind === "socket") return SocketPublisher.open(relay.socketUrl, topic)
  const arrays = await HttpPublisher.relayTakesArrays(relay.httpUrl)
  if (kind === "auto" && !arrays) return SocketPublisher.open(relay.socketUrl, topic)
  return new HttpPublisher(relay.httpUrl, topic, arrays)
}

export class SocketPublisher {
  static async open(socketUrl, topic) {
    const ws = new WebSocket(`${socketUrl}/websocket?vsn=2.0.0`, { perMessageDeflate: false })
    const publisher = new SocketPublisher(ws, topic)
    await publisher.join()
    return publisher
  }

  constructor(ws, topic) {
    this.ws = ws
    this.topic = topic
    this.description = "socket (Phoenix V2 pushes)"
    this.sentFrames = 0
    this.receivedFrames = 0
    this.closed = null
    ws.on("close", (code) => {
      this.closed = code
    })
  }

  join() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the publisher's join timed out")), JOIN_TIMEOUT_MS)
      this.ws.once("error", reject)
      this.ws.once("open", () =>
        this.ws.send(JSON.stringify(["1", "1", this.topic, "phx_join", { no_presence: true }])),
      )
      this.ws.on("message", (data) => {
        // Broadcasts and replies are only counted: parsing them would take CPU from the browser under test.
        this.receivedFrames += 1
        if (this.receivedFrames > 1) return
        clearTimeout(timer)
        const [, ref, , event, payload] = JSON.parse(String(data))
        if (ref === "1" && event === "phx_reply" && payload.status === "ok") resolve()
        else reject(new Error(`the publisher could not join: ${data}`))
      })
    })
  }

  // Each push comes back twice (broadcast and reply): what the relay may still hold for us is bounded by that.
  room() {
    if (this.closed !== null) throw new Error(`the relay closed the publisher's socket (${this.closed})`)
    const outstanding = 2 * this.sentFrames - (this.receivedFrames - 1)
    return Math.max(0, Math.floor((SOCKET_PUBLISHER_MAX_OUTSTANDING_FRAMES - outstanding) / 2))
  }

  async publish(firstSeq, count) {
    const prefix = `["1","`
    const middle = `","${this.topic}","new_msg",`
    for (let seq = firstSeq; seq < firstSeq + count; seq += 1) {
      this.sentFrames += 1
      this.ws.send(`${prefix}${this.sentFrames + 1}${middle}${payloadJson(seq)}]`)
    }
  }

  close() {
    this.ws.terminate()
  }
}

export class HttpPublisher {
  // Whether `POST /api/broadcast` takes a JSON array; the probe goes to a topic nobody has joined.
  static async relayTakesArrays(httpUrl) {
    const probe = [{ topic: "bench:probe", event: "probe", payload: {} }]
    const response = await fetch(`${httpUrl}/api/broadcast`, { method: "POST", body: JSON.stringify(probe) })
    await response.arrayBuffer()
    return response.ok
  }

  constructor(httpUrl, topic, arrays) {
    this.url = `${httpUrl}/api/broadcast`
    this.topic = topic
    this.arrays = arrays
    this.description = arrays ? `HTTP (arrays of up to ${HTTP_ARRAY_CHUNK})` : "HTTP (one broadcast per request)"
  }

  room() {
    return Number.POSITIVE_INFINITY
  }

  async publish(firstSeq, count) {
    const item = (seq) => `{"topic":"${this.topic}","event":"new_msg","payload":${payloadJson(seq)}}`
    const posts = []
    if (this.arrays) {
      for (let start = firstSeq; start < firstSeq + count; start += HTTP_ARRAY_CHUNK) {
        const items = []
        for (let seq = start; seq < Math.min(start + HTTP_ARRAY_CHUNK, firstSeq + count); seq += 1)
          items.push(item(seq))
        posts.push(`[${items.join(",")}]`)
      }
    } else {
      for (let seq = firstSeq; seq < firstSeq + count; seq += 1) posts.push(item(seq))
    }
    // One request at a time: requests side by side could reach the relay out of order, and the page checks order.
    for (const body of posts) await this.post(body)
  }

  async post(body) {
    const response = await fetch(this.url, { method: "POST", body, headers: { "content-type": "application/json" } })
    if (!response.ok) throw new Error(`POST /api/broadcast: ${response.status} ${await response.text()}`)
    await response.arrayBuffer()
  }

  close() {}
}
