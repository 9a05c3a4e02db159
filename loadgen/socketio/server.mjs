// Socket.IO baseline for `cargo xtask bench`, not a product: the broadcast server most Node teams would write,
// driven by the same load generator as the Ferrocast relay (which speaks the raw Socket.IO protocol documented in
// check.mjs). WebSocket transport only and no per-message deflate, so the comparison is with the relay's plain
// WebSocket frames, not with long polling or compression.
//
//   node server.mjs [--port 4901] [--ping-interval 25000]
//
// Binds 127.0.0.1 (port 0 picks a free one) and prints `listening on 127.0.0.1:PORT` once listening. The engine.io
// ping interval defaults to Socket.IO's own; check.mjs shortens it to see a heartbeat within a second.
//
// Events (each takes an acknowledgement callback as its last argument):
//   join    (topic, ack)          -> socket.join(topic); ack("ok")
//   new_msg (topic, payload, ack) -> io.to(topic).emit("new_msg", payload); ack("ok")   (the sender too, if joined)
//   echo    (payload, ack)        -> ack(payload)
//
// And for backends, as the relay takes it: POST /api/broadcast with {"topic", "event", "payload"} ->
// io.to(topic).emit(event, payload), answered 202 (400 for a body that is not such an object).

import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { Server } from "socket.io";

const { values: options } = parseArgs({
  options: {
    port: { type: "string", default: "4901" },
    "ping-interval": { type: "string", default: "25000" },
  },
});
const host = "127.0.0.1";
const port = Number(options.port);

// Socket.IO answers its own path (/socket.io/) before this handler sees a request.
const httpServer = createServer((request, response) => {
  if (request.method !== "POST" || request.url !== "/api/broadcast") {
    response.writeHead(404).end();
    return;
  }
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    let message;
    try {
      message = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      message = null;
    }
    if (typeof message?.topic !== "string" || typeof message?.event !== "string") {
      response.writeHead(400, { "content-type": "text/plain" }).end('expected {"topic", "event", "payload"}\n');
      return;
    }
    io.to(message.topic).emit(message.event, message.payload);
    response.writeHead(202).end();
  });
});
const io = new Server(httpServer, {
  transports: ["websocket"],
  perMessageDeflate: false,
  serveClient: false,
  pingInterval: Number(options["ping-interval"]),
});

// A client may emit without asking for an acknowledgement; then there is nothing to call.
const acknowledge = (ack, value) => {
  if (typeof ack === "function") ack(value);
};

io.on("connection", (socket) => {
  socket.on("join", (topic, ack) => {
    socket.join(String(topic));
    acknowledge(ack, "ok");
  });
  socket.on("new_msg", (topic, payload, ack) => {
    io.to(String(topic)).emit("new_msg", payload);
    acknowledge(ack, "ok");
  });
  socket.on("echo", (payload, ack) => acknowledge(ack, payload));
});

httpServer.listen(port, host, () => {
  console.log(`listening on ${host}:${httpServer.address().port}`);
});

// The bench stops the server with SIGTERM; open WebSockets would otherwise keep the process alive.
const stop = () => {
  io.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
