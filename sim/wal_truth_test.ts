// Goal: the WAL ground truth that the replication checkers compare: appending, copying a range
// from another WAL, and the prefix relation across origins.
import assert from "node:assert/strict";
import { appendWal, copyWal, isWalPrefix, originAt, truthEnd } from "./wal_truth.ts";

Deno.test("appendWal() extends the last segment of the same origin and starts a new one otherwise", () => {
  const a = appendWal(appendWal([], 1, 100), 1, 150);
  assert.deepEqual(a, [{ origin: 1, endLsn: 150 }]);
  const b = appendWal(a, 2, 200);
  assert.deepEqual(b, [{ origin: 1, endLsn: 150 }, { origin: 2, endLsn: 200 }]);
  assert.equal(appendWal(b, 3, 180), b, "nothing to append behind the end");
  assert.equal(truthEnd(b), 200);
  assert.equal(originAt(b, 149), 1);
  assert.equal(originAt(b, 150), 2);
  assert.equal(originAt(b, 200), undefined);
});

Deno.test("copyWal() copies the source's origins for the range past the copy's end", () => {
  const source = [{ origin: 1, endLsn: 100 }, { origin: 2, endLsn: 300 }];
  const copied = copyWal([{ origin: 1, endLsn: 50 }], source, 250);
  assert.deepEqual(copied, [{ origin: 1, endLsn: 100 }, { origin: 2, endLsn: 250 }]);
  assert.ok(isWalPrefix(copied, source));
});

Deno.test("isWalPrefix() fails on other bytes at the same LSNs and on a longer WAL", () => {
  const primary = [{ origin: 1, endLsn: 100 }, { origin: 2, endLsn: 300 }];
  assert.ok(isWalPrefix([], primary));
  assert.ok(isWalPrefix([{ origin: 1, endLsn: 100 }, { origin: 2, endLsn: 120 }], primary));
  assert.ok(!isWalPrefix([{ origin: 1, endLsn: 101 }], primary), "past the fork");
  assert.ok(!isWalPrefix([{ origin: 3, endLsn: 10 }], primary), "another origin");
  assert.ok(!isWalPrefix([{ origin: 1, endLsn: 100 }, { origin: 2, endLsn: 301 }], primary));
});
