// Small helpers the panels share.

/** "12 ms", "1.4 s", or a dash for nothing. */
export function formatMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—"
  if (ms < 1000) return `${Math.round(ms)} ms`
  return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`
}

/** The time of day of a Unix-milliseconds timestamp, to the second. */
export function clock(at) {
  if (!at) return ""
  return new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
}

/** A run id short enough for a list. */
export function shortId(id) {
  return typeof id === "string" && id.length > 10 ? `${id.slice(0, 8)}…` : (id ?? "")
}

/** A stable hue for a name, for avatars. */
export function hueOf(name) {
  let hash = 0
  for (const ch of String(name)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0
  return hash % 360
}

/** GET a JSON document; `null` for 404 (a topic or run the relay does not know). */
export async function getJson(url) {
  const response = await fetch(url, { headers: { accept: "application/json" } })
  if (response.status === 404) return null
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`)
  return response.json()
}

/** The broadcasts a topic's history keeps (`[]` when it keeps none, as after a relay restart). */
export async function fetchHistory(topic) {
  const history = await getJson(`/api/history/${encodeURIComponent(topic)}`)
  return history ? history.messages.filter((message) => message.payload !== undefined) : []
}

const NAMES = ["ada", "grace", "alan", "edsger", "barbara", "ken", "margaret", "linus", "radia", "donald", "frances"]

/** A random user name for this page, such as `grace-417`. */
export function randomUserName() {
  const name = NAMES[Math.floor(Math.random() * NAMES.length)]
  return `${name}-${100 + Math.floor(Math.random() * 900)}`
}

/** A random id for a chat message, so one seen live and again in the history shows once. */
export function randomId() {
  return Math.random().toString(36).slice(2, 10) + Date.now().toString(36)
}

/**
 * The items of a capped list (oldest dropped from the front, newest pushed at the end) that came after `marker`,
 * an item of an earlier look at it; all of them for no marker or one that has since been dropped.
 */
export function itemsAfter(list, marker) {
  if (!marker) return list
  const at = list.lastIndexOf(marker)
  return at === -1 ? list : list.slice(at + 1)
}
