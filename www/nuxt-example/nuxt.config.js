// The Ferrocast Nuxt example. The browser build of @ferrocast/client imports its `.wasm` as an ES module, which
// Vite bundles with vite-plugin-wasm; the server build resolves the package's `node` condition (the nodejs build,
// which reads the `.wasm` itself), so server rendering needs nothing extra.
//
// The relay's backend hooks are this app's Nitro routes (server/api/realtime/): the relay asks join.post.js who may
// join `app:*` topics (whoever signed in with /api/login, by the session cookie) and hands push.post.js their pushes
// to answer and broadcast. With the app built (`npm run build`) and the relay on its default port, 4000:
//
//   SECRET=$(openssl rand -hex 16)
//   ferrocast-relay --proxy-join 'app:*=http://127.0.0.1:3000/api/realtime/join' \
//     --proxy-push 'app:*=http://127.0.0.1:3000/api/realtime/push' \
//     --proxy-header Cookie --proxy-secret "$SECRET"
//   NUXT_PROXY_SECRET="$SECRET" NUXT_SESSION_SECRET=$(openssl rand -hex 16) npm start
//
// and open http://127.0.0.1:3000: the browser sends the session cookie with the socket's upgrade only to the host
// that set it (any port), so the page and NUXT_PUBLIC_RELAY_URL (127.0.0.1:4000 by default) must name the same host
// (127.0.0.1 and localhost are different hosts to cookies). In dev mode (no --jwt-secret) the relay lets loopback
// pages in; elsewhere add --allow-origin with the page's origin. Without the hook flags the rest of the page works,
// and the app:chat join fails with `unmatched topic`. www/e2e/nuxt.test.mjs runs it all this way.

import wasm from "vite-plugin-wasm"

export default defineNuxtConfig({
  compatibilityDate: "2025-07-15",
  devtools: { enabled: false },
  telemetry: false,

  runtimeConfig: {
    public: {
      // The relay's HTTP address; NUXT_PUBLIC_RELAY_URL overrides it when the built server starts.
      relayUrl: "http://127.0.0.1:4000",
    },
    // The relay's --proxy-secret (NUXT_PROXY_SECRET): the hook routes check the relay's signature when it is set.
    proxySecret: "",
    // Signs the session cookies (NUXT_SESSION_SECRET); without it, a random one per server process.
    sessionSecret: "",
  },

  app: {
    head: {
      title: "Ferrocast on Nuxt",
      meta: [{ name: "viewport", content: "width=device-width, initial-scale=1" }],
      link: [{ rel: "icon", href: "data:," }],
    },
  },

  vite: {
    plugins: [wasm()],
    // The wasm module is instantiated with a top-level await.
    build: { target: "esnext" },
    // Keep the dev server's dependency pre-bundler away from the `.wasm` import.
    optimizeDeps: { exclude: ["@ferrocast/client"] },
  },
})
