// Goal: retentionPlan() deletes old complete backups and old incomplete leftovers, and never the
// newest complete backup, the current one, or anything newer than the newest complete backup.
// Method: hand-made listings for each rule, then a fast-check property over random listings
// (seed printed on failure; replay with PGOP_SEED=<seed>).

import assert from "node:assert/strict";
import fc from "fast-check";
import { groupBackups, retentionPlan } from "./retention.ts";
import type { StoredObject } from "./types.ts";

const P = "backups/default/db/";

function id(day: number, suffix = "x"): string {
  return `202501${String(day).padStart(2, "0")}T000000Z-${suffix}`;
}

function backup(backupId: string, complete: boolean): StoredObject[] {
  const objects = [{ key: `${P}${backupId}/dump.pgc`, sizeBytes: 100 }];
  if (complete) objects.push({ key: `${P}${backupId}/manifest.json`, sizeBytes: 10 });
  return objects;
}

Deno.test("groupBackups() groups by id, oldest first, manifest key first, ignoring stray keys", () => {
  const listing = [
    ...backup(id(2), true),
    ...backup(id(1), false),
    { key: `${P}stray.txt`, sizeBytes: 1 },
    { key: `other/${id(3)}/manifest.json`, sizeBytes: 1 },
  ];
  const backups = groupBackups(listing, P);
  assert.deepEqual(backups.map((b) => [b.id, b.complete, b.sizeBytes]), [
    [id(1), false, 100],
    [id(2), true, 110],
  ]);
  assert.equal(backups[1]!.keys[0], `${P}${id(2)}/manifest.json`);
});

Deno.test("retentionPlan() keeps the newest keepLast complete backups and deletes older ones", () => {
  const listing = [1, 2, 3, 4].flatMap((day) => backup(id(day), true));
  assert.deepEqual(retentionPlan(listing, P, 2, id(4)), [id(1), id(2)]);
  assert.deepEqual(retentionPlan(listing, P, 10, id(4)), []);
});

Deno.test("retentionPlan() keeps the newest complete backup when keepLast is 0 or negative", () => {
  const listing = [1, 2].flatMap((day) => backup(id(day), true));
  assert.deepEqual(retentionPlan(listing, P, 0), [id(1)]);
  assert.deepEqual(retentionPlan(listing, P, -3), [id(1)]);
  assert.deepEqual(retentionPlan(listing, P, Number.NaN), [id(1)]);
});

Deno.test("retentionPlan() deletes incomplete leftovers older than the newest complete backup only", () => {
  const listing = [
    ...backup(id(1), false),
    ...backup(id(2), true),
    ...backup(id(3), false),
    ...backup(id(4), true),
    ...backup(id(5), false),
  ];
  assert.deepEqual(retentionPlan(listing, P, 5, id(5)), [id(1), id(3)]);
});

Deno.test("retentionPlan() deletes nothing without a complete backup", () => {
  const listing = [1, 2].flatMap((day) => backup(id(day), false));
  assert.deepEqual(retentionPlan(listing, P, 1, id(3)), []);
});

Deno.test("retentionPlan() never deletes the current backup, even an older one", () => {
  const listing = [1, 2, 3].flatMap((day) => backup(id(day), day !== 2));
  assert.deepEqual(retentionPlan(listing, P, 1, id(2)), [id(1)]);
  assert.deepEqual(retentionPlan(listing, P, 1, id(1)), [id(2)]);
});

Deno.test("retentionPlan() property: keeps the newest complete, at most keepLast, nothing newer", () => {
  const seed = Number(Deno.env.get("PGOP_SEED") ?? Date.now() % 2 ** 31);
  const arbitrary = fc.record({
    backups: fc.uniqueArray(
      fc.record({ day: fc.integer({ min: 1, max: 28 }), complete: fc.boolean() }),
      { selector: (b) => b.day, maxLength: 12 },
    ),
    keepLast: fc.integer({ min: -2, max: 6 }),
    current: fc.option(fc.integer({ min: 1, max: 29 }), { nil: undefined }),
  });
  try {
    fc.assert(
      fc.property(arbitrary, ({ backups, keepLast, current }) => {
        const currentId = current === undefined ? undefined : id(current);
        const listing = backups.flatMap((b) => backup(id(b.day), b.complete));
        const plan = new Set(retentionPlan(listing, P, keepLast, currentId));
        const complete = backups.filter((b) => b.complete).map((b) => id(b.day)).sort();
        const newest = complete.at(-1);
        if (newest === undefined) return plan.size === 0;
        assert.ok(!plan.has(newest), "the newest complete backup is deleted");
        if (currentId !== undefined) assert.ok(!plan.has(currentId), "the current one is deleted");
        for (const deleted of plan) {
          assert.ok(deleted < newest, `${deleted} is newer than ${newest}`);
        }
        const remaining = complete.filter((c) => !plan.has(c) && c !== currentId);
        assert.ok(remaining.length <= Math.max(1, keepLast), `${remaining.length} complete remain`);
        // Nothing the plan keeps that it should have deleted: every old complete one beyond
        // keepLast and every old incomplete one is in the plan.
        const expectedKept = complete.slice(-Math.max(1, keepLast));
        for (const b of backups) {
          const bid = id(b.day);
          const shouldGo: boolean = bid !== currentId && bid < newest &&
            (!b.complete || !expectedKept.includes(bid));
          assert.equal(plan.has(bid), shouldGo, `${bid} deleted: ${plan.has(bid)}`);
        }
        return true;
      }),
      { seed, numRuns: 500 },
    );
  } catch (error) {
    throw new Error(`Replay with PGOP_SEED=${seed}: ${(error as Error).message}`);
  }
});
