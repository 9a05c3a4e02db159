// Who is signed in, for the page: `{name}`, null when nobody is.
export default defineEventHandler((event) => ({ name: sessionUser(event) }))
