// Sockets and channels as most tests start: connected, joined, or watching a topic from outside the proxy.

import { client } from "./client.mjs";
import { relay } from "./endpoints.mjs";
import { Seen } from "./seen.mjs";

/** A connected socket, its opens and closes recorded as `open` and `close …`: `[socket, seen]`. */
export async function connected(url, options) {
  const seen = new Seen();
  const socket = new client.Socket(url, options);
  socket.onOpen(seen.recorder("open"));
  socket.onClose(seen.recorder("close"));
  socket.connect();
  await seen.waitFor("open");
  return [socket, seen];
}

/** A channel of `socket`, joined: its join replies are recorded in `seen` as `joined …`. */
export async function joined(socket, topic, params, seen) {
  const channel = socket.channel(topic, params);
  channel.join().receive("ok", seen.recorder("joined"));
  await seen.waitCount("joined", seen.count("joined") + 1);
  return channel;
}

/**
 * A socket straight to the relay, joined to `topic` without presence, recording its broadcasts as `msg …`: it sees
 * what a socket behind the proxy made the relay do. `[watcher, watched]`.
 */
export async function watching(topic) {
  const [watcher] = await connected(relay, {});
  const watched = new Seen();
  const watch = watcher.channel(topic, { no_presence: true });
  watch.on("new_msg", watched.recorder("msg"));
  watch.join().receive("ok", watched.recorder("joined"));
  await watched.waitFor("joined {}");
  return [watcher, watched];
}
