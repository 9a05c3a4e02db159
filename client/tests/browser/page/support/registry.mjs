// The tests, in the order their files register them: `test(name, body)` or `test(name, {needs}, body)` at the top
// level of a file under tests/, as node:test reads, where `needs` names a feature of support/client.mjs that the
// test cannot run without.

const tests = [];

export function test(name, options, body) {
  if (typeof options === "function") [options, body] = [{}, options];
  if (tests.some((existing) => existing.name === name)) throw new Error(`two tests are named "${name}"`);
  tests.push({ name, needs: options.needs ?? null, body });
}

export function registered() {
  return tests;
}
