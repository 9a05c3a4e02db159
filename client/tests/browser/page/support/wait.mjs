// Waiting in the page: a sleep, and polls that either give up with an error or say whether they succeeded.

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `condition` every 10 ms, 1,500 times (15 s and more), and fails naming `what` (a text, or a function
 * giving one, so it can say what was seen by then) if it never came true.
 */
export async function until(what, condition) {
  for (let poll = 0; poll < 1_500; poll++) {
    if (condition()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${typeof what === "function" ? what() : what}`);
}

/** Polls `condition` every 10 ms for up to `seconds`; says whether it came true. */
export async function eventually(seconds, condition) {
  for (let poll = 0; poll < seconds * 100; poll++) {
    if (condition()) return true;
    await sleep(10);
  }
  return false;
}
