// Goal: quantities parse the way the API server parses them, and compare by value.
import assert from "node:assert/strict";
import { parseQuantity, sameQuantity } from "./quantity.ts";

const valid: [string, number][] = [
  ["1Gi", 2 ** 30],
  ["512Mi", 512 * 2 ** 20],
  ["1.5Gi", 1.5 * 2 ** 30],
  ["10G", 1e10],
  ["100m", 0.1],
  ["1e3", 1000],
  ["5", 5],
  [".5Ki", 512],
];
for (const [text, value] of valid) {
  Deno.test(`parseQuantity() reads "${text}" as ${value}`, () => {
    const parsed = parseQuantity(text);
    assert.ok(parsed.ok);
    assert.equal(parsed.value, value);
  });
}

for (const text of ["10 gigs", "", "Gi", "1GB", "1gi", "--1", "1.2.3Gi", "1 Gi"]) {
  Deno.test(`parseQuantity() rejects ${JSON.stringify(text)}`, () => {
    const parsed = parseQuantity(text);
    assert.equal(parsed.ok, false);
  });
}

Deno.test("sameQuantity() compares by value, not spelling", () => {
  assert.ok(sameQuantity("1Gi", "1024Mi"));
  assert.ok(!sameQuantity("1Gi", "1G"));
  assert.ok(!sameQuantity("1Gi", "nonsense"));
});
