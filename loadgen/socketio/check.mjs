// Checks both baseline servers of `cargo xtask bench` by hand, over raw WebSockets, exactly as the Rust load
// generator talks to them:
//
//   node check.mjs --minimal-bin PATH/TO/minimal-server
//
// starts `minimal-server` and `server.mjs` on free loopback ports, connects two clients to each, joins, publishes,
// checks that both clients receive the broadcast, round-trips an echo and a heartbeat, stops both servers with
// SIGTERM, prints every frame it saw and exits 0 if all checks passed, 1 otherwise (within 60 s in any case).
//
// minimal-server: Phoenix Channels V2 JSON, `[join_ref, ref, topic, event, payload]`, at ws://ADDR/socket/websocket?vsn=2.0.0
//   -> ["1","1","room:bench","phx_join",{}]          <- ["1","1","room:bench","phx_reply",{"status":"ok","response":{}}]
//   -> ["1","2","room:bench","new_msg",{"body":"x"}]  <- [null,null,"room:bench","new_msg",{"body":"x"}] to every joined
//                                                       client, then ["1","2","room:bench","phx_reply",{"status":"ok","response":{}}]
//   -> ["1","3","room:bench","ping",{"n":1}]          <- ["1","3","room:bench","phx_reply",{"status":"ok","response":{"n":1}}]
//   -> [null,"4","phoenix","heartbeat",{}]            <- [null,"4","phoenix","phx_reply",{"status":"ok","response":{}}]
//
// Socket.IO v4 over engine.io v4, raw, at ws://ADDR/socket.io/?EIO=4&transport=websocket (no polling, no upgrade).
// Every WebSocket text frame is one engine.io packet: its first character is the engine.io type (0 open, 1 close,
// 2 ping, 3 pong, 4 message); a message's rest is one socket.io packet, whose first character is the socket.io type
// (0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK), then an optional ack id (decimal digits), then a JSON array.
//   <- 0{"sid":"…","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}   engine.io open
//   -> 40                                             connect to namespace "/" (within 45 s, or the server closes)
//   <- 40{"sid":"…"}                                  connected
//   -> 421["join","room:bench"]                       EVENT with ack id 1
//   <- 431["ok"]                                      ACK for id 1
//   -> 422["new_msg","room:bench",{"body":"x"}]       <- 42["new_msg",{"body":"x"}] to every client in the room
//                                                        (the sender too), and 432["ok"] to the sender
//   -> 423["echo",{"n":1}]                            <- 433[{"n":1}]
//   <- 2                                              engine.io ping, every pingInterval ms: the server heartbeats
//   -> 3                                              pong; a client that does not answer within pingTimeout is closed
// Ack ids are the client's choice (any non-negative integer); the ACK echoes the id and wraps the answer in an array.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import WebSocket from "ws";

const STEP_TIMEOUT_MS = 5000;
const WHOLE_RUN_TIMEOUT_MS = 60000;

const { values: options } = parseArgs({ options: { "minimal-bin": { type: "string" } } });
if (!options["minimal-bin"]) {
  console.error("usage: node check.mjs --minimal-bin PATH/TO/minimal-server");
  process.exit(2);
}

const results = { passed: 0, failed: 0 };
const servers = [];
const clients = [];

// Bounded whatever happens: a hung server or a missing frame must not hang CI.
setTimeout(() => {
  console.error(`FAIL: the whole check took more than ${WHOLE_RUN_TIMEOUT_MS} ms`);
  finish(1);
}, WHOLE_RUN_TIMEOUT_MS).unref();

// The checks run at the end of the file, once the `Client` class below is defined.

async function checkMinimalServer() {
  console.log("== minimal-server (Phoenix Channels V2 JSON)");
  const server = await startServer("minimal", options["minimal-bin"], ["--listen", "127.0.0.1:0", "--lag-limit", "256"]);
  const url = `ws://${server.address}/socket/websocket?vsn=2.0.0`;
  const alice = await Client.connect("alice", url, ["phoenix"]);
  const bob = await Client.connect("bob", url);
  check(alice.protocol === "phoenix", `subprotocol "phoenix" accepted when offered (got "${alice.protocol}")`);

  const ok = (ref, topic, response = "{}") => `["1","${ref}","${topic}","phx_reply",{"status":"ok","response":${response}}]`;
  for (const client of [alice, bob]) {
    client.send(`["1","1","room:bench","phx_join",{}]`);
    await expectFrame(client, ok(1, "room:bench"), "join reply");
  }
  alice.send(`["1","2","room:bench","new_msg",{"body":"hello"}]`);
  for (const client of [alice, bob]) {
    await expectFrame(client, `[null,null,"room:bench","new_msg",{"body":"hello"}]`, "broadcast");
  }
  await expectFrame(alice, ok(2, "room:bench"), "new_msg reply");
  alice.send(`["1","3","room:bench","ping",{"n":1}]`);
  await expectFrame(alice, ok(3, "room:bench", `{"n":1}`), "echo (ping) reply");
  bob.send(`[null,"4","phoenix","heartbeat",{}]`);
  await expectFrame(bob, `[null,"4","phoenix","phx_reply",{"status":"ok","response":{}}]`, "heartbeat reply");
  check(bob.protocol === "", `no subprotocol when none is offered (got "${bob.protocol}")`);

  // A subscriber that stops reading must be closed once it is --lag-limit broadcasts behind, not buffered for. Carol
  // publishes without joining, in batches that reading subscribers keep up with, until far more bytes went out than
  // the loopback socket buffers hold, so the server's writes to the paused bob block and he falls behind.
  const carol = await Client.connect("carol", url);
  bob.socket.pause();
  const body = "x".repeat(8192);
  const batches = 40;
  const batchSize = 100;
  for (let batch = 1; batch <= batches; batch += 1) {
    for (let i = 1; i <= batchSize; i += 1) carol.socket.send(`["1","p${batch}.${i}","room:bench","new_msg",{"body":"${body}"}]`);
    if (!(await carol.take((frame) => frame === ok(`p${batch}.${batchSize}`, "room:bench")))) {
      fail(`carol: no reply to the last publish of batch ${batch}`);
      break;
    }
    alice.unread.length = 0;
  }
  const published = batches * batchSize;
  console.log(`  carol -> ${published} x ["1","pB.I","room:bench","new_msg",{"body":"xxx…(8 KiB)"}], bob not reading`);
  bob.socket.resume();
  const bobClosed = await bob.closed(STEP_TIMEOUT_MS);
  const bobBroadcasts = bob.unread.filter((frame) => frame.startsWith(`[null,null,"room:bench","new_msg"`)).length;
  check(bobClosed && bobBroadcasts < published, `lagging bob closed after receiving ${bobBroadcasts} of ${published} broadcasts`);
  bob.unread.length = 0;
  alice.send(`[null,"5","phoenix","heartbeat",{}]`);
  await expectFrame(alice, `[null,"5","phoenix","phx_reply",{"status":"ok","response":{}}]`, "still served after bob was dropped");

  await closeAll();
  await stopServer(server);
}

async function checkSocketIoServer() {
  console.log("== server.mjs (Socket.IO v4, raw engine.io/socket.io packets)");
  const serverScript = fileURLToPath(new URL("server.mjs", import.meta.url));
  const server = await startServer("socket.io", process.execPath, [serverScript, "--port", "0", "--ping-interval", "500"]);
  const url = `ws://${server.address}/socket.io/?EIO=4&transport=websocket`;
  const alice = await Client.connect("alice", url);
  const bob = await Client.connect("bob", url);

  for (const client of [alice, bob]) {
    await expectFrame(client, /^0\{"sid":"[^"]+","upgrades":\[\],"pingInterval":500,/, "engine.io open");
    client.send("40");
    await expectFrame(client, /^40\{"sid":"[^"]+"\}$/, "socket.io connect");
    client.send(`421["join","room:bench"]`);
    await expectFrame(client, `431["ok"]`, "join ack");
  }
  alice.send(`422["new_msg","room:bench",{"body":"hello"}]`);
  for (const client of [alice, bob]) {
    await expectFrame(client, `42["new_msg",{"body":"hello"}]`, "broadcast");
  }
  await expectFrame(alice, `432["ok"]`, "new_msg ack");
  alice.send(`423["echo",{"n":1}]`);
  await expectFrame(alice, `433[{"n":1}]`, "echo ack");
  for (const client of [alice, bob]) {
    await expectFrame(client, "2", "engine.io ping (heartbeat)");
    client.send("3");
  }
  // Answered pings keep the connection: the next ping comes and the socket is still open after it.
  await expectFrame(bob, "2", "second engine.io ping after a pong");
  check(bob.socket.readyState === WebSocket.OPEN, "connection still open after answering pings");

  await closeAll();
  await stopServer(server);
}

/** A raw WebSocket client that keeps every frame it receives until a check takes it. */
class Client {
  static connect(name, url, protocols = []) {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, protocols);
      const client = new Client(name, socket);
      clients.push(client);
      socket.once("open", () => resolve(client));
      socket.once("error", reject);
    });
  }

  constructor(name, socket) {
    this.name = name;
    this.socket = socket;
    this.unread = [];
    this.waiters = [];
    socket.on("message", (data) => {
      this.unread.push(data.toString());
      this.waiters.splice(0).forEach((wake) => wake());
    });
    socket.on("close", () => this.waiters.splice(0).forEach((wake) => wake()));
  }

  get protocol() {
    return this.socket.protocol;
  }

  /** Resolves true once the connection is closed, false if it is still open after `timeoutMs`. */
  closed(timeoutMs) {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve(true));
      setTimeout(() => resolve(false), timeoutMs);
    });
  }

  send(frame) {
    console.log(`  ${this.name} -> ${frame}`);
    this.socket.send(frame);
  }

  /** Takes the first unread frame that matches, waiting for it up to STEP_TIMEOUT_MS; undefined if none came. */
  async take(matches) {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const index = this.unread.findIndex(matches);
      if (index >= 0) return this.unread.splice(index, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0 || this.socket.readyState !== WebSocket.OPEN) return undefined;
      await new Promise((wake) => {
        this.waiters.push(wake);
        setTimeout(wake, left);
      });
    }
  }
}

async function expectFrame(client, expected, what) {
  const matches = typeof expected === "string" ? (frame) => frame === expected : (frame) => expected.test(frame);
  const frame = await client.take(matches);
  if (frame !== undefined) console.log(`  ${client.name} <- ${frame}`);
  const shorten = (frame) => (frame.length > 120 ? `${frame.slice(0, 120)}…` : frame);
  const unread = client.unread.length ? `; unread (${client.unread.length}): ${client.unread.slice(0, 5).map(shorten).join(" | ")}` : "";
  check(frame !== undefined, `${client.name}: ${what}${frame === undefined ? `, expected ${expected}${unread}` : ""}`);
}

function check(ok, description) {
  if (ok) results.passed += 1;
  else results.failed += 1;
  console.log(`${ok ? "ok  " : "FAIL"} ${description}`);
}

function fail(description) {
  check(false, description);
}

/** Spawns a server and resolves with its address once it prints `listening on ADDR`. */
function startServer(name, command, args) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
  const server = { name, child, address: undefined };
  servers.push(server);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not print "listening on" in time`)), STEP_TIMEOUT_MS);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${name} exited early with ${code}`)));
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      const address = /^listening on (\S+)$/.exec(line)?.[1];
      if (!address) return reject(new Error(`${name} printed "${line}" instead of "listening on ADDR"`));
      server.address = address;
      console.log(`  ${name}: ${line}`);
      resolve(server);
    });
  });
}

/** SIGTERM, then checks that the server exits cleanly on its own; SIGKILL if it does not. */
async function stopServer(server) {
  const exited = new Promise((resolve) => {
    if (server.child.exitCode !== null || server.child.signalCode !== null) resolve(server.child.exitCode);
    server.child.once("exit", (code) => resolve(code));
  });
  server.child.kill("SIGTERM");
  const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("timeout"), STEP_TIMEOUT_MS))]);
  check(code === 0, `${server.name} exits 0 on SIGTERM (got ${code})`);
  if (code === "timeout") server.child.kill("SIGKILL");
  servers.splice(servers.indexOf(server), 1);
}

async function closeAll() {
  for (const client of clients.splice(0)) client.socket.terminate();
}

async function finish(exitCode) {
  await closeAll();
  for (const server of servers.splice(0)) server.child.kill("SIGKILL");
  console.log(`${results.passed} passed, ${results.failed} failed`);
  process.exit(exitCode);
}

try {
  await checkMinimalServer();
  await checkSocketIoServer();
} catch (error) {
  fail(`unexpected error: ${error.stack ?? error}`);
}
await finish(results.failed === 0 ? 0 : 1);
