// Watches the browser globals a careless client might reach for under Node (server-side rendering has none of
// them): each read is recorded, and reads as `undefined`, as it would there.

const GLOBALS = ["window", "document", "WebSocket", "location", "navigator"];

/** Starts watching; returns the list the names read from now on are pushed to. */
export function watchBrowserGlobals() {
  const touched = [];
  for (const name of GLOBALS) {
    Object.defineProperty(globalThis, name, {
      configurable: true,
      get() {
        touched.push(name);
        return undefined;
      },
    });
  }
  return touched;
}
