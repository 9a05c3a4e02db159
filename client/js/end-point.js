// The URL a connection opens, as phoenix.js writes it: `params` in the query (nested objects as
// `parent[key]=value`), made absolute from the page's location when the endpoint starts with `/`. `Machine.url`
// (`machine.js`) adds what the protocol puts there, as the machine names it (the socket's id, the batch parameter,
// `vsn`).

/** Query parameters as phoenix.js serializes them. */
export function query(params, parent) {
  const parts = []
  if (params === null || typeof params !== "object") return ""
  for (const key of Object.keys(params)) {
    const name = parent ? `${parent}[${key}]` : key
    const value = params[key]
    // `typeof null` is "object" to phoenix.js, which then finds no keys in it.
    if (value === null) continue
    if (typeof value === "object") {
      const nested = query(value, name)
      if (nested) parts.push(nested)
    } else {
      parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    }
  }
  return parts.join("&")
}

/** `url` made absolute from the page's location (`ws:` or `wss:` as the page's scheme), when it starts with `/`. */
export function absolute(url) {
  if (!url.startsWith("/")) return url
  const location = globalThis.location
  const scheme = String(location?.protocol).startsWith("https") ? "wss" : "ws"
  if (url.startsWith("//")) return `${scheme}:${url}`
  return typeof location?.host === "string" ? `${scheme}://${location.host}${url}` : url
}
