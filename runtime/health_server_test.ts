// Goal: /metrics, /healthz and /readyz answer as controller-runtime's manager does, on one port
// or two, and bind addresses parse like its flags.
// Method: real servers on 127.0.0.1 with port 0 (a free port), fetched over loopback.
import assert from "node:assert/strict";
import { parseBindAddress, serveEndpoints } from "./health_server.ts";

Deno.test("parseBindAddress() reads host:port, :port, [v6]:port and 0", () => {
  assert.deepEqual(parseBindAddress("127.0.0.1:8080"), { hostname: "127.0.0.1", port: 8080 });
  assert.deepEqual(parseBindAddress(":8080"), { hostname: "0.0.0.0", port: 8080 });
  assert.deepEqual(parseBindAddress("[::1]:9090"), { hostname: "::1", port: 9090 });
  assert.equal(parseBindAddress("0"), undefined);
  assert.throws(() => parseBindAddress("8080"), TypeError);
  assert.throws(() => parseBindAddress("host:99999"), TypeError);
});

Deno.test("serveEndpoints(): /metrics on one port, /healthz and /readyz on another", async () => {
  let ready = false;
  const endpoints = serveEndpoints({
    metricsAddress: "127.0.0.1:0",
    healthAddress: "127.0.0.1:0",
    metrics: () => "up 1\n",
    ready: () => ({ ready, reason: "caches not synced" }),
  });
  try {
    const get = async (port: number, path: string) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: response.status, text: await response.text(), type: response.headers };
    };
    const metrics = await get(endpoints.metricsPort!, "/metrics");
    assert.equal(metrics.status, 200);
    assert.equal(metrics.text, "up 1\n");
    assert.equal(metrics.type.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    assert.equal((await get(endpoints.healthPort!, "/healthz")).status, 200);
    const notReady = await get(endpoints.healthPort!, "/readyz");
    assert.equal(notReady.status, 503);
    assert.match(notReady.text, /caches not synced/);
    ready = true;
    assert.equal((await get(endpoints.healthPort!, "/readyz")).status, 200);
    assert.equal((await get(endpoints.healthPort!, "/nope")).status, 404);
    assert.notEqual(endpoints.metricsPort, endpoints.healthPort);
    assert.equal((await get(endpoints.metricsPort!, "/healthz")).status, 404);
    assert.equal((await get(endpoints.healthPort!, "/metrics")).status, 404);
  } finally {
    await endpoints.shutdown();
  }
});

Deno.test("serveEndpoints(): the same fixed address is served once; 0 turns an endpoint off", async () => {
  const probe = serveEndpoints({
    metricsAddress: "127.0.0.1:0",
    healthAddress: "0",
    metrics: () => "",
    ready: () => ({ ready: true, reason: "" }),
  });
  const port = probe.metricsPort!;
  await probe.shutdown();
  const shared = serveEndpoints({
    metricsAddress: `127.0.0.1:${port}`,
    healthAddress: `127.0.0.1:${port}`,
    metrics: () => "x 1\n",
    ready: () => ({ ready: true, reason: "" }),
  });
  try {
    assert.equal(shared.metricsPort, port);
    assert.equal(shared.healthPort, port);
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  } finally {
    await shared.shutdown();
  }
  const off = serveEndpoints({
    metricsAddress: "0",
    healthAddress: "0",
    metrics: () => "",
    ready: () => ({ ready: true, reason: "" }),
  });
  assert.equal(off.metricsPort, undefined);
  assert.equal(off.healthPort, undefined);
  await off.shutdown();
});
