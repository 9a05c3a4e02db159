// Checks that a hook call comes from the relay: with a proxy secret (runtimeConfig.proxySecret, NUXT_PROXY_SECRET,
// the same as the relay's --proxy-secret), the relay signs each call `x-ferrocast-signature: t=<unix s>,v1=<hex
// HMAC-SHA256(secret, "<t>.<raw body>")>`; a call without a valid, recent signature is answered 401.
import { createHmac, timingSafeEqual } from "node:crypto"

const MAX_SKEW_S = 300

export async function verifyRelaySignature(event) {
  const secret = useRuntimeConfig(event).proxySecret
  if (!secret) return
  const raw = (await readRawBody(event, false)) ?? Buffer.alloc(0)
  const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(getHeader(event, "x-ferrocast-signature") ?? "") ?? []
  const fresh = t && Math.abs(Date.now() / 1000 - Number(t)) <= MAX_SKEW_S
  const expected = fresh && createHmac("sha256", secret).update(`${t}.`).update(raw).digest()
  if (!fresh || !timingSafeEqual(expected, Buffer.from(v1, "hex"))) {
    throw createError({ statusCode: 401, statusMessage: "not signed by the relay" })
  }
}
