// The Ferrocast Nuxt example. The browser build of @ferrocast/client imports its `.wasm` as an ES module, which
// Vite bundles with vite-plugin-wasm; the server build resolves the package's `node` condition (the nodejs build,
// which reads the `.wasm` itself), so server rendering needs nothing extra.
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
