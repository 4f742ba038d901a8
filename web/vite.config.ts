/**
 * Builds the dashboard: `npm run build:web` → web/dist (index.html + hashed assets, everything bundled,
 * no CDN). VITE_SFTS_API_URL, when set at build time, is the API's address; unset, the page calls its own origin.
 */
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  // Relative asset URLs: the same build works at / on the local stack and under any path of a static host.
  base: "./",
  envPrefix: "VITE_",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    cssTarget: "chrome123",
    reportCompressedSize: true,
    // Every browser that runs this page supports modulepreload.
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
