// Signs the user out: clears the session cookie.
export default defineEventHandler((event) => {
  endSession(event)
  return { name: null }
})
