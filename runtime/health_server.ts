/**
 * The operator's HTTP endpoints, as controller-runtime's manager serves them: `/metrics` in the
 * Prometheus text format on the metrics address, `/healthz` (liveness: 200 while the process
 * serves and the caller says it is healthy, 500 otherwise) and `/readyz` (readiness: 200 once
 * the caller says it is ready, 503 before) on the health probe address. When both addresses are
 * the same, one server answers all three.
 *
 * Addresses are `host:port`; an empty host (`:8080`) means every interface, port 0 a free port,
 * and the address `0` turns the endpoint off, as controller-runtime's flags do.
 *
 * @example
 * ```ts
 * import { serveEndpoints } from "./health_server.ts";
 * const endpoints = serveEndpoints({
 *   metricsAddress: "127.0.0.1:0",
 *   healthAddress: "127.0.0.1:0",
 *   metrics: () => "up 1\n",
 *   ready: () => ({ ready: true, reason: "caches synced" }),
 * });
 * const port = endpoints.metricsPort!;
 * const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
 * console.assert(text === "up 1\n");
 * await endpoints.shutdown();
 * ```
 *
 * @module
 */

import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";

/** A readiness (or liveness) answer. */
export interface Readiness {
  /** True when ready (or healthy). */
  ready: boolean;
  /** Said in the body of the answer: what is ready, or what is awaited. */
  reason: string;
}

/** Options of {@link serveEndpoints}. */
export interface EndpointsOptions {
  /** Where `/metrics` is served; `0` turns it off. */
  metricsAddress: string;
  /** Where `/healthz` and `/readyz` are served; `0` turns them off. */
  healthAddress: string;
  /** Renders the metrics text. */
  metrics: () => string;
  /** Says whether the operator is ready. */
  ready: () => Readiness;
  /** Says whether the operator is alive. @default always healthy */
  healthy?: () => Readiness;
}

/** The running servers. */
export interface Endpoints {
  /** The port `/metrics` listens on, when served. */
  metricsPort: number | undefined;
  /** The port `/healthz` and `/readyz` listen on, when served. */
  healthPort: number | undefined;
  /** Stops the servers. */
  shutdown(): Promise<void>;
}

/** A parsed bind address. */
export interface BindAddress {
  /** The interface; `0.0.0.0` for every one. */
  hostname: string;
  /** The port; 0 for a free one. */
  port: number;
}

/**
 * Parses `host:port`, `:port` (every interface) or `[v6]:port`; undefined for `0` (off).
 *
 * @throws {TypeError} for anything else
 */
export function parseBindAddress(address: string): BindAddress | undefined {
  if (address === "0") return undefined;
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new TypeError(
      `Cannot parse bind address ${JSON.stringify(address)}: expected host:port, :port or 0`,
    );
  }
  const hostname = match[1] ?? match[2] ?? "";
  return { hostname: hostname === "" ? "0.0.0.0" : hostname, port };
}

/** Starts the servers; binding failures throw (a port in use is a configuration error). */
export function serveEndpoints(options: EndpointsOptions): Endpoints {
  const metricsAt = parseBindAddress(options.metricsAddress);
  const healthAt = parseBindAddress(options.healthAddress);
  const shared = metricsAt !== undefined && healthAt !== undefined &&
    metricsAt.hostname === healthAt.hostname && metricsAt.port === healthAt.port &&
    metricsAt.port !== 0;
  const servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  const serve = (at: BindAddress, routes: Set<string>) => {
    const server = Deno.serve(
      { hostname: at.hostname, port: at.port, onListen() {} },
      (request) => handle(request, routes, options),
    );
    servers.push(server);
    return server.addr.port;
  };
  let metricsPort: number | undefined;
  let healthPort: number | undefined;
  try {
    if (shared) {
      metricsPort = healthPort = serve(metricsAt, new Set(["/metrics", "/healthz", "/readyz"]));
    } else {
      if (metricsAt) metricsPort = serve(metricsAt, new Set(["/metrics"]));
      if (healthAt) healthPort = serve(healthAt, new Set(["/healthz", "/readyz"]));
    }
  } catch (error) {
    // The second address failed (a port in use): do not leave the first one serving.
    for (const server of servers) void server.shutdown();
    throw error;
  }
  return {
    metricsPort,
    healthPort,
    async shutdown() {
      await Promise.all(servers.map((s) => s.shutdown()));
    },
  };
}

function handle(request: Request, routes: Set<string>, options: EndpointsOptions): Response {
  const path = new URL(request.url).pathname;
  if (!routes.has(path)) return new Response("404 page not found\n", { status: 404 });
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("method not allowed\n", { status: 405 });
  }
  switch (path) {
    case "/metrics":
      return new Response(options.metrics(), {
        headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
      });
    case "/healthz": {
      const { ready: healthy, reason } = options.healthy?.() ?? { ready: true, reason: "" };
      return text(healthy ? 200 : 500, healthy ? "ok\n" : `unhealthy: ${reason}\n`);
    }
    default: {
      const { ready, reason } = options.ready();
      return text(ready ? 200 : 503, ready ? "ok\n" : `not ready: ${reason}\n`);
    }
  }
}

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}
