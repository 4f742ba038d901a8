/** API Gateway HTTP API (payload format 2.0) events, as API Gateway would build them for a request. */
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";

export function httpApiEvent(
  method: string,
  pathWithQuery: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): APIGatewayProxyEventV2 {
  const [rawPath = "/", rawQueryString = ""] = pathWithQuery.split("?");
  const headers: Record<string, string> = {
    host: "abc123.execute-api.eu-west-1.amazonaws.com",
    ...opts.headers,
  };
  const query = new URLSearchParams(rawQueryString);
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      domainName: headers.host as string,
      domainPrefix: "abc123",
      http: { method, path: rawPath, protocol: "HTTP/1.1", sourceIp: "203.0.113.7", userAgent: "test" },
      requestId: `req-${Math.random().toString(36).slice(2)}`,
      routeKey: "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    isBase64Encoded: false,
  };
  if (rawQueryString) event.queryStringParameters = Object.fromEntries(query.entries());
  if (opts.body !== undefined) event.body = opts.body;
  return event;
}

export const lambdaContext = {
  functionName: "sfts-api",
  awsRequestId: "test",
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;
