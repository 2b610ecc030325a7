// Goal: the command line as a user meets it: demo's tables, sim's JSON and exit codes, and one
// clear line (no stack trace) for bad input. Method: run main.ts in a subprocess.
import assert from "node:assert/strict";

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "main.ts", ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

async function tempFile(text: string): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(path, text);
  return path;
}

Deno.test("cli: demo prints my-postgres Running and ready, with its children", async () => {
  const { code, stdout } = await cli("demo");
  assert.equal(code, 0, stdout);
  assert.match(
    stdout,
    /\$ kubectl get postgresdbs\nNAME\s+VERSION\s+REPLICAS\s+PHASE\s+READY\s+PRIMARY\s+STREAMING\s+AGE\nmy-postgres\s+16\s+1\s+Running\s+true\s+my-postgres-0\s+0\s+\d+s/,
  );
  assert.match(stdout, /\$ kubectl get statefulsets\nNAME\s+READY\s+AGE\nmy-postgres\s+1\/1/);
  assert.match(stdout, /my-postgres\s+ClusterIP\s+None\s+<none>\s+5432\/TCP/);
  assert.match(stdout, /data-my-postgres-0\s+Bound\s+pv-\w+\s+1Gi\s+RWO/);
  assert.match(stdout, /my-postgres-credentials\s+Opaque\s+8/);
  assert.ok(
    !/password:|[A-Za-z0-9]{24}/.test(stdout.split("$ kubectl get events")[0]!),
    "no secret values",
  );
});

Deno.test("cli: sim --output json gives the documented object", async () => {
  const { code, stdout } = await cli(
    "sim",
    "-f",
    "examples/postgresdb.yaml",
    "--output",
    "json",
    "--seed",
    "7",
  );
  assert.equal(code, 0);
  const report = JSON.parse(stdout);
  assert.deepEqual(Object.keys(report), [
    "converged",
    "virtualSeconds",
    "reconciles",
    "apiWrites",
    "objects",
    "events",
  ]);
  assert.equal(report.converged, true);
  assert.ok(report.virtualSeconds > 0);
  assert.ok(report.reconciles > 0);
  assert.ok(report.apiWrites > 0);
  const db = report.objects.find((o: { kind: string }) => o.kind === "PostgresDB");
  assert.equal(db.status.phase, "Running");
  assert.ok(report.events.length > 0);
});

Deno.test("cli: sim on the same seed prints the same JSON", async () => {
  const a = await cli("sim", "-f", "examples/postgresdb.yaml", "--output", "json", "--seed", "9");
  const b = await cli("sim", "-f", "examples/postgresdb.yaml", "--output", "json", "--seed", "9");
  assert.equal(a.stdout, b.stdout);
});

Deno.test("cli: sim exits 1 when the bound is too short to converge", async () => {
  const { code, stdout } = await cli(
    "sim",
    "-f",
    "examples/postgresdb.yaml",
    "--max-virtual-seconds",
    "1",
  );
  assert.equal(code, 1);
  assert.match(stdout, /Not converged/);
});

Deno.test("cli: an invalid PostgresDB is not bad input: it converges to InvalidSpec", async () => {
  const file = await tempFile(`apiVersion: database.thegeekyway.com/v1alpha1
kind: PostgresDB
metadata: { name: broken, namespace: default }
spec: { version: "16", storage: "10 gigs", databaseName: myapp }
`);
  const { code, stdout } = await cli("sim", "-f", file, "--output", "json");
  assert.equal(code, 0);
  const db = JSON.parse(stdout).objects.find((o: { kind: string }) => o.kind === "PostgresDB");
  assert.equal(db.status.conditions[0].reason, "InvalidSpec");
});

/** Nine levels of nine aliases: 9^9 strings if expanded without a bound. */
const ALIAS_BOMB = ["a: &a [x, x, x, x, x, x, x, x, x]"].concat(
  "bcdefghi".split("").map((name, i) => {
    const prev = "abcdefghi"[i];
    return `${name}: &${name} [${Array(9).fill(`*${prev}`).join(", ")}]`;
  }),
).join("\n") + "\n";

const UNDEFINED_ALIAS = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: *nope\n";

const badInputs: [string, () => string[] | Promise<string[]>, RegExp][] = [
  [
    "a missing file",
    () => ["sim", "-f", "/nonexistent/x.yaml"],
    /Cannot read "\/nonexistent\/x.yaml": no such file/,
  ],
  [
    "unreadable YAML",
    async () => ["sim", "-f", await tempFile("a: [unclosed\n")],
    /Cannot parse .*/,
  ],
  [
    "an unknown kind",
    async () => [
      "sim",
      "-f",
      await tempFile(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: default}\n",
      ),
    ],
    /Cannot apply Widget default\/w/,
  ],
  [
    "a document without kind",
    async () => ["sim", "-f", await tempFile("apiVersion: v1\nmetadata: {name: x}\n")],
    /kind is missing/,
  ],
  ["an unknown option", () => ["sim", "--frobnicate"], /frobnicate/],
  [
    "a bad --output",
    () => ["sim", "-f", "examples/postgresdb.yaml", "--output", "xml"],
    /--output must be table or json/,
  ],
  ["an unknown command", () => ["launch"], /Unknown command "launch"/],
  [
    "a YAML alias bomb given to sim",
    async () => ["sim", "-f", await tempFile(ALIAS_BOMB)],
    /Cannot parse .*: Excessive alias count/,
  ],
  [
    "a YAML alias bomb given to plan",
    async () => ["plan", "-f", await tempFile(ALIAS_BOMB)],
    /Cannot parse .*: Excessive alias count/,
  ],
  [
    "an undefined YAML alias given to sim",
    async () => ["sim", "-f", await tempFile(UNDEFINED_ALIAS)],
    /Cannot parse .*: Unresolved alias/,
  ],
  [
    "an undefined YAML alias given to plan",
    async () => ["plan", "-f", await tempFile(UNDEFINED_ALIAS)],
    /Cannot parse .*: Unresolved alias/,
  ],
  [
    "an undefined YAML alias given to sim --faults",
    async () => ["sim", "--faults", "light", "-f", await tempFile(UNDEFINED_ALIAS)],
    /Cannot parse .*: Unresolved alias/,
  ],
  [
    "a negative --seed",
    () => ["sim", "-f", "examples/postgresdb.yaml", "--seed", "-1"],
    /--seed must be a whole number, not "-1"/,
  ],
  [
    "a numeric name",
    async () => [
      "sim",
      "-f",
      await tempFile("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 123}\n"),
    ],
    /metadata.name must be a string, not the number 123/,
  ],
];

for (const [what, args, message] of badInputs) {
  Deno.test(`cli: ${what} exits 2 with one line and no stack trace`, async () => {
    const { code, stderr } = await cli(...await args());
    assert.equal(code, 2);
    assert.match(stderr, message);
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.ok(!/\bat .*\.ts:\d+/.test(stderr), "no stack trace");
  });
}

Deno.test("cli: plan prints what the operator would do, without secret values", async () => {
  const { code, stdout } = await cli("plan", "-f", "examples/postgresdb.yaml");
  assert.equal(code, 0);
  assert.match(stdout, /create Secret default\/my-postgres-credentials/);
  assert.match(stdout, /create StatefulSet default\/my-postgres/);
});

Deno.test("cli: demo --failover shows a fenced primary replaced, then a switchover back", async () => {
  const { code, stdout } = await cli("demo", "--failover");
  assert.equal(code, 0, stdout);
  const fenced = stdout.indexOf("Accepting writes: none");
  const started = stdout.indexOf("FailoverStarted");
  const completed = stdout.indexOf("FailoverCompleted");
  const switched = stdout.indexOf("SwitchoverCompleted");
  assert.ok(fenced > 0 && fenced < started && started < completed && completed < switched, stdout);
  assert.match(stdout, /Accepting writes: my-postgres-[12]\n/);
  assert.match(stdout, /At most one instance accepted writes at every step/);
});
