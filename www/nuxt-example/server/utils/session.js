// The example's sign-in: a `session` cookie naming the user, signed (HMAC-SHA256) so a browser cannot make one up,
// with an expiry inside. /api/login sets it, /api/logout clears it, and the relay's hooks read it: the relay passes
// the Cookie header the socket was opened with on to every hook call (--proxy-header Cookie).
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"

const COOKIE = "session"
const MAX_AGE_S = 7 * 24 * 3600
// Without NUXT_SESSION_SECRET, a secret of this process: sessions then end when the server restarts.
const PROCESS_SECRET = randomBytes(32).toString("hex")

const mac = (event, value) =>
  createHmac("sha256", useRuntimeConfig(event).sessionSecret || PROCESS_SECRET).update(value).digest("base64url")

/** Signs `name` in: sets the session cookie. */
export function startSession(event, name) {
  const exp = Math.floor(Date.now() / 1000) + MAX_AGE_S
  const value = Buffer.from(JSON.stringify({ name, exp })).toString("base64url")
  setCookie(event, COOKIE, `${value}.${mac(event, value)}`, {
    httpOnly: true,
    sameSite: "lax",
    path: "/",
    maxAge: MAX_AGE_S,
  })
}

/** Signs out: clears the session cookie. */
export function endSession(event) {
  deleteCookie(event, COOKIE, { path: "/" })
}

/** The signed-in user's name, from the request's session cookie; null without a valid, unexpired one. */
export function sessionUser(event) {
  const [value, given] = (getCookie(event, COOKIE) ?? "").split(".")
  if (!value || !given) return null
  const expected = Buffer.from(mac(event, value))
  if (Buffer.byteLength(given) !== expected.length || !timingSafeEqual(Buffer.from(given), expected)) return null
  try {
    const { name, exp } = JSON.parse(Buffer.from(value, "base64url").toString("utf8"))
    return typeof name === "string" && exp > Date.now() / 1000 ? name : null
  } catch {
    return null
  }
}
