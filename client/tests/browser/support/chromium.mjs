// Headless Chromium as the other browser suites here launch it (tests/support/chromium.mjs), with this suite's
// playwright-core.

import { chromium } from "playwright-core";
import { launchChromium as launch } from "../../../../tests/support/chromium.mjs";

/** Headless Chromium; close it with `browser.close()`. */
export function launchChromium() {
  return launch(chromium, { headless: true });
}
