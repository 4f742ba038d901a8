/**
 * The CLI's link probe (link-watch.ts): HEAD / on a fresh connection to the endpoint, over node:http(s).
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Probe } from "./link-watch.js";

/** HEAD / on a fresh connection (no keep-alive socket that may be dead): any HTTP answer is "up". */
export const headProbe: Probe = (endpoint, timeoutMs) =>
  new Promise<boolean>((resolve) => {
    let url: URL;
    try {
      url = new URL("/", endpoint);
    } catch {
      return resolve(false);
    }
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const done = (ok: boolean) => {
      clearTimeout(timer);
      req.destroy();
      resolve(ok);
    };
    const req = send(url, { method: "HEAD", agent: false }, (res) => {
      res.resume();
      done(true);
    });
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref?.();
    req.on("error", () => done(false));
    req.end();
  });
