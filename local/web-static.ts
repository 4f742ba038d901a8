/**
 * Serves the built dashboard (web/dist) from the API's own port, in front of the API app: `/` is the
 * dashboard's index.html and its built files are served as they are; everything else — and every API
 * path, even one that names a file in web/dist — goes to the API. web/dist is looked up on each request,
 * so `npm run build:web` while the stack runs takes effect without a restart.
 */
import { readFile, stat } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";

/** Paths the API answers; the dashboard never shadows them. */
const API_PREFIXES = ["/upload/", "/assemble/", "/download/", "/api/", "/s/"];
const API_PATHS = new Set(["/health", "/openapi.json", "/upload", "/assemble", "/download", "/api", "/s"]);

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

export const isApiPath = (path: string): boolean =>
  API_PATHS.has(path) || API_PREFIXES.some((p) => path.startsWith(p));

const NOT_BUILT =
  "The SFTS dashboard is not built yet: run `npm run build:web` (or `npm start`, which builds it) and reload.\n";

/** Where `npm run build:web` writes the dashboard: web/dist under the repository root. */
export function defaultWebDir(fromDir: string): string {
  // local/ when run from the sources (tests), dist/local/ when compiled (npm start).
  const root = fromDir.split(sep).at(-2) === "dist" ? resolve(fromDir, "..", "..") : resolve(fromDir, "..");
  return join(root, "web", "dist");
}

async function fileIn(dir: string, path: string): Promise<string | undefined> {
  let rel: string;
  try {
    rel = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (rel.includes("\0")) return undefined;
  const file = resolve(dir, `.${rel}`);
  if (!file.startsWith(dir + sep)) return undefined;
  const s = await stat(file).catch(() => undefined);
  return s?.isFile() ? file : undefined;
}

/** Wraps the API's fetch handler with the dashboard's static files. */
export function withDashboard(
  apiFetch: (req: Request) => Response | Promise<Response>,
  webDir: string,
): (req: Request) => Promise<Response> {
  const dir = resolve(webDir);
  return async (req) => {
    const { pathname } = new URL(req.url);
    if ((req.method !== "GET" && req.method !== "HEAD") || isApiPath(pathname)) return apiFetch(req);
    const isIndex = pathname === "/" || pathname === "/index.html";
    const file = await fileIn(dir, isIndex ? "/index.html" : pathname);
    if (!file) {
      if (!isIndex) return apiFetch(req);
      return new Response(NOT_BUILT, {
        status: 503,
        headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
      });
    }
    const body = await readFile(file);
    const headers: Record<string, string> = {
      "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream",
      "content-length": String(body.length),
      "x-content-type-options": "nosniff",
      // Vite puts a content hash in every name under assets/; index.html must be fetched fresh.
      "cache-control": pathname.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
    };
    if (isIndex) headers["referrer-policy"] = "no-referrer";
    return new Response(req.method === "HEAD" ? null : body, { status: 200, headers });
  };
}
