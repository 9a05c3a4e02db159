// The relay's join hook for `app:*` topics (relay flag --proxy-join 'app:*=<origin>/api/realtime/join'): a signed-in
// user may join, and is in the topic's presence under their name; anyone else is refused. The relay forwards the
// socket's Cookie header (--proxy-header Cookie), so the session is the one the socket was opened with.
export default defineEventHandler(async (event) => {
  await verifyRelaySignature(event)
  const { topic } = await readBody(event)
  const name = sessionUser(event)
  if (!name) {
    return { error: { code: 403, message: "sign in first" } }
  }
  // `data` is the join's reply; `presence` the meta the relay tracks this member with.
  return { result: { data: { topic, welcome: `welcome to ${topic}, ${name}` }, presence: { name } } }
})
