// Goal: a hot loop cannot flood the API server with Events: each object gets a burst of 25, then
// one Event per 5 minutes; other objects are unaffected; dropped Events are counted and never
// fail the caller.
// Method: token buckets on the simulated virtual clock; the wrapper over a simulated client.
import assert from "node:assert/strict";
import type { KubeObject } from "../core/object.ts";
import { SimCluster } from "../sim/cluster.ts";
import { VirtualClock } from "../sim/clock.ts";
import { EventRateLimiter, withEventRateLimit } from "./event_limiter.ts";

function event(uid: string, reason = "Scaled"): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: "", generateName: "db.", namespace: "default" },
    involvedObject: { kind: "PostgresDB", namespace: "default", name: uid, uid },
    reason,
    message: "m",
    type: "Normal",
  } as KubeObject;
}

Deno.test("EventRateLimiter: a burst of 25 per object, then one per 5 minutes", () => {
  const clock = new VirtualClock();
  const dropped: string[] = [];
  const limiter = new EventRateLimiter({
    clock,
    onDrop: (e) => dropped.push(String((e as { reason?: string }).reason)),
  });
  let allowed = 0;
  for (let i = 0; i < 100; i++) if (limiter.allow(event("u1"))) allowed++;
  assert.equal(allowed, 25);
  assert.equal(limiter.dropped, 75);
  assert.equal(dropped.length, 75);
  assert.ok(limiter.allow(event("u2")), "another object has its own bucket");
  clock.advanceTo(clock.nowMs() + 299_000);
  assert.equal(limiter.allow(event("u1")), false, "no token before 5 minutes");
  clock.advanceTo(clock.nowMs() + 1_000);
  assert.equal(limiter.allow(event("u1")), true, "one token after 5 minutes");
  assert.equal(limiter.allow(event("u1")), false, "and only one");
  clock.advanceTo(clock.nowMs() + 24 * 300_000 * 10);
  let refilled = 0;
  for (let i = 0; i < 100; i++) if (limiter.allow(event("u1"))) refilled++;
  assert.equal(refilled, 25, "the bucket refills up to the burst, not beyond");
});

Deno.test("EventRateLimiter: keeps at most maxObjects buckets, forgetting the least recent", () => {
  const limiter = new EventRateLimiter({ clock: new VirtualClock(), burst: 1, maxObjects: 2 });
  assert.ok(limiter.allow(event("a")));
  assert.ok(limiter.allow(event("b")));
  assert.equal(limiter.allow(event("a")), false);
  assert.ok(limiter.allow(event("c")), "c evicts b, the least recently used");
  assert.equal(limiter.size, 2);
  assert.ok(limiter.allow(event("b")), "b was forgotten, so it starts with a full bucket");
});

Deno.test("withEventRateLimit(): dropped Events resolve without a request", async () => {
  const cluster = new SimCluster({ seed: 1 });
  const inner = cluster.client({ name: "operator" });
  const limiter = new EventRateLimiter({ clock: cluster.clock, burst: 3 });
  const client = withEventRateLimit(inner, limiter);
  const sends = Array.from({ length: 10 }, () => client.createEvent(event("u1")));
  await cluster.run({ maxVirtualMs: 10_000 });
  await Promise.all(sends);
  assert.equal(inner.stats.writesByVerb.createEvent, 3);
  assert.equal(cluster.objects().filter((o) => o.kind === "Event").length, 3);
  assert.equal(limiter.dropped, 7);
});

Deno.test("EventRateLimiter: refuses a burst below 1", () => {
  assert.throws(() => new EventRateLimiter({ clock: new VirtualClock(), burst: 0 }), RangeError);
});
