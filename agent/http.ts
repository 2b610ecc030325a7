/**
 * The agent's HTTP endpoints, for the pod's probes and for people: `GET /healthz` (200 while the
 * loop runs and PostgreSQL is not crashed), `GET /readyz` (200 iff the last report is ready),
 * `GET /status` (the last report as JSON; 503 before the first).
 *
 * @module
 */

import type { InstanceReport } from "../core/agent/types.ts";
export type * from "../core/agent/types.ts";
export type * from "../core/agent/timeline.ts";

/** What the endpoints read. */
export interface AgentHealth {
  /** The last report, if any. */
  report(): InstanceReport | undefined;
  /** Whether the loop runs and has ended a round recently. */
  loopAlive(): boolean;
}

/** Options of {@link serveAgentHttp}. */
export interface AgentHttpOptions {
  /** The port. @default 8008 */
  port?: number;
  /** The address to listen on. @default "0.0.0.0" */
  hostname?: string;
}

/** A running server. */
export interface AgentHttpServer {
  /** The port it listens on. */
  port: number;
  /** Stops it. */
  shutdown(): Promise<void>;
}

/** Answers one request (exported for tests without a socket). */
export function handleAgentRequest(request: Request, health: AgentHealth): Response {
  const path = new URL(request.url).pathname;
  if (request.method !== "GET") return text(405, "Method not allowed\n");
  const report = health.report();
  switch (path) {
    case "/healthz": {
      if (!health.loopAlive()) return text(503, "The agent's loop is not running\n");
      if (report?.process === "crashed") return text(503, "PostgreSQL crashed\n");
      return text(200, "ok\n");
    }
    case "/readyz":
      return report?.ready === true
        ? text(200, "ready\n")
        : text(503, `not ready: ${report?.message ?? "no report yet"}\n`);
    case "/status":
      return report === undefined
        ? text(503, "no report yet\n")
        : new Response(JSON.stringify(report) + "\n", {
          status: 200,
          headers: { "content-type": "application/json" },
        });
    default:
      return text(404, "Not found\n");
  }
}

/** Serves the endpoints. */
export function serveAgentHttp(
  health: AgentHealth,
  options: AgentHttpOptions = {},
): AgentHttpServer {
  const server = Deno.serve({
    port: options.port ?? 8008,
    hostname: options.hostname ?? "0.0.0.0",
    onListen: () => {},
  }, (request) => handleAgentRequest(request, health));
  return { port: server.addr.port, shutdown: () => server.shutdown() };
}

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain" } });
}
