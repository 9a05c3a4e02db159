// The build of the client under test, loaded as a page loads it: `import init, * as client from "/<entry>/<module>"`
// then `await init()`; for the core with entries beside it, each imported and initialized so. Imported
// dynamically only because the runner picks the entries.

import { moduleUrls } from "./endpoints.mjs";

const modules = await Promise.all(moduleUrls.map((url) => import(url)));
for (const loaded of modules) await loaded.default();
const module = Object.assign({}, ...modules);

/** The module's exports: Socket, Channel and Push in every build; Presence, EventStream and SseSocket in some. */
export const client = module;

/**
 * What this build offers beyond sockets and channels, judged by what it exports rather than by the entry's name.
 * Server-sent events count as there when either of their classes is: a build that has one and fails the tests is
 * worth hearing about, not skipping.
 */
export const features = {
  presence: "Presence" in module,
  sse: "SseSocket" in module || "EventStream" in module,
};
