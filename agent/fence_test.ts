// Goal: the fence stops a primary at once when its Lease is no longer held, and never otherwise:
// not before the renew deadline, not a standby, not a stopped server.
// Method: a fake instance port and the Lease keeper on an in-memory API server with a fake clock.

import assert from "node:assert/strict";
import type { InstanceAction, InstanceObservation, InstancePort } from "../core/agent/types.ts";
import { FakeLeaseServer, postgresDB } from "./_fake_leases.ts";
import { Fence, runsAsPrimary } from "./fence.ts";
import { LeaseKeeper } from "./lease_keeper.ts";

/** `obs` without a reported role (the server does not run, or has not answered yet). */
function withoutRole(obs: InstanceObservation, process: InstanceObservation["process"]) {
  const { reportedRole: _role, ...rest } = obs;
  return { ...rest, process };
}

class FakePort implements InstancePort {
  obs: InstanceObservation = {
    data: {
      kind: "initialized",
      systemId: "7",
      major: 16,
      timeline: 1,
      history: [],
      flushLsn: 100,
      config: { role: "primary" },
    },
    process: "running",
    reportedRole: "primary",
    receivedLsn: 100,
    replayLsn: 100,
  };
  performed: InstanceAction[] = [];
  observe(): InstanceObservation {
    return this.obs;
  }
  perform(action: InstanceAction) {
    this.performed.push(action);
    if (action.kind === "stop") this.obs = { ...this.obs, process: "stopping" };
    return { ok: true as const };
  }
}

async function held(clock: { now: number }) {
  const server = new FakeLeaseServer();
  const keeper = new LeaseKeeper(server.client(), {
    self: "db-0",
    database: "db",
    namespace: "default",
    nowMs: () => clock.now,
    log: () => {},
  });
  await keeper.round(postgresDB("db-0"), true);
  return { server, keeper };
}

Deno.test("Fence: a primary whose last renewal was sent 10 s ago is stopped at once", async () => {
  const clock = { now: 0 };
  const { server, keeper } = await held(clock);
  server.unreachable = true; // no renewal gets through from now on
  const port = new FakePort();
  const fence = new Fence({ port, standing: () => keeper.standing(), log: () => {} });
  clock.now = 9_999;
  assert.equal(fence.check(), false);
  assert.equal(port.performed.length, 0);
  clock.now = 10_000;
  assert.equal(fence.check(), true);
  assert.deepEqual(port.performed.map((a) => a.kind === "stop" && a.mode), ["immediate"]);
  assert.equal(fence.check(), false, "a stopping server is not stopped twice");
  assert.equal(fence.stops, 1);
});

Deno.test("Fence: a standby, a stopped server and a primary that holds the Lease are left alone", async () => {
  const clock = { now: 0 };
  const { keeper } = await held(clock);
  const port = new FakePort();
  const fence = new Fence({ port, standing: () => keeper.standing(), log: () => {} });
  clock.now = 5_000;
  assert.equal(fence.check(), false, "held");
  clock.now = 60_000;
  port.obs = { ...port.obs, reportedRole: "standby" };
  assert.equal(fence.check(), false, "a standby");
  port.obs = withoutRole(port.obs, "stopped");
  assert.equal(fence.check(), false, "stopped");
  assert.deepEqual(port.performed, []);
});

Deno.test("Fence: checks on its own every intervalMs once started", async () => {
  const port = new FakePort();
  const fence = new Fence({
    port,
    standing: () => ({ held: false, free: false, transitions: 1 }),
    intervalMs: 10,
    log: () => {},
  });
  fence.start();
  try {
    const deadline = Date.now() + 5_000;
    while (port.performed.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    fence.stop();
  }
  assert.equal(port.performed[0]?.kind, "stop");
});

Deno.test("runsAsPrimary: a running or starting primary, not a standby or a stopped server", () => {
  const port = new FakePort();
  assert.equal(runsAsPrimary(port.obs), true);
  assert.equal(runsAsPrimary({ ...port.obs, reportedRole: "standby" }), false);
  assert.equal(runsAsPrimary(withoutRole(port.obs, "crashed")), false);
  assert.equal(
    runsAsPrimary(withoutRole(port.obs, "starting")),
    true,
    "starting on a primary's data",
  );
});
