// The values each connection attempt opens with: the `params` and `authToken` options, given as values or as
// functions, which may be async.
//
// The functions are called on every attempt, so a token that expires is fetched afresh for the reconnect. When
// either returns a promise the attempt waits for both; the caller is told later and decides then whether the
// attempt still matters. A function that throws, a promise that rejects and a value of the wrong type all fail
// the attempt with an error for `onError`, as a refused connection does.

/**
 * Evaluates the options for one attempt: returns `{params, token}` or `{error}` at once when neither gave a
 * promise; otherwise returns undefined and calls `later` with the outcome once both have settled.
 */
export function gather(params, authToken, later) {
  let values
  try {
    values = [valueOf(params), valueOf(authToken)]
  } catch (thrown) {
    return { error: thrown }
  }
  if (!values.some(isThenable)) return usable(values)
  Promise.all(values).then(
    (settled) => later(usable(settled)),
    (reason) => later({ error: reason }),
  )
}

/** The option's value, or what its function returns. */
export function valueOf(option) {
  return typeof option === "function" ? option() : option
}

function isThenable(value) {
  return value !== null && typeof value === "object" && typeof value.then === "function"
}

/** Checks the settled values: `params` an object, `authToken` a string; `undefined` or `null` means none. */
function usable([params, token]) {
  const none = (value) => value === undefined || value === null
  if (!(none(params) || typeof params === "object")) {
    return { error: new Error("Socket option `params` must give an object (or nothing)") }
  }
  if (!(none(token) || typeof token === "string")) {
    return { error: new Error("Socket option `authToken` must give a string (or nothing)") }
  }
  return { params: params ?? undefined, token: token ?? undefined }
}
