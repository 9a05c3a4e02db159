// Where an entry that has the relay's event-stream socket makes it known to sockets: the full entry, or
// `@ferrocast/client/sse` beside the core. That one is a bundle of its own, with the core's `Socket` in another, so
// the registration is kept where both bundles see it, under a key of the package's own.

const KEY = Symbol.for("@ferrocast/client: the event-stream socket")

/**
 * Lets sockets made from now on fall back to (or be told to use) the relay's event-stream socket: `open(url,
 * authToken)` opens one, and `TransportChoice` is the protocol's rule for when to.
 */
export function useEventStreamSocket(open, transportChoice) {
  globalThis[KEY] = { open, TransportChoice: transportChoice }
}

/** What `useEventStreamSocket` registered, or null. */
export function eventStreamSocket() {
  return globalThis[KEY] ?? null
}
