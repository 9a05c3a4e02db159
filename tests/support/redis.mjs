// One Redis command at a time, over RESP2 on a fresh connection: enough for tests to clear their database and read
// what the relays left there, without a client library.

import net from "node:net";

/** The `redis://host:port[/db]` URL's parts. */
function parse(url) {
  const { hostname, port, pathname } = new URL(url);
  return { host: hostname, port: Number(port || 6379), db: Number(pathname.slice(1) || 0) };
}

/** Reads one reply from `buffer` at `at`; `[value, next]`, or `null` if the reply is not all there yet. */
function read(buffer, at) {
  const end = buffer.indexOf("\r\n", at);
  if (end < 0) return null;
  const type = String.fromCharCode(buffer[at]);
  const line = buffer.toString("utf8", at + 1, end);
  const next = end + 2;
  if (type === "+") return [line, next];
  if (type === "-") return [new Error(line), next];
  if (type === ":") return [Number(line), next];
  if (type === "$") {
    const length = Number(line);
    if (length < 0) return [null, next];
    if (buffer.length < next + length + 2) return null;
    return [buffer.toString("utf8", next, next + length), next + length + 2];
  }
  if (type === "*") {
    const count = Number(line);
    if (count < 0) return [null, next];
    const items = [];
    let position = next;
    for (let index = 0; index < count; index++) {
      const item = read(buffer, position);
      if (!item) return null;
      items.push(item[0]);
      position = item[1];
    }
    return [items, position];
  }
  throw new Error(`unexpected RESP type ${type}`);
}

/** Runs `args` on the database of `url`; resolves to the reply (an error reply rejects). */
export function redisCommand(url, ...args) {
  const { host, port, db } = parse(url);
  const encode = (parts) =>
    `*${parts.length}\r\n${parts.map((part) => `$${Buffer.byteLength(String(part))}\r\n${part}\r\n`).join("")}`;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(5000, () => socket.destroy(new Error(`Redis ${host}:${port}: no answer within 5 s`)));
    let buffer = Buffer.alloc(0);
    const replies = [];
    let position = 0;
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (let reply = read(buffer, position); reply; reply = read(buffer, position)) {
        replies.push(reply[0]);
        position = reply[1];
      }
      if (replies.length === 2) {
        socket.end();
        const [selected, value] = replies;
        if (selected instanceof Error) reject(selected);
        else if (value instanceof Error) reject(value);
        else resolve(value);
      }
    });
    socket.on("error", reject);
    socket.write(encode(["SELECT", db]) + encode(args));
  });
}
