// The relay's push hook for `app:*` topics (relay flag --proxy-push 'app:*=<origin>/api/realtime/push'): answers a
// client's push, and tells the relay what to broadcast to everyone on the topic.
//
// - "say" {text}: replies {ok: true} and broadcasts "said" {from, text, at}.
// - anything else: an error reply.
const MAX_TEXT = 500

export default defineEventHandler(async (event) => {
  await verifyRelaySignature(event)
  const push = await readBody(event)
  const name = sessionUser(event)
  if (!name) {
    return { error: { code: 403, message: "sign in first" } }
  }
  switch (push.event) {
    case "say": {
      const text = typeof push.payload?.text === "string" ? push.payload.text.trim() : ""
      if (!text) return { error: { code: 422, message: "say something" } }
      if (text.length > MAX_TEXT) return { error: { code: 422, message: `at most ${MAX_TEXT} characters` } }
      const said = { from: name, text, at: Date.now() }
      return { result: { reply: { ok: true }, broadcast: { event: "said", payload: said } } }
    }
    default:
      return { error: { code: 404, message: `unknown event ${JSON.stringify(push.event)}` } }
  }
})
