// Goal: the flags of `start` become StartOptions, with Go-style booleans and durations, and bad
// values are one InputError line. Method: startOptions() on argument lists (no process, no cluster).
import assert from "node:assert/strict";
import { durationMs, startOptions, withBooleanValues } from "./start_options.ts";
import { InputError } from "./manifests.ts";

Deno.test("startOptions() maps every flag and leaves out the absent ones", () => {
  assert.deepEqual(startOptions([]), { logLevel: "info" });
  assert.deepEqual(
    startOptions([
      "--kubeconfig=k",
      "--context",
      "c",
      "-n",
      "ns",
      "--log-level=debug",
      "--metrics-bind-address=:8080",
      "--health-probe-bind-address=:8081",
      "--leader-elect=true",
      "--leader-election-namespace=ops",
      "--leader-election-id=lead",
      "--leader-election-lease-duration=4s",
      "--leader-election-renew-deadline=3000ms",
      "--leader-election-retry-period=1m",
      "--max-concurrent-reconciles=16",
    ]),
    {
      logLevel: "debug",
      kubeconfig: "k",
      context: "c",
      namespace: "ns",
      metricsBindAddress: ":8080",
      healthProbeBindAddress: ":8081",
      leaderElect: true,
      leaderElectionNamespace: "ops",
      leaderElectionId: "lead",
      leaseDurationMs: 4000,
      renewDeadlineMs: 3000,
      retryPeriodMs: 60_000,
      maxConcurrentReconciles: 16,
    },
  );
  assert.deepEqual(startOptions(["--leader-elect=false"]), { logLevel: "info" });
});

Deno.test("startOptions() refuses a bad level, duration or flag with an InputError", () => {
  assert.throws(() => startOptions(["--log-level", "loud"]), InputError);
  assert.throws(
    () => startOptions(["--leader-election-retry-period", "5h"]),
    /--leader-election-retry-period must be a duration such as 15s or 1500ms, not "5h"/,
  );
  assert.throws(() => startOptions(["--nope"]), InputError);
  for (const bad of ["0", "-1", "1.5", "many", "10000"]) {
    assert.throws(
      () => startOptions(["--max-concurrent-reconciles", bad]),
      new RegExp(`--max-concurrent-reconciles must be a whole number from 1 to 9999, not "${bad}"`),
    );
  }
});

Deno.test("withBooleanValues() turns --flag=true|false into presence or absence", () => {
  assert.deepEqual(withBooleanValues(["--a=true", "--a=false", "--b=true"], ["a"]), [
    "--a",
    "--b=true",
  ]);
  assert.equal(durationMs("15s", "--x"), 15_000);
});
