// A plain Phoenix V2 client over the `ws` package that speaks Ferrocast's recovery extension (protocol/PROTOCOL.md):
// it names its socket with `ferrocast_sid`, asks for batches, joins one topic offering the last position it received,
// reconnects with a jittered backoff when its connection ends, and rejoins the same way. It pushes nothing.
//
// What it records is what the relay-killed test checks: every broadcast on its topic in arrival order (`ids`, and
// the `offsets` they came with), each rejoin's `recovered` flag, how long each reconnect took (from the close to the
// rejoin's reply) and how many broadcasts each rejoin replayed (from its reply's position).

import { randomBytes } from "node:crypto";
import WebSocket from "ws";

export class NativeSubscriber {
  /**
   * `base` is the balancer's `ws://` URL; `id` turns a broadcast's event and payload into the string the test
   * compares (`null` for one it ignores).
   */
  constructor(base, topic, id, stats) {
    const sid = randomBytes(16).toString("base64url");
    this.url = `${base}/socket/websocket?vsn=2.0.0&ferrocast_batch=1&ferrocast_sid=${sid}`;
    this.topic = topic;
    this.id = id;
    this.stats = stats;
    this.ids = [];
    this.offsets = [];
    this.position = null;
    this.ref = 0;
    this.joinRef = null;
    this.joined = false;
    this.closedAt = null;
    this.countAtClose = 0;
    this.attempts = 0;
    this.stopped = false;
    this.heartbeat = null;
    this.onJoined = null;
  }

  /** Connects and joins; resolves once the first join is answered `ok`. */
  start() {
    const joined = new Promise((resolve, reject) => {
      this.onJoined = resolve;
      this.onJoinError = reject;
    });
    this.connect();
    return joined;
  }

  connect() {
    if (this.stopped) return;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.on("open", () => {
      this.attempts = 0;
      this.join();
      this.heartbeat = setInterval(() => this.send([null, this.nextRef(), "phoenix", "heartbeat", {}]), 20_000);
    });
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      const message = JSON.parse(data.toString());
      // A batch is an array of frames; a frame's first element is its join ref (null or a string).
      if (Array.isArray(message[0])) for (const frame of message) this.frame(frame);
      else this.frame(message);
    });
    ws.on("error", () => {});
    ws.on("close", () => {
      clearInterval(this.heartbeat);
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.joined) {
        this.closedAt = performance.now();
        this.countAtClose = this.ids.length;
      }
      this.joined = false;
      if (this.stopped) return;
      // Full jitter from 500 ms, doubling, up to 5 s, as our client's default backoff (capped lower).
      this.attempts += 1;
      const ceiling = Math.min(5000, 500 * 2 ** (this.attempts - 1));
      setTimeout(() => this.connect(), Math.random() * ceiling);
    });
  }

  nextRef() {
    this.ref += 1;
    return String(this.ref);
  }

  send(frame) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  join() {
    this.joinRef = this.nextRef();
    const ext = this.position ? { offset: this.position.offset, epoch: this.position.epoch } : {};
    this.send([this.joinRef, this.joinRef, this.topic, "phx_join", { no_presence: true }, ext]);
  }

  frame([joinRef, ref, topic, event, payload, ext]) {
    if (topic !== this.topic) return;
    if (event === "phx_reply") {
      if (ref !== this.joinRef) return;
      if (payload.status !== "ok") {
        this.onJoinError?.(new Error(`join refused: ${JSON.stringify(payload)}`));
        return;
      }
      this.joined = true;
      if (!this.position && ext?.epoch !== undefined) this.position = { offset: ext.offset, epoch: ext.epoch };
      if (ext?.recovered !== undefined) this.stats.rejoined(this, ext.recovered, ext.offset);
      this.onJoined?.();
      this.onJoined = null;
      return;
    }
    if (event === "phx_error") {
      // "missed broadcasts", or the channel crashed: rejoin offering the position, as our client does.
      if (joinRef === this.joinRef) setTimeout(() => this.join(), 100);
      return;
    }
    const id = this.id(event, payload);
    if (id === null) return;
    this.ids.push(id);
    this.offsets.push(ext?.offset);
    if (ext?.epoch !== undefined) this.position = { offset: ext.offset, epoch: ext.epoch };
  }

  stop() {
    this.stopped = true;
    clearInterval(this.heartbeat);
    this.ws?.terminate();
  }
}
