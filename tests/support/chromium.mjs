// Headless Chromium as every browser suite here launches it (client/tests/browser, www/e2e, benches/browser):
// Debian's build (or $CHROMIUM_BIN), driven by the suite's own playwright-core, which downloads no browser, with
// flags that work as root in a container and keep the browser from reaching the network by itself.

import { existsSync } from "node:fs";

export const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** That browser, launched by `chromium` (playwright-core's, from the caller's project); `options` add to it. */
export function launchChromium(chromium, options = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's \`chromium\` (or set CHROMIUM_BIN)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, ...options });
}
