// What the runner tells the page in its query string: the client module to import, the relay's WebSocket endpoint
// (directly and through the cutting proxy) and the proxy's control endpoint.

const query = new URLSearchParams(location.search);

function given(name) {
  const value = query.get(name);
  if (!value) throw new Error(`the page was opened without ?${name}=: open it through browser.test.mjs`);
  return value;
}

/** The client's ES modules, as a page imports them: `/<entry>/<module>`, the core's first. */
export const moduleUrls = given("module").split(",");

/** The relay's WebSocket endpoint, directly (`ws://127.0.0.1:PORT/socket`). */
export const relay = given("relay");

/** The relay's WebSocket endpoint through the cutting proxy. */
export const proxied = given("proxied");

/** The proxy's control endpoint (client/tests/support/cut-proxy.mjs lists its commands). */
export const control = given("control");
