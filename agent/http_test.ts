// Goal: the agent's endpoints answer as the pod's probes need: /healthz follows the loop and a
// crash, /readyz the last report's readiness, /status the report as JSON.
// Method: handleAgentRequest with fixed health answers, and one real server on 127.0.0.1.

import assert from "node:assert/strict";
import type { InstanceReport } from "../core/agent/types.ts";
import { type AgentHealth, handleAgentRequest, serveAgentHttp } from "./http.ts";

const report: InstanceReport = {
  name: "db-1",
  role: "standby",
  process: "running",
  ready: true,
  receivedLsn: 5,
  replayLsn: 5,
  streamingFrom: "db-0",
  message: 'Streaming from "db-0"',
};

function health(r: InstanceReport | undefined, alive = true): AgentHealth {
  return { report: () => r, loopAlive: () => alive };
}

function get(path: string, h: AgentHealth): Response {
  return handleAgentRequest(new Request(`http://agent${path}`), h);
}

Deno.test("handleAgentRequest: /healthz is 200 while the loop runs and PostgreSQL has not crashed", async () => {
  assert.equal(get("/healthz", health(report)).status, 200);
  assert.equal(get("/healthz", health(undefined)).status, 200, "before the first report");
  assert.equal(get("/healthz", health(report, false)).status, 503);
  const crashed = get("/healthz", health({ ...report, process: "crashed", ready: false }));
  assert.equal(crashed.status, 503);
  assert.equal(await crashed.text(), "PostgreSQL crashed\n");
});

Deno.test("handleAgentRequest: /readyz follows the last report's readiness", async () => {
  assert.equal(get("/readyz", health(report)).status, 200);
  const waiting = get("/readyz", health({ ...report, ready: false, message: "Catching up" }));
  assert.equal(waiting.status, 503);
  assert.equal(await waiting.text(), "not ready: Catching up\n");
  assert.equal(get("/readyz", health(undefined)).status, 503);
});

Deno.test("handleAgentRequest: /status is the report, unknown paths 404, writes 405", async () => {
  const status = get("/status", health(report));
  assert.equal(status.status, 200);
  assert.deepEqual(await status.json(), report);
  assert.equal(get("/status", health(undefined)).status, 503);
  assert.equal(get("/metrics", health(report)).status, 404);
  const post = handleAgentRequest(
    new Request("http://agent/readyz", { method: "POST" }),
    health(report),
  );
  assert.equal(post.status, 405);
});

Deno.test("serveAgentHttp: serves the endpoints on a port", async () => {
  const server = serveAgentHttp(health(report), { port: 0, hostname: "127.0.0.1" });
  try {
    const response = await fetch(`http://127.0.0.1:${server.port}/readyz`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "ready\n");
  } finally {
    await server.shutdown();
  }
});
