
/** The presences of one channel, as phoenix.js's: `new Presence(channel)`, then `onJoin`, `onLeave`, `onSync` and `list`. */
export class Presence {
  /**
   * Tracks `channel`'s presence frames; make it before `channel.join()`.
   * @param channel The channel whose presences it keeps.
   * @param opts `events` renames the frames it reads (`{state: "presence_state", diff: "presence_diff"}` by default).
   */
  constructor(channel: Channel, opts?: { events?: { state?: string; diff?: string } } | null);
  /**
   * Listens for joins.
   * @param callback Called as `callback(key, currentPresence, newPresence)` for every join; `currentPresence` is
   * `undefined` for a key that was not present.
   */
  onJoin(callback: (key: string, currentPresence: any, newPresence: any) => void): void;
  /**
   * Listens for leaves.
   * @param callback Called as `callback(key, currentPresence, leftPresence)` for every leave.
   */
  onLeave(callback: (key: string, currentPresence: any, leftPresence: any) => void): void;
  /**
   * Listens for the presences being consistent again, after a state or a diff frame.
   * @param callback Called with no arguments.
   */
  onSync(callback: () => void): void;
  /**
   * The presences, in phoenix.js's order.
   * @param chooser Called as `chooser(key, presence)` for each; without it, the presences themselves are listed.
   * @returns What `chooser` returned for each presence, or the presences.
   */
  list<T = any>(chooser?: ((key: string, presence: any) => T) | null): T[];
  /**
   * Whether diffs are being held until the next `presence_state` (after a rejoin).
   * @returns `true` while they are.
   */
  inPendingSyncState(): boolean;
  /** Lets go of the tracker and the channel bindings at once; the presence is unusable after. */
  free(): void;
  /** `free()`, for `using presence = new Presence(channel)`. */
  [Symbol.dispose](): void;
  /**
   * Merges a `presence_state` into a state, as phoenix.js's `Presence.syncState`.
   * @param currentState The state so far (`{}` at first).
   * @param newState The `presence_state` payload.
   * @param onJoin Called as `onJoin(key, currentPresence, newPresence)` for every join.
   * @param onLeave Called as `onLeave(key, currentPresence, leftPresence)` for every leave.
   * @returns The new state.
   */
  static syncState(
    currentState: any,
    newState: any,
    onJoin?: ((key: string, currentPresence: any, newPresence: any) => void) | null,
    onLeave?: ((key: string, currentPresence: any, leftPresence: any) => void) | null,
  ): Record<string, any>;
  /**
   * Applies a `presence_diff` to a state in place, as phoenix.js's `Presence.syncDiff`.
   * @param state The state, changed in place.
   * @param diff The `presence_diff` payload (`{joins, leaves}`).
   * @param onJoin Called as `onJoin(key, currentPresence, newPresence)` for every join.
   * @param onLeave Called as `onLeave(key, currentPresence, leftPresence)` for every leave.
   * @returns `state`.
   */
  static syncDiff(
    state: any,
    diff: any,
    onJoin?: ((key: string, currentPresence: any, newPresence: any) => void) | null,
    onLeave?: ((key: string, currentPresence: any, leftPresence: any) => void) | null,
  ): Record<string, any>;
}
