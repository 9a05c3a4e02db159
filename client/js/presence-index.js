// `@ferrocast/client/presence`: `Presence` alone, for a page on `@ferrocast/client/core` that tracks who is on a
// topic. It takes any channel object, so the core's channels work with it; the full entry exports it too.

export { Presence } from "./presence.js"
