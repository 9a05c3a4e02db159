// Assertions for the page, where node:assert does not exist. Values are compared as JSON, which is exact for what
// the tests compare (strings, numbers, arrays and plain objects of them).

// A failure message quotes both values; a 2,000-number array is cut short rather than printed whole.
const QUOTED_LENGTH = 1_000;

export function ok(value, message = "expected a true value") {
  if (!value) throw new Error(message);
}

export function equal(actual, expected, message) {
  if (!isEqual(actual, expected)) throw new Error(mismatch("not equal", actual, expected, message));
}

export function notEqual(actual, unexpected, message) {
  if (isEqual(actual, unexpected)) throw new Error(mismatch("equal", actual, unexpected, message));
}

/** Whether two plain values are the same. */
export function isEqual(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The error `action` throws; fails when it throws nothing. */
export function throws(action, what) {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error(`${what}: expected an error, none was thrown`);
}

function mismatch(how, actual, expected, message) {
  const heading = message ? `${message}: ${how}` : how;
  return `${heading}\n  actual:   ${quote(actual)}\n  expected: ${quote(expected)}`;
}

function quote(value) {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > QUOTED_LENGTH ? `${text.slice(0, QUOTED_LENGTH)}… (${text.length} characters)` : text;
}
