// Batch messages: a burst of broadcasts comes in a few WebSocket messages with batches, one per frame without.

import { equal, ok } from "../support/assert.mjs";
import { client } from "../support/client.mjs";
import { relay } from "../support/endpoints.mjs";
import { proxy } from "../support/proxy.mjs";
import { test } from "../support/registry.mjs";
import { Seen } from "../support/seen.mjs";
import { until } from "../support/wait.mjs";

const { Socket } = client;

test("a burst comes in a few batch messages complete and in order and one per frame without batches", async () => {
  const BURST = 2_000;
  // A WebSocket class that counts the messages its sockets receive, given to the Socket as its transport.
  const counting = () => {
    const Counting = class extends WebSocket {
      constructor(url, protocols) {
        super(url, protocols);
        this.addEventListener("message", () => Counting.messages++);
      }
    };
    Counting.messages = 0;
    return Counting;
  };
  const received = (socket, topic) => {
    const numbers = [];
    const channel = socket.channel(topic, { no_presence: true });
    channel.on("new_msg", (payload) => numbers.push(payload.n));
    return [channel, numbers];
  };
  const publish = (topic) =>
    JSON.stringify(Array.from({ length: BURST }, (_, n) => ({ topic, event: "new_msg", payload: { n } })));

  for (const [batch, topic] of [
    [true, "room:burst-batched"],
    [false, "room:burst-single"],
  ]) {
    const transport = counting();
    const socket = new Socket(relay, { transport, batch });
    socket.connect();
    const [channel, numbers] = received(socket, topic);
    const seen = new Seen();
    channel.join().receive("ok", seen.recorder("joined"));
    await seen.waitFor("joined {}");

    const before = transport.messages;
    await proxy("relay/api/broadcast", publish(topic));
    await until(`${BURST} broadcasts on ${topic}`, () => numbers.length >= BURST);
    const expected = Array.from({ length: BURST }, (_, n) => n);
    equal(numbers, expected, `every broadcast once, in order (${topic})`);
    const messages = transport.messages - before;
    if (batch) {
      ok(messages <= 100, `${BURST} frames came in ${messages} messages with batches`);
    } else {
      equal(messages, BURST, "one message per frame without batches");
    }
    socket.disconnect();
  }
});
