/** AWS Lambda entry point (API Gateway HTTP API, payload v2): the same app, built once per container. */
import { handle } from "hono/aws-lambda";
import { loadConfig } from "./config.js";
import { createCoordinator } from "./coordinator.js";
import { createLogger } from "./logger.js";

const config = loadConfig(process.env);
const { app } = createCoordinator(
  config,
  createLogger((line) => process.stdout.write(`${line}\n`), {}, config.logLevel),
);

export const handler = handle(app);
