// A log of what callbacks saw, as text: the tests wait for entries and compare them as written.

import { until } from "./wait.mjs";

export class Seen {
  #entries = [];

  /**
   * A callback that records `label` and its first two arguments, those given, as text (`describe`): `joined {}`,
   * `msg {"n":1} null`, `join "u1"`. Later arguments are left out, so an entry does not change with them.
   */
  recorder(label) {
    return (first, second) => {
      const given = [first, second].filter((value) => value !== undefined);
      this.#entries.push([label, ...given.map(describe)].join(" "));
    };
  }

  /** Records an entry directly, for callbacks made by hand. */
  push(entry) {
    this.#entries.push(entry);
  }

  all() {
    return [...this.#entries];
  }

  /** How many entries are under `label`. */
  count(label) {
    return this.#entries.filter((entry) => entry === label || entry.startsWith(`${label} `)).length;
  }

  has(entry) {
    return this.#entries.includes(entry);
  }

  /** The entries under `label`, without the label. */
  labelled(label) {
    const prefix = `${label} `;
    return this.#entries.filter((entry) => entry.startsWith(prefix)).map((entry) => entry.slice(prefix.length));
  }

  /** Waits until `entry` has been seen. */
  async waitFor(entry) {
    await until(() => `${JSON.stringify(entry)} in ${JSON.stringify(this.all())}`, () => this.has(entry));
  }

  /** Waits until at least `n` entries are under `label`. */
  async waitCount(label, n) {
    const what = () => `${n} × ${JSON.stringify(label)} in ${JSON.stringify(this.all())}`;
    await until(what, () => this.count(label) >= n);
  }
}

/** JSON for plain values, `bytes:[0, 1, 2, 255]` for an ArrayBuffer, `?` for what JSON cannot write. */
export function describe(value) {
  if (value instanceof ArrayBuffer) return `bytes:[${[...new Uint8Array(value)].join(", ")}]`;
  try {
    return JSON.stringify(value) ?? "?";
  } catch {
    return "?";
  }
}
