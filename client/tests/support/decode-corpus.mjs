// The JavaScript decoder's side of `client/tests/decoder_parity.rs`: reads the corpus as JSON on stdin
// (`[{vsn, text} | {binary: bytes}]`), decodes each input as a WebSocket message with
// `client/js/decode.js`, and writes what it read as JSON on stdout: per input, its frames (each
// `{reply, join_ref, ref, topic, event, payload, ext}`, a payload as `JSON.stringify` writes it or `{bytes}`) or the
// reason it was refused. A binary input comes with the fields the protocol's decoder gave (what the machine's
// `decodeBinary` returns in the browser), so what is compared is what this file's code does with them.

import { decode } from "../../js/decode.js"

const input = JSON.parse(await new Promise((resolve) => {
  let text = ""
  process.stdin.on("data", (chunk) => (text += chunk))
  process.stdin.on("end", () => resolve(text))
}))

function compared(payload) {
  if (payload instanceof ArrayBuffer) return { bytes: [...new Uint8Array(payload)] }
  return { json: JSON.stringify(payload) ?? null }
}

function read(frame) {
  if (typeof frame === "string") return { refused: frame }
  const reply = frame.status ?? null
  const ext = frame.ext && {
    position: frame.ext.epoch === undefined ? null : { offset: frame.ext.offset, epoch: frame.ext.epoch },
    recovered: frame.ext.recovered === 0 ? null : frame.ext.recovered === 2,
  }
  return {
    reply,
    join_ref: frame.joinRef,
    ref: frame.ref,
    topic: frame.topic,
    event: frame.event,
    payload: compared(reply === null ? frame.payload : frame.response),
    ext: ext ?? null,
  }
}

// The names the machine's `protocolEvents()` gives in the browser.
const names = { close: "phx_close", error: "phx_error", reply: "phx_reply" }

const results = input.map(({ vsn, text, binary }) => {
  if (binary === undefined) return decode(vsn === 1, text, names).map(read)
  return decode(false, new Uint8Array(binary).buffer, names).map(read)
})
process.stdout.write(JSON.stringify(results))
