// Signs a user in by name (no password: it is an example): sets the session cookie the relay's hooks read.
const NAME = /^[\p{L}\p{N} _.-]{1,24}$/u

export default defineEventHandler(async (event) => {
  const name = String((await readBody(event))?.name ?? "").trim()
  if (!NAME.test(name)) {
    throw createError({ statusCode: 422, statusMessage: "a name is 1 to 24 letters, digits, spaces, _ . or -" })
  }
  startSession(event, name)
  return { name }
})
