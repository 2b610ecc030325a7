// Goal: the work queue's guarantees, on virtual time: de-duplication, no concurrent processing of
// one key, re-queue of a key added while processing, exponential per-key backoff.
import assert from "node:assert/strict";
import { VirtualClock } from "../sim/clock.ts";
import { WorkQueue } from "./queue.ts";

Deno.test("WorkQueue: a key added twice is handed out once", () => {
  const q = new WorkQueue(new VirtualClock());
  q.add("a");
  q.add("a");
  q.add("b");
  assert.equal(q.get(), "a");
  assert.equal(q.get(), "b");
  assert.equal(q.get(), undefined);
});

Deno.test("WorkQueue: a key being processed is not handed out again until done()", () => {
  const q = new WorkQueue(new VirtualClock());
  q.add("a");
  assert.equal(q.get(), "a");
  q.add("a");
  assert.equal(q.get(), undefined, "never twice at once");
  q.done("a");
  assert.equal(q.get(), "a", "added while processing: comes back after done()");
  q.done("a");
  assert.equal(q.get(), undefined);
});

Deno.test("WorkQueue: failures back off exponentially per key until forget()", () => {
  const clock = new VirtualClock();
  const q = new WorkQueue(clock, { backoffBaseMs: 10, backoffMaxMs: 50 });
  assert.deepEqual([1, 2, 3, 4, 5].map(() => q.addRateLimited("a")), [10, 20, 40, 50, 50]);
  q.forget("a");
  assert.equal(q.addRateLimited("a"), 10);
  assert.equal(q.addRateLimited("b"), 10, "keys back off independently");
});

Deno.test("WorkQueue: addAfter() delivers on the clock and the earliest delay wins", () => {
  const clock = new VirtualClock(0);
  const q = new WorkQueue(clock);
  q.addAfter("a", 100);
  q.addAfter("a", 50);
  q.addAfter("a", 200);
  assert.equal(q.get(), undefined);
  clock.runNext();
  assert.equal(clock.nowMs(), 50);
  assert.equal(q.get(), "a");
  q.done("a");
  assert.equal(clock.pending, 0, "the later timers were dropped");
});

Deno.test("WorkQueue: shutDown() drops waiting and delayed keys", () => {
  const clock = new VirtualClock(0);
  const q = new WorkQueue(clock);
  q.add("a");
  q.addAfter("b", 10);
  q.shutDown();
  assert.equal(q.get(), undefined);
  assert.equal(clock.pending, 0);
  q.add("c");
  assert.equal(q.get(), undefined);
});
