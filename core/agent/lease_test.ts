import assert from "node:assert/strict";
import {
  afterLeaseWrite,
  leaseFree,
  type LeaseMemory,
  type LeaseRecord,
  leaseStanding,
  leaseWrite,
  observeLease,
} from "./lease.ts";

const DURATION = 15_000;
const DEADLINE = 10_000;

function record(holder: string | undefined, version: string, transitions = 1): LeaseRecord {
  return { holder, version, durationMs: DURATION, transitions };
}

Deno.test("leaseWrite() creates the Lease as the target and renews it as the holder", () => {
  assert.equal(leaseWrite("db-0", "db-0", {}, undefined, 0, false)?.kind, "create");
  assert.equal(leaseWrite("db-1", "db-0", {}, undefined, 0, false), undefined);
  const held = record("db-0", "5");
  assert.equal(leaseWrite("db-0", "db-0", {}, held, 0, true)?.kind, "renew");
});

Deno.test("leaseWrite() acquires only a released Lease or one seen unchanged for its duration", () => {
  const held = record("db-0", "5");
  let memory: LeaseMemory = observeLease({}, held, 1_000);
  assert.equal(leaseWrite("db-1", "db-1", memory, held, 15_999, false), undefined);
  assert.equal(leaseWrite("db-1", "db-1", memory, held, 16_000, false)?.kind, "acquire");
  // A renewal seen meanwhile (a new version) starts the wait again.
  memory = observeLease(memory, record("db-0", "6"), 15_000);
  assert.equal(leaseWrite("db-1", "db-1", memory, record("db-0", "6"), 29_999, false), undefined);
  // A released Lease is free at once; but only the target takes it.
  const released = record(undefined, "7");
  assert.equal(leaseWrite("db-1", "db-1", {}, released, 0, false)?.kind, "acquire");
  assert.equal(leaseWrite("db-2", "db-1", {}, released, 0, false), undefined);
});

Deno.test("leaseWrite() releases a Lease no longer the target's only once no primary runs", () => {
  const held = record("db-0", "5");
  assert.equal(leaseWrite("db-0", undefined, {}, held, 0, true), undefined);
  const release = leaseWrite("db-0", undefined, {}, held, 0, false);
  assert.equal(release?.kind, "release");
  assert.deepEqual(afterLeaseWrite({ renewedAtMs: 3 }, release!, 9), { seen: undefined });
});

Deno.test("leaseStanding() holds from the renewal's send until the renew deadline, before any expiry", () => {
  const held = record("db-0", "5");
  const sentAtMs = 1_000;
  const memory = afterLeaseWrite({}, { kind: "renew", holder: "db-0", reason: "" }, sentAtMs);
  assert.ok(leaseStanding("db-0", memory, held, sentAtMs + DEADLINE - 1, DEADLINE).held);
  assert.ok(!leaseStanding("db-0", memory, held, sentAtMs + DEADLINE, DEADLINE).held);
  // An observer that saw the renewal's version no earlier than it was sent frees it later still.
  const observer = observeLease({}, held, sentAtMs);
  assert.ok(!leaseFree(observer, held, sentAtMs + DEADLINE));
  assert.ok(leaseFree(observer, held, sentAtMs + DURATION));
  // Someone else's Lease is never held; without a renewal it is not held either.
  assert.ok(!leaseStanding("db-1", memory, held, sentAtMs, DEADLINE).held);
  assert.ok(!leaseStanding("db-0", {}, held, sentAtMs, DEADLINE).held);
  assert.equal(leaseStanding("db-0", memory, held, sentAtMs, DEADLINE).transitions, 1);
});

Deno.test("observeLease() forgets a Lease that no longer exists and keeps the first sight of a version", () => {
  const seen = observeLease({}, record("db-0", "5"), 100);
  assert.deepEqual(observeLease(seen, record("db-0", "5"), 900).seen, { version: "5", atMs: 100 });
  assert.equal(observeLease(seen, undefined, 900).seen, undefined);
  assert.ok(leaseFree(seen, undefined, 100));
});
