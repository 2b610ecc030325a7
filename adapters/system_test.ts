// Goal: the system clock's timers fire and cancel; the crypto random source stays in range and
// is not constant.
import assert from "node:assert/strict";
import { cryptoRandom, systemClock } from "./system.ts";

Deno.test("systemClock: a timer fires, a cancelled one does not", async () => {
  let fired = 0;
  const cancelled = systemClock.setTimer(1, () => fired += 10);
  cancelled.cancel();
  await new Promise<void>((resolve) =>
    systemClock.setTimer(5, () => {
      fired++;
      resolve();
    })
  );
  assert.equal(fired, 1);
});

Deno.test("cryptoRandom: values in range and varied", () => {
  const ints = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const x = cryptoRandom.next();
    assert.ok(x >= 0 && x < 1);
    const n = cryptoRandom.int(62);
    assert.ok(Number.isInteger(n) && n >= 0 && n < 62);
    ints.add(n);
  }
  assert.ok(ints.size > 50, `${ints.size} distinct values of 62`);
});
