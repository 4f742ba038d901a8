/** What the dashboard reads besides files and stats: throughput over time, each transfer's timeline, recent errors. */
import { z } from "zod";

export const SeriesPoint = z.object({
  minute: z.string().meta({ description: "Start of the minute (UTC, ISO 8601)" }),
  bytes: z.number().int().meta({ description: "Bytes of parts recorded in that minute" }),
  parts: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
});
export type SeriesPoint = z.infer<typeof SeriesPoint>;

export const SeriesQuery = z
  .object({ minutes: z.coerce.number().int().min(1).max(1440).default(60) })
  .strict();

export const SeriesResponse = z
  .object({
    from: z.string(),
    to: z.string(),
    points: z.array(SeriesPoint),
    throughputBps: z.number().meta({ description: "Bytes per second over the last full minute" }),
  })
  .meta({ id: "SeriesResponse" });
export type SeriesResponse = z.infer<typeof SeriesResponse>;

export const EVENT_KINDS = [
  "created",
  "deduplicated",
  "part-rejected",
  "client-error",
  "assembled",
  "checksum-mismatch",
  "upload-gone",
  "aborted",
  "failed",
] as const;

export const TransferEvent = z
  .object({
    at: z.string(),
    transferId: z.string(),
    kind: z.enum(EVENT_KINDS),
    message: z.string(),
    code: z.string().optional(),
    partNumber: z.number().int().optional(),
    name: z.string().optional(),
  })
  .meta({ id: "TransferEvent" });
export type TransferEvent = z.infer<typeof TransferEvent>;

export const EventsResponse = z.object({ items: z.array(TransferEvent) }).meta({ id: "EventsResponse" });
export type EventsResponse = z.infer<typeof EventsResponse>;

export const ErrorsQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }).strict();
