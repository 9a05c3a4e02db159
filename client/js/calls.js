// Calling the application's callbacks: an exception one throws is reported on the console and does not stop the
// socket, as phoenix.js's callbacks cannot stop it either.

export function call(callback, args) {
  try {
    callback(...args)
  } catch (error) {
    console.error("ferrocast: a callback threw", error)
  }
}

/** Runs callbacks queued as `[callback, args]`, in order. */
export function runAll(calls) {
  for (const [callback, args] of calls) call(callback, args)
}
