/**
 * A coordinator call on a keep-alive connection that went dead (a link drop: no answer, no reset) is
 * aborted at its route's learnt deadline and retried on a fresh connection, not left for the 60 s timeout.
 * A plain TCP server stands in for a link that swallows one request.
 */
import { createServer, type Socket } from "node:net";
import { afterEach, expect, it } from "vitest";
import { ApiClient } from "../../cli/engine/api-client.js";
import { CallDeadlines } from "../../cli/engine/call-deadline.js";

const sockets: Socket[] = [];
const server = createServer();
afterEach(() => {
  for (const s of sockets) s.destroy();
  server.close();
});

it("a call not answered within its learnt deadline is retried on a new connection", async () => {
  let requests = 0;
  let swallow = false;
  server.on("connection", (socket) => {
    sockets.push(socket);
    socket.on("data", () => {
      requests++;
      if (swallow) {
        swallow = false; // this connection is "dead" from now on: never answered
        return;
      }
      const body = JSON.stringify({ items: [], nextCursor: null });
      socket.write(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: keep-alive\r\n\r\n${body}`,
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const deadlines = new CallDeadlines({ capMs: 60_000, floorMs: 300 });
  const api = new ApiClient({
    server: `http://127.0.0.1:${port}`,
    token: "t",
    timeoutMs: 60_000,
    retry: { maxRetries: 3, baseMs: 10, capMs: 20 },
    deadlines,
  });
  await api.listFiles({ limit: 1 }); // learns the route: answered at once
  const connectionsBefore = sockets.length;
  swallow = true;
  const started = performance.now();
  await expect(api.listFiles({ limit: 1 })).resolves.toEqual({ items: [], nextCursor: null });
  const took = performance.now() - started;
  expect(took).toBeLessThan(5_000); // the deadline (300 ms floor), not the 60 s timeout
  expect(took).toBeGreaterThanOrEqual(250);
  expect(requests).toBe(3);
  // The dead connection was not reused: the retry opened a new one.
  expect(sockets.length).toBeGreaterThan(connectionsBefore);
}, 20_000);
