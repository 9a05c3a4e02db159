// Vue's `ref()` and `reactive()` wrap an object in a proxy, and a method called through it runs with the proxy as
// `this`, where a private field (`#machine`) cannot be read. Vue leaves alone an object marked as its own `markRaw`
// marks one; the classes that keep their state in private fields mark themselves, so a page may keep them in a
// ref, as it keeps a phoenix.js socket.

/** Marks `object` for Vue never to wrap in a reactive proxy. */
export function keepRaw(object) {
  Object.defineProperty(object, "__v_skip", { value: true })
}
