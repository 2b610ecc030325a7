// Goal: fault injection through the command line: `sim --faults` prints the faults injected and
// the checks passed; a mutant campaign prints a minimal failing schedule and a replay command that
// reproduces the failure. Method: subprocesses, as a user runs them.
import assert from "node:assert/strict";

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("cli: sim --faults heavy prints the faults injected and the checks passed", async () => {
  const { code, stdout } = await run([
    "main.ts",
    "sim",
    "-f",
    "examples/postgresdb.yaml",
    "--faults",
    "heavy",
    "--seed",
    "3",
  ]);
  assert.equal(code, 0, stdout);
  assert.match(stdout, /Converged under heavy faults \(seed 3\)/);
  assert.match(stdout, /Faults injected: .*writeError:/);
  assert.match(
    stdout,
    /Checks passed: owner references; .*Ready never ahead of the pods; .*liveness; steady state/,
  );
  assert.match(stdout, /my-postgres\s+16\s+1\s+Running\s+true/);
});

Deno.test("cli: sim --faults-file runs a custom schedule with crashes and world steps", async () => {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      faults: { writeErrorRate: 0.3, watchLagMaxMs: 500 },
      crashRate: 0.3,
      steps: [{ atMs: 3000, do: "crashPod", name: "my-postgres-0" }, {
        atMs: 4000,
        do: "crashOperator",
      }],
    }),
  );
  const { code, stdout } = await run([
    "main.ts",
    "sim",
    "-f",
    "examples/postgresdb.yaml",
    "--faults-file",
    file,
    "--output",
    "json",
  ]);
  assert.equal(code, 0, stdout);
  const report = JSON.parse(stdout);
  assert.ok(report.faults.operatorCrash >= 1, JSON.stringify(report.faults));
  assert.deepEqual(report.violations, []);
  assert.equal(report.converged, true);
});

Deno.test("cli: a bad --faults or faults file exits 2 with one line", async () => {
  const bad = await run(["main.ts", "sim", "-f", "examples/postgresdb.yaml", "--faults", "medium"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--faults must be none, light or heavy/);
  const file = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(file, JSON.stringify({ faults: { meteorRate: 1 } }));
  const unknown = await run([
    "main.ts",
    "sim",
    "-f",
    "examples/postgresdb.yaml",
    "--faults-file",
    file,
  ]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown fault "meteorRate"/);
  assert.equal(unknown.stderr.trim().split("\n").length, 1);
});

Deno.test("cli: a mutant's campaign prints a minimal schedule and a replay command that reproduces it", async () => {
  const campaign = await run([
    "tests/property/campaign.ts",
    "--mutant",
    "ready-too-early",
    "--runs",
    "100",
    "--seed",
    "1",
  ]);
  assert.equal(campaign.code, 1, campaign.stdout);
  assert.match(campaign.stdout, /FAILED after \d+ schedules \(seed 1/);
  assert.match(campaign.stdout, /Minimal schedule:\n\{"seed":/);
  assert.match(campaign.stdout, /VIOLATION \[Ready never ahead of the pods\]/);
  const replay = /Replay: deno task campaign --schedule (\S+) --mutant ready-too-early/.exec(
    campaign.stdout,
  );
  assert.ok(replay, campaign.stdout);
  const schedule = JSON.parse(await Deno.readTextFile(replay[1]!));
  assert.equal(schedule.steps.length, 1, "shrunk to one step");
  const again = await run([
    "tests/property/campaign.ts",
    "--schedule",
    replay[1]!,
    "--mutant",
    "ready-too-early",
  ]);
  assert.equal(again.code, 1);
  assert.match(again.stdout, /VIOLATION \[Ready never ahead of the pods\]/);
  const fixed = await run(["tests/property/campaign.ts", "--schedule", replay[1]!]);
  assert.equal(fixed.code, 0, "the real reconciler passes the same schedule");
  assert.match(fixed.stdout, /all checks passed/);
});
