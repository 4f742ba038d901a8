/** Reading activity for the dashboard: throughput over time, a transfer's timeline, recent failures. */
import type { EventsResponse, SeriesPoint, SeriesResponse } from "../contract/monitor.js";
import { type ActivityLog, minuteOf } from "./activity.js";
import { AppError } from "./errors.js";
import type { Clock, TransferRepo } from "./ports.js";

export class MonitorService {
  private readonly clock: Clock;

  constructor(
    private readonly activity: ActivityLog,
    private readonly repo: TransferRepo,
    clock?: Clock,
  ) {
    this.clock = clock ?? { now: () => new Date() };
  }

  /** One point per minute (empty minutes as zeros), oldest first, ending with the current minute. */
  async series(minutes: number): Promise<SeriesResponse> {
    const now = this.clock.now().getTime();
    const keys = Array.from({ length: minutes }, (_, i) =>
      minuteOf(new Date(now - (minutes - 1 - i) * 60_000)),
    );
    const stored = await this.activity.series(keys[0] as string, keys[keys.length - 1] as string);
    const byMinute = new Map(stored.map((p) => [p.minute.slice(0, 16), p]));
    const points: SeriesPoint[] = keys.map(
      (k) => byMinute.get(k) ?? { minute: `${k}:00.000Z`, bytes: 0, parts: 0, completed: 0, failed: 0 },
    );
    const lastFull = points.length >= 2 ? (points[points.length - 2] as SeriesPoint) : undefined;
    return {
      from: points[0]?.minute ?? "",
      to: points[points.length - 1]?.minute ?? "",
      points,
      throughputBps: lastFull ? lastFull.bytes / 60 : 0,
    };
  }

  async timeline(transferId: string): Promise<EventsResponse> {
    if (!(await this.repo.getTransfer(transferId)))
      throw new AppError("NOT_FOUND", `No transfer ${transferId}.`);
    return { items: await this.activity.timeline(transferId) };
  }

  async errors(limit: number): Promise<EventsResponse> {
    return { items: await this.activity.recentErrors(limit) };
  }
}
