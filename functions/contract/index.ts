export * from "./batches.js";
export * from "./errors.js";
export * from "./limits.js";
export * from "./schemas.js";
export * from "./storage.js";
