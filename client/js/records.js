// The machine's outputs, as `Machine.drain()` lays them out: one flat array of records, each a tag and that tag's
// fields (`client/src/machine.rs`, `Tag`, says what each field is). Transport actions come first; the
// application's callbacks are queued on `calls`, to run once every record has been read.

const CONNECT = 0
const SEND = 1
const CLOSE = 2
const OPEN = 3
const CLOSED = 4
const ERROR = 5
const MESSAGE = 6
const REPLY = 7
const CHANNEL_CLOSE = 8
const DROPPED = 9
const RECOVERY_FAILED = 10
const RECONNECT_SCHEDULED = 11
const HEARTBEAT_TIMEOUT = 12
const CHANNEL_EVENT = 13

import { RECOVERY_FAILED as RECOVERY_BINDING } from "./channel.js"
import { encode } from "./encode.js"
import { JOIN_PUSH } from "./machine.js"

/** Acts on the records in `out` for `socket`. */
export function route(socket, out, calls) {
  for (let i = 0; i < out.length; ) {
    switch (out[i++]) {
      case CONNECT:
        socket.open()
        break
      case SEND: {
        // Read one by one, not through an array: a send for every push.
        // The refs come as numbers, sent as their decimal form.
        const joinRef = out[i++]?.toString()
        const ref = `${out[i++]}`
        const topic = out[i++]
        const event = out[i++]
        const payload = out[i++]
        const offset = out[i++]
        const ext = offset === undefined ? undefined : offset === null ? {} : { offset, epoch: out[i++] }
        socket.send(encode(socket.v1, joinRef, ref, topic, event, payload, ext))
        break
      }
      case CLOSE:
        socket.close(out[i++], out[i++])
        break
      case OPEN:
        queueAll(socket.hooks.open, [], calls)
        break
      case CLOSED: {
        const event = { code: out[i++], reason: out[i++], wasClean: out[i++] }
        socket.log("transport", `close ${event.code} ${event.reason}`, event)
        queueAll(socket.hooks.close, [event], calls)
        break
      }
      case ERROR: {
        const error = socket.lastError
        socket.lastError = undefined
        socket.log("transport", "error", error)
        queueAll(socket.hooks.error, [error], calls)
        break
      }
      case MESSAGE: {
        const { event, payload, ref, joinRef } = socket.frame
        socket.channels.get(out[i++])?.trigger(event, [payload, ref, joinRef], calls)
        break
      }
      case CHANNEL_EVENT: {
        const channel = socket.channels.get(out[i++])
        const event = out[i++]
        const payload = out[i++] ? socket.frame.payload : undefined
        channel?.trigger(event, out[i++] ? [payload] : [], calls)
        break
      }
      case REPLY: {
        const [id, status, response] = [out[i++], out[i++], out[i++]]
        const push = socket.pushes.get(id)
        // A join's push reports every attempt: its callbacks stay.
        if (!push?.join) socket.pushes.delete(id)
        // A reply the machine made (a timeout, a leave while offline) has no response: `{}`, as phoenix.js's.
        push?.settle(status, response ? socket.frame.response : {}, calls)
        break
      }
      case CHANNEL_CLOSE: {
        const id = out[i++]
        const joinPush = socket.machine.one(JOIN_PUSH, id)
        if (joinPush >= 0) socket.pushes.delete(joinPush)
        socket.channels.delete(id)
        break
      }
      case DROPPED: {
        const topic = socket.channels.get(out[i++])?.topic ?? ""
        const dropped = { topic, event: out[i++], reason: out[i++] }
        socket.log("push", `dropped ${topic} ${dropped.event}: ${dropped.reason}`, dropped)
        queueAll(socket.hooks.queueDrop, [dropped], calls)
        break
      }
      case RECOVERY_FAILED: {
        const [channel, offset, epoch] = [socket.channels.get(out[i++]), out[i++], out[i++]]
        if (!channel) break
        const lost = { topic: channel.topic }
        if (offset !== null) Object.assign(lost, { offset, epoch })
        socket.log("channel", `${channel.topic}: missed messages could not all be recovered`, lost)
        channel.trigger(RECOVERY_BINDING, [lost], calls)
        break
      }
      case RECONNECT_SCHEDULED:
        socket.log("transport", `reconnect attempt ${out[i++]} in ${out[i++]} ms`)
        break
      case HEARTBEAT_TIMEOUT:
        socket.log("transport", "heartbeat timeout: reconnecting")
        break
    }
  }
}

/** Queues every callback of a socket-level list (`[ref, callback]` pairs). */
function queueAll(list, args, calls) {
  for (const [, callback] of list) calls.push([callback, args])
}
