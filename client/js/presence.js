// `Presence`: who is on a channel's topic, as phoenix.js's `Presence`: `new Presence(channel, opts)`, `onJoin`,
// `onLeave`, `onSync`, `list`, and the static `syncState` and `syncDiff` for state a page keeps itself.
//
// The protocol's tracker (`PresenceMachine`, `client/src/presence.rs`, through `presence-machine.js`) decides everything: how states and diffs
// merge, what joined and left, the order of keys and callbacks, which diffs wait for the next state. This class
// keeps what the server sent: each meta, and each entry with fields besides `metas`, under a number (a handle) the
// tracker carries in its place. A payload goes in as its keys, `phx_ref`s and handles; the records that come out
// name entries by handle, so callbacks and `list` get the very meta objects the server sent, in fresh entries.

import { runAll } from "./calls.js"
import { PresenceMachine } from "./presence-machine.js"

// The records' tags (`Tag` in presence.rs).
const JOIN = 0
const JOIN_NEW = 1
const LEAVE = 2
const SYNC = 3
const FREE = 4

const keysOf = (object) => (object instanceof Object ? Object.keys(object) : [])

/** An entry as the application sees it: the extra fields of the entry the server sent, if any, and `metas`. */
function entryOf(extra, metas) {
  const entry = {}
  if (extra) for (const key of keysOf(extra)) entry[key] = key === "metas" ? metas : extra[key]
  entry.metas = metas
  return entry
}

/** A tracker with the objects its handles stand for. */
class Tracker {
  constructor() {
    this._machine = new PresenceMachine()
    // Handle to object; 0 stands for none. Handles let go of are reused.
    this._objects = [undefined]
    this._spare = []
  }

  _keep(object) {
    const handle = this._spare.length ? this._spare.pop() : this._objects.length
    this._objects[handle] = object
    return handle
  }

  /** Appends a presence object (`{key: {metas: [...]}}`) as the machine reads it (`Flat` in presence.rs). */
  _put(object, text, shape) {
    const keys = keysOf(object)
    shape.push(keys.length)
    for (const key of keys) {
      const entry = object[key]
      const metas = Array.isArray(entry?.metas) ? entry.metas : []
      const extra = keysOf(entry).some((name) => name !== "metas") ? this._keep(entry) : 0
      text.push(key)
      shape.push(key.length, extra, metas.length)
      for (const meta of metas) {
        const ref = typeof meta?.phx_ref === "string" ? meta.phx_ref : ""
        text.push(ref)
        shape.push(this._keep(meta), ref.length)
      }
    }
  }

  /**
   * Hands the machine a `presence_state` payload, or a `presence_diff` one (`diff`), for the channel's `joinRef`
   * (`""` for none); queues the callbacks of `on` (`{onJoin, onLeave, onSync}`) on `calls`.
   */
  _frame(diff, joinRef, payload, on, calls) {
    const text = []
    const shape = []
    if (diff) {
      this._put(payload?.joins, text, shape)
      this._put(payload?.leaves, text, shape)
    } else {
      this._put(payload, text, shape)
    }
    const read = this._reader(this._machine._frame(diff, joinRef, text.join(""), shape))
    const { onJoin, onLeave, onSync } = on
    while (read._more()) {
      const tag = read._number()
      switch (tag) {
        case JOIN:
        case JOIN_NEW: {
          const key = read._key()
          const current = tag === JOIN ? read._entry(onJoin) : undefined
          const joined = read._entry(onJoin)
          if (onJoin) calls.push([onJoin, [key, current, joined]])
          break
        }
        case LEAVE: {
          const args = [read._key(), read._entry(onLeave), read._entry(onLeave)]
          if (onLeave) calls.push([onLeave, args])
          break
        }
        case SYNC:
          if (onSync) calls.push([onSync, []])
          break
        case FREE: {
          // After every other record: the entries above are built.
          const handle = read._number()
          this._objects[handle] = undefined
          this._spare.push(handle)
        }
      }
    }
  }

  /** The presences in the tracker's order, as `[key, entry]` pairs. */
  _entries() {
    const read = this._reader(this._machine._list())
    const entries = []
    while (read._more()) entries.push([read._key(), read._entry(true)])
    return entries
  }

  /** Reads records: numbers from `out`, keys from `names`, as the machine gave them. */
  _reader([names, out]) {
    const objects = this._objects
    let from = 0
    const read = {
      _at: 0,
      _more: () => read._at < out.length,
      _number: () => out[read._at++],
      _key: () => names.slice(from, (from += read._number())),
      // An entry, built when `build` (the callback it is for) is there.
      _entry(build) {
        const extra = read._number()
        const count = read._number()
        read._at += count
        if (!build) return
        const metas = []
        for (let at = read._at - count; at < read._at; at++) metas.push(objects[out[at]])
        return entryOf(objects[extra], metas)
      },
    }
    return read
  }
}

export class Presence {
  /** Tracks `channel`'s presence frames; `opts.events` may rename them (`{state, diff}`). */
  constructor(channel, opts) {
    const events = opts?.events
    const named = (name, otherwise) => (typeof name === "string" ? name : otherwise)
    this.channel = channel
    this._tracker = new Tracker()
    this._callbacks = {}
    this._bindings = [
      [named(events?.state, "presence_state"), false],
      [named(events?.diff, "presence_diff"), true],
    ].map(([event, diff]) => [event, channel.on(event, (payload) => this._handle(diff, payload))])
  }

  _handle(diff, payload) {
    if (!this._tracker) return
    const calls = []
    this._tracker._frame(diff, this.channel.joinRef() ?? "", payload, this._callbacks, calls)
    runAll(calls)
  }

  /** `callback(key, currentPresence, newPresence)` for every join. */
  onJoin(callback) {
    this._callbacks.onJoin = callback
  }

  /** `callback(key, currentPresence, leftPresence)` for every leave. */
  onLeave(callback) {
    this._callbacks.onLeave = callback
  }

  /** `callback()` once the state is consistent after a state or diff frame. */
  onSync(callback) {
    this._callbacks.onSync = callback
  }

  /** The presences, in phoenix.js's order: `chooser(key, presence)` for each, or the presences themselves. */
  list(chooser) {
    return this._tracker._entries().map(([key, entry]) => {
      if (!chooser) return entry
      try {
        return chooser(key, entry)
      } catch {
        return undefined
      }
    })
  }

  /** Whether diffs are being held until the next `presence_state` (after a rejoin). */
  inPendingSyncState() {
    return this._tracker._machine._pending(this.channel.joinRef() ?? "")
  }

  /** Lets go of the tracker and the channel bindings at once; the presence is unusable after. */
  free() {
    if (!this._tracker) return
    this._tracker._machine._free()
    this._tracker = null
    // Only its own bindings: `off` without a ref would remove every binding of the event.
    for (const [event, ref] of this._bindings) if (ref) this.channel.off?.(event, ref)
  }

  /** Merges `newState` into `currentState` as phoenix.js does; returns the new state. */
  static syncState(currentState, newState, onJoin, onLeave) {
    return sync(false, currentState, newState, onJoin, onLeave, {})
  }

  /** Applies `diff` to `state` in place, as phoenix.js does; returns `state`. */
  static syncDiff(state, diff, onJoin, onLeave) {
    return sync(true, state, diff, onJoin, onLeave, state instanceof Object ? state : {})
  }
}

if (Symbol.dispose) Presence.prototype[Symbol.dispose] = Presence.prototype.free

/**
 * The static functions: a tracker given `state`, then `change` (a diff, or a new state); the callbacks run, then
 * `into` is made the merged state: keys it has beyond it deleted, the others set.
 */
function sync(diff, state, change, onJoin, onLeave, into) {
  const tracker = new Tracker()
  tracker._frame(false, "-", state, {}, [])
  const calls = []
  tracker._frame(diff, "-", change, { onJoin, onLeave }, calls)
  runAll(calls)
  const entries = tracker._entries()
  tracker._machine._free()
  const kept = new Set(entries.map(([key]) => key))
  for (const key of Object.keys(into)) if (!kept.has(key)) delete into[key]
  for (const [key, entry] of entries) into[key] = entry
  return into
}
