// The machine's outputs, as `Machine._drain()` lays them out: one flat array of records, each a tag and that tag's
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
        socket._open()
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
        socket._send(encode(socket._v1, joinRef, ref, topic, event, payload, ext))
        break
      }
      case CLOSE:
        socket._close(out[i++], out[i++])
        break
      case OPEN:
        queueAll(socket._hooks.open, [], calls)
        break
      case CLOSED: {
        const event = { code: out[i++], reason: out[i++], wasClean: out[i++] }
        socket.log("transport", `close ${event.code} ${event.reason}`, event)
        queueAll(socket._hooks.close, [event], calls)
        break
      }
      case ERROR: {
        const error = socket._lastError
        socket._lastError = undefined
        socket.log("transport", "error", error)
        queueAll(socket._hooks.error, [error], calls)
        break
      }
      case MESSAGE: {
        const { event, payload, ref, joinRef } = socket._frame
        socket._channels.get(out[i++])?._trigger(event, [payload, ref, joinRef], calls)
        break
      }
      case CHANNEL_EVENT: {
        const channel = socket._channels.get(out[i++])
        const event = out[i++]
        const payload = out[i++] ? socket._frame.payload : undefined
        channel?._trigger(event, out[i++] ? [payload] : [], calls)
        break
      }
      case REPLY: {
        const [id, status, response] = [out[i++], out[i++], out[i++]]
        const push = socket._pushes.get(id)
        // A join's push reports every attempt: its callbacks stay.
        if (!push?._join) socket._pushes.delete(id)
        // A reply the machine made (a timeout, a leave while offline) has no response: `{}`, as phoenix.js's.
        push?._settle(status, response ? socket._frame.response : {}, calls)
        break
      }
      case CHANNEL_CLOSE: {
        const id = out[i++]
        const joinPush = socket._machine._one(JOIN_PUSH, id)
        if (joinPush >= 0) socket._pushes.delete(joinPush)
        socket._channels.delete(id)
        break
      }
      case DROPPED: {
        const topic = socket._channels.get(out[i++])?.topic ?? ""
        const dropped = { topic, event: out[i++], reason: out[i++] }
        socket.log("push", `dropped ${topic} ${dropped.event}: ${dropped.reason}`, dropped)
        queueAll(socket._hooks.queueDrop, [dropped], calls)
        break
      }
      case RECOVERY_FAILED: {
        const [channel, offset, epoch] = [socket._channels.get(out[i++]), out[i++], out[i++]]
        if (!channel) break
        const lost = { topic: channel.topic }
        if (offset !== null) Object.assign(lost, { offset, epoch })
        socket.log("channel", `${channel.topic}: missed messages could not all be recovered`, lost)
        channel._trigger(RECOVERY_BINDING, [lost], calls)
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
