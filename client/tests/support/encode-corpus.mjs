// The JavaScript encoder's side of `client/tests/encoder_parity.rs`: reads client frames as JSON on stdin
// (`[{v1, joinRef, ref, topic, event, payload: {json} | {bytes}, ext}]`, an `ext` of null for none), encodes each
// with `client/js/encode.js` as the socket does with the machine's `Send` record, and writes what it made as JSON
// on stdout: `{text}` or `{bytes}` per frame.

import { encode } from "../../js/encode.js"

const input = JSON.parse(await new Promise((resolve) => {
  let text = ""
  process.stdin.on("data", (chunk) => (text += chunk))
  process.stdin.on("end", () => resolve(text))
}))

const results = input.map(({ v1, joinRef, ref, topic, event, payload, ext }) => {
  const data = payload.json ?? new Uint8Array(payload.bytes).buffer
  // As the socket makes it from the record (`client/js/records.js`): the offset first, whatever order JSON gave.
  const extension = ext && (ext.offset === undefined ? {} : { offset: ext.offset, epoch: ext.epoch })
  const encoded = encode(v1, joinRef, ref, topic, event, data, extension ?? undefined)
  return typeof encoded === "string" ? { text: encoded } : { bytes: [...new Uint8Array(encoded)] }
})
process.stdout.write(JSON.stringify(results))
