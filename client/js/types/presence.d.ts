
/** The presences of one channel, as phoenix.js's: `new Presence(channel)`, then `onJoin`, `onLeave`, `onSync` and `list`. */
export class Presence {
  /** Tracks `channel`'s presence frames; `opts.events` may rename them (`{state, diff}`). */
  constructor(channel: Channel, opts?: { events?: { state?: string; diff?: string } } | null);
  /** `callback(key, currentPresence, newPresence)` for every join; `currentPresence` is `undefined` for a new key. */
  onJoin(callback: (key: string, currentPresence: any, newPresence: any) => void): void;
  /** `callback(key, currentPresence, leftPresence)` for every leave. */
  onLeave(callback: (key: string, currentPresence: any, leftPresence: any) => void): void;
  /** `callback()` once the state is consistent after a state or diff frame. */
  onSync(callback: () => void): void;
  /** The presences, in phoenix.js's order: `chooser(key, presence)` for each, or the presences themselves. */
  list<T = any>(chooser?: ((key: string, presence: any) => T) | null): T[];
  /** Whether diffs are being held until the next `presence_state` (after a rejoin). */
  inPendingSyncState(): boolean;
  /** Lets go of the tracker and the channel bindings at once; the presence is unusable after. */
  free(): void;
  [Symbol.dispose](): void;
  /** Merges `newState` into `currentState` as phoenix.js does; returns the new state. */
  static syncState(
    currentState: any,
    newState: any,
    onJoin?: ((key: string, currentPresence: any, newPresence: any) => void) | null,
    onLeave?: ((key: string, currentPresence: any, leftPresence: any) => void) | null,
  ): Record<string, any>;
  /** Applies `diff` to `state` in place, as phoenix.js does; returns `state`. */
  static syncDiff(
    state: any,
    diff: any,
    onJoin?: ((key: string, currentPresence: any, newPresence: any) => void) | null,
    onLeave?: ((key: string, currentPresence: any, leftPresence: any) => void) | null,
  ): Record<string, any>;
}
