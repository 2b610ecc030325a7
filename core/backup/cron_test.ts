import assert from "node:assert/strict";
import fc from "fast-check";
import { latestSlot, nextSlot, parseCron, slotsBetween } from "./cron.ts";

function schedule(text: string) {
  const parsed = parseCron(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.schedule;
}

const at = (iso: string) => Date.parse(iso);

Deno.test("cron: fields, names, ranges, steps and macros parse to their values", () => {
  const s = schedule("*/15 2,14 1-3 jan-mar mon-fri");
  assert.deepEqual([...s.minutes], [0, 15, 30, 45]);
  assert.deepEqual([...s.hours], [2, 14]);
  assert.deepEqual([...s.days], [1, 2, 3]);
  assert.deepEqual([...s.months], [1, 2, 3]);
  assert.deepEqual([...s.weekdays], [1, 2, 3, 4, 5]);
  assert.deepEqual([...schedule("0 0 * * 7").weekdays], [0]);
  assert.deepEqual([...schedule("5/20 * * * *").minutes], [5, 25, 45]);
  assert.equal(schedule("@daily").minutes.size, 1);
  assert.deepEqual([...schedule("@hourly").hours].length, 24);
});

Deno.test("cron: a bad schedule is refused with the field it got wrong", () => {
  const cases: [string, RegExp][] = [
    ["61 * * * *", /minute 61 is out of range 0-59/],
    ["* * * *", /has 4 fields/],
    ["* 5-2 * * *", /goes backwards/],
    ["*/0 * * * *", /invalid step "0"/],
    ["@often", /unknown macro "@often"/],
    ["* * * foo *", /invalid month "foo"/],
    ["* * 0 * *", /day of month 0 is out of range 1-31/],
  ];
  for (const [text, problem] of cases) {
    const parsed = parseCron(text);
    assert.equal(parsed.ok, false, text);
    if (!parsed.ok) assert.match(parsed.problem, problem);
  }
});

Deno.test("cron: latest and next slots around a given time, in UTC", () => {
  const nightly = schedule("0 2 * * *");
  assert.equal(latestSlot(nightly, at("2026-03-05T01:59:59Z")), at("2026-03-04T02:00:00Z"));
  assert.equal(latestSlot(nightly, at("2026-03-05T02:00:00Z")), at("2026-03-05T02:00:00Z"));
  assert.equal(nextSlot(nightly, at("2026-03-05T02:00:00Z")), at("2026-03-06T02:00:00Z"));
  const leap = schedule("0 0 29 2 *");
  assert.equal(nextSlot(leap, at("2026-03-01T00:00:00Z")), at("2028-02-29T00:00:00Z"));
  assert.equal(nextSlot(schedule("0 0 30 2 *"), 0), undefined);
});

Deno.test("cron: with both day fields restricted a day matches either", () => {
  // 1st of the month or any Monday.
  const s = schedule("0 0 1 * mon");
  assert.equal(nextSlot(s, at("2026-03-01T00:00:00Z")), at("2026-03-02T00:00:00Z")); // Monday
  assert.equal(nextSlot(s, at("2026-03-30T00:00:00Z")), at("2026-04-01T00:00:00Z")); // 1st
});

Deno.test("cron: slotsBetween counts what a minute-by-minute walk counts", () => {
  const texts = ["*/7 * * * *", "0 */5 * * *", "30 2 1,15 * *", "0 0 * * 1-5", "13 4 * * sun"];
  fc.assert(
    fc.property(
      fc.constantFrom(...texts),
      fc.integer({ min: 0, max: 20 * 86_400_000 }),
      fc.integer({ min: 0, max: 3 * 86_400_000 }),
      (text, offset, span) => {
        const s = schedule(text);
        const after = at("2026-01-01T00:00:00Z") + offset;
        const before = after + span;
        let walked = 0;
        for (let slot = nextSlot(s, after); slot !== undefined && slot < before;) {
          walked++;
          slot = nextSlot(s, slot);
        }
        assert.equal(slotsBetween(s, after, before), walked);
        const latest = latestSlot(s, before);
        if (latest !== undefined) assert.equal(nextSlot(s, latest - 1), latest);
      },
    ),
    { numRuns: 200 },
  );
});
