import { defineConfig } from "vite"
import vue from "@vitejs/plugin-vue"
import wasm from "vite-plugin-wasm"

// The client package is a `file:` dependency, so npm links it and Vite sees its real path (client/pkg), outside
// this project: `dedupe` makes its imports (`vue`, and `@ferrocast/client` from its `/vue` entry) resolve from
// this project, to the Vue the components use and to the package itself.
//
// `npm run dev` next to a relay: the page's /socket, /sse and /api go to it ($FERROCAST_RELAY_URL, by default the
// relay `cargo xtask serve` runs).
const relay = process.env.FERROCAST_RELAY_URL || "http://127.0.0.1:4000"

export default defineConfig({
  plugins: [vue(), wasm()],
  resolve: { dedupe: ["vue", "@ferrocast/client"] },
  // The wasm module is instantiated with top-level await, which every browser that runs wasm modules supports.
  build: { target: "esnext", chunkSizeWarningLimit: 800 },
  esbuild: { target: "esnext" },
  optimizeDeps: { exclude: ["@ferrocast/client"], esbuildOptions: { target: "esnext" } },
  server: {
    proxy: {
      "/socket": { target: relay, ws: true },
      "/sse": relay,
      "/api": relay,
    },
    fs: { allow: ["..", "../../client/pkg"] },
  },
})
