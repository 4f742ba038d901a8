import { it } from "vitest";
import { Bandwidth } from "../../cli/engine/bandwidth.js";
import { ConcurrencyController } from "../../cli/engine/concurrency.js";
import { splitGap } from "../../cli/engine/planner.js";
import { parseRetryAfter } from "../../cli/engine/retry.js";
import { formatBytes, parseRate, parseSize } from "../../cli/engine/units.js";

const MiB = 2 ** 20,
  GiB = 2 ** 30;
it("x", () => {
  for (const s of [
    "500kbps",
    "2Mbit/s",
    "8Mbps",
    "0Mbit/s",
    "0bps",
    "1M",
    "10MB/s",
    "8MiB/s",
    "100kb/s",
    "1Mb",
  ]) {
    try {
      console.log(s, parseRate(s));
    } catch (e) {
      console.log(s, "ERR", (e as Error).message);
    }
  }
  for (const s of ["1.5MiB", "512k", "5iB", "1.5", "99999999TiB", "8 MiB", " 8mib "]) {
    try {
      console.log(s, parseSize(s));
    } catch (e) {
      console.log(s, "ERR", (e as Error).message);
    }
  }
  console.log(formatBytes(1048575), formatBytes(2 ** 53));
  console.log(
    splitGap({ offset: 0, size: 15 * GiB - 1, firstPart: 1, lastPart: 3 }, 20 * GiB, 8 * MiB).map((p) => [
      p.partNumber,
      p.size,
      p.size - 5 * GiB,
    ]),
  );
  console.log(
    splitGap({ offset: 0, size: 7.5 * MiB, firstPart: 1, lastPart: 5 }, 7.5 * MiB, 5 * MiB).map((p) => [
      p.partNumber,
      p.size / MiB,
    ]),
  );
  for (const s of ["soon", "-5", "1.5", "12abc", "Wed, 21 Oct 2015 07:28:00 GMT", "0"])
    console.log(s, parseRetryAfter(s, Date.parse("Wed, 21 Oct 2015 07:27:00 GMT")));
  let t = 0;
  const c = new ConcurrencyController({ max: 16, initial: 8, now: () => t });
  c.onFailure();
  console.log(c.limit);
  t += 10;
  c.onSuccess(MiB);
  c.onFailure();
  console.log(c.limit);
  t += 10;
  c.onSuccess(MiB);
  c.onFailure();
  console.log(c.limit);
});
