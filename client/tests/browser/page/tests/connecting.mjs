// A socket's own behaviour: its state and URL, its options, its auth token.

import { equal, notEqual, ok, throws } from "../support/assert.mjs";
import { client } from "../support/client.mjs";
import { relay } from "../support/endpoints.mjs";
import { test } from "../support/registry.mjs";
import { describe, Seen } from "../support/seen.mjs";
import { connected } from "../support/sockets.mjs";

const { Socket } = client;

test("connects and says so", async () => {
  const socket = new Socket(relay);
  equal(socket.connectionState(), "closed");
  // The socket's identity (for the relay to handle resent pushes once): random, and the same for every connection.
  // Then the request for batch messages, which the relay reads and phoenix servers ignore.
  const url = socket.endPointURL();
  const [base, query] = splitOnce(url, "?");
  ok(base.endsWith("/socket/websocket"), url);
  const identity = /^ferrocast_sid=(.*)&ferrocast_batch=1&vsn=2\.0\.0$/.exec(query ?? "");
  ok(identity, `the identity, then batch=1 and vsn: ${url}`);
  ok(isValidSocketId(identity[1]), url);
  equal(socket.endPointURL(), url);
  const other = new Socket(relay);
  notEqual(other.endPointURL(), url, "each socket has its own identity");
  const seen = new Seen();
  socket.onOpen(seen.recorder("open"));
  socket.connect();
  equal(socket.connectionState(), "connecting");
  await seen.waitFor("open");
  ok(socket.isConnected());
  equal(socket.connectionState(), "open");
  equal(
    describe(socket.getStats()),
    '{"state":"open","reconnectAttempts":0,"nextRetryInMs":null,"queuedPushes":0,"queuedBytes":0,' +
      '"awaitingReply":0,"lastHeartbeatRttMs":null}',
  );
  socket.disconnect();
  equal(socket.connectionState(), "closed");
});

test("bad options throw errors that say what is wrong", () => {
  const message = (options) => {
    const error = throws(() => new Socket("/socket", options), "refused");
    ok(error instanceof Error, `an Error, not ${describe(error)}`);
    return error.message;
  };
  equal(message({ timout: 5 }), "unknown Socket option `timout`");
  equal(message({ timeout: "5" }), "Socket option `timeout` must be a number");
  equal(message({ vsn: "3.0.0" }), 'Socket option `vsn` must be "1.0.0" or "2.0.0", not "3.0.0"');
  ok(message({ queue: { max: 1 } }).startsWith("unknown Socket option `queue.max`"));
  equal(message({ backoff: { jitter: 2 } }), "Socket option `backoff.jitter` must be between 0 and 1");
  // phoenix.js options this client has no use for are accepted, so switching stays a one-line change: this throws
  // if they are not.
  new Socket("/socket", { longPollFallbackMs: 2500, debug: false });
});

test("params go in the URL as phoenix.js writes them", () => {
  const socket = new Socket("ws://example.test/socket", {
    params: { token: "a b", user: { id: 7 } },
    vsn: "1.0.0",
    recovery: false,
  });
  equal(socket.endPointURL(), "ws://example.test/socket/websocket?token=a%20b&user%5Bid%5D=7&vsn=1.0.0");
});

test("an auth token travels as a subprotocol and the relay accepts it", async () => {
  const [socket] = await connected(relay, { authToken: "secret token" });
  ok(socket.isConnected());
  socket.disconnect();
});

/** `text` cut at the first `separator`: `[before, after]`, `after` undefined when there is none. */
function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + separator.length)];
}

/** What the relay accepts as a socket's identity, as `ferrocast_protocol::is_valid_socket_id` says. */
function isValidSocketId(id) {
  return /^[A-Za-z0-9_-]{16,64}$/.test(id);
}
