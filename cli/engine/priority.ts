/**
 * How priorities share what files compete for (connection slots, bandwidth): weights high 4, normal 2,
 * low 1. Pure, shared by the CLI and the dashboard's uploader.
 */
export const PRIORITY_WEIGHT = { high: 4, normal: 2, low: 1 } as const;
