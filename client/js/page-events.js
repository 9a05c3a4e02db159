// Page events: check the connection when the page comes back, and close it while the page is hidden in the
// back/forward cache.
//
// - `visibilitychange` to visible and `online`: probe at once. A connection that died while the tab slept is found
//   within the probe timeout instead of the heartbeat interval, and a socket waiting out its backoff reconnects
//   now.
// - `pagehide`: close cleanly (1000), so the server drops the channels and presences now rather than at a
//   timeout, and the page stays eligible for the back/forward cache; `pageshow` reconnects and rejoins.
//
// Listeners are added on the first connection, only where the host has a `document` (not in Node or a worker).
// They hold the socket weakly, so a socket the application lets go of is not kept alive by the page.

export function listenToPage(socket) {
  const document = globalThis.document
  if (typeof document !== "object" || typeof globalThis.addEventListener !== "function") return
  const held = new WeakRef(socket)
  const on = (target, event, act) =>
    target.addEventListener(event, () => {
      const socket = held.deref()
      if (socket) act(socket)
    })
  on(document, "visibilitychange", (socket) => document.visibilityState === "visible" && socket._probe())
  on(globalThis, "online", (socket) => socket._probe())
  on(globalThis, "pagehide", (socket) => socket._suspend())
  on(globalThis, "pageshow", (socket) => socket._resume())
}
