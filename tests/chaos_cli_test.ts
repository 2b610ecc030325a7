// Goal: fault injection through the command line: `sim --faults` prints the faults injected and
// the checks passed; a mutant campaign prints a minimal failing schedule and a replay command that
// reproduces the failure. Method: subprocesses, as a user runs them.
import assert from "node:assert/strict";
import { readManifests } from "../cli/manifests.ts";
import { runWithFaults } from "../cli/chaos.ts";

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

Deno.test("runWithFaults() counts the writes that reached the server: committed, rejected, or with the answer lost", async () => {
  // Injected 429s never leave the client (the simulated server never answers 429 itself);
  // every other write reached the server, whatever the client was told.
  const manifests = await readManifests(["examples/postgresdb.yaml"]);
  const report = await runWithFaults(manifests, {
    seed: 5,
    preset: "none",
    file: {
      faults: {
        ambiguousWriteRate: 0.3,
        writeErrorRate: 0.2,
        writeErrorReasons: ["TooManyRequests"],
      },
    },
    convergeWithinMs: 600_000,
  });
  const attempts = report.harness.writes;
  const reached = attempts.filter((w) => w.error !== "TooManyRequests").length;
  assert.ok(report.injected.ambiguousWrite! > 0, JSON.stringify(report.injected));
  assert.ok(attempts.some((w) => w.error === "Timeout"), "some answers were lost");
  assert.equal(report.writes, reached, `${attempts.length} attempts`);
});

const badFaultFiles: [string, unknown, RegExp][] = [
  [
    "a rate above 1",
    { faults: { writeErrorRate: 1.5 } },
    /writeErrorRate must be a number from 0 to 1/,
  ],
  ["a crash rate above 1", { crashRate: 2 }, /crashRate must be a number from 0 to 1/],
  [
    "an unknown error reason",
    { faults: { writeErrorRate: 0.1, writeErrorReasons: ["Teapot"] } },
    /unknown write error reason "Teapot"/,
  ],
  ["an unknown cluster key", { cluster: { warpDrive: true } }, /unknown cluster key "warpDrive"/],
  [
    "a cluster value of the wrong type",
    { cluster: { readyDelayMs: "soon" } },
    /cluster.readyDelayMs/,
  ],
];

for (const [what, content, message] of badFaultFiles) {
  Deno.test(`cli: a faults file with ${what} exits 2 with one line naming it`, async () => {
    const file = await Deno.makeTempFile({ suffix: ".json" });
    await Deno.writeTextFile(file, JSON.stringify(content));
    const out = await run([
      "main.ts",
      "sim",
      "-f",
      "examples/postgresdb.yaml",
      "--faults-file",
      file,
    ]);
    assert.equal(out.code, 2, out.stdout + out.stderr);
    assert.match(out.stderr, message);
    assert.equal(out.stderr.trim().split("\n").length, 1, out.stderr);
  });
}

Deno.test("cli: sim and sim --faults none keep one contract on the same input", async () => {
  // A refusal the operator reports (a same-named Service of someone else) is an end state for
  // both; a namespace that does not exist is bad input for both.
  const conflict = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    conflict,
    `apiVersion: v1
kind: Service
metadata: { name: my-postgres, namespace: default }
spec: { ports: [{ port: 80 }] }
---
${await Deno.readTextFile("examples/postgresdb.yaml")}`,
  );
  const missing = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    missing,
    (await Deno.readTextFile("examples/postgresdb.yaml")).replace(
      "namespace: default",
      "namespace: nowhere",
    ),
  );
  for (
    const [file, code] of [[conflict, 0], [missing, 2], ["examples/postgresdb.yaml", 0]] as const
  ) {
    const plain = await run(["main.ts", "sim", "-f", file]);
    const none = await run(["main.ts", "sim", "-f", file, "--faults", "none"]);
    assert.equal(plain.code, code, `sim -f ${file}: ${plain.stdout}${plain.stderr}`);
    assert.equal(none.code, code, `sim --faults none -f ${file}: ${none.stdout}${none.stderr}`);
  }
});
