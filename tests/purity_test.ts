// Goal: every non-test module under core/ is pure (imports only core/, no clock, randomness,
// timers, network or Deno), and the check has teeth: fed an impure text, it says what is wrong.
// Method: purityProblems() on each file of core/, then on hand-made bad and good texts; and
// `deno check` with pure.deno.json (no Deno types) rejects a module that uses Deno.
import assert from "node:assert/strict";
import { purityProblems } from "./purity.ts";

async function coreModules(dir = "core"): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...await coreModules(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) files.push(path);
  }
  return files.sort();
}

Deno.test("purity: every non-test module under core/ is pure", async () => {
  const files = await coreModules();
  assert.ok(files.length >= 20, `only ${files.length} modules found`);
  const problems = [];
  for (const file of files) problems.push(...purityProblems(file, await Deno.readTextFile(file)));
  assert.deepEqual(problems, []);
});

const BAD: [string, string, RegExp][] = [
  ["a relative import out of core/", 'import { x } from "../sim/clock.ts";', /outside core/],
  ["a deep relative import out", 'export { y } from "../../runtime/queue.ts";', /outside core/],
  ["an npm package", 'import fc from "npm:fast-check";', /not a module of core/],
  ["a jsr package", 'import { x } from "jsr:@std/assert";', /not a module of core/],
  ["a URL", 'import "https://example.com/mod.ts";', /not a module of core/],
  ["a mapped bare name", 'import { parse } from "yaml";', /not a module of core/],
  ["a dynamic import", 'const m = await import("node:fs");', /not a module of core/],
  ["a computed dynamic import", "const m = await import(name);", /<computed>/],
  ["Deno", "const home = Deno.env.get('HOME');", /uses Deno/],
  ["Date.now", "const t = Date.now();", /uses Date\.now/],
  ["new Date()", "const d = new Date ( );", /uses new Date\(\)/],
  ["Math.random", "const r = Math.random();", /uses Math\.random/],
  ["setTimeout", "setTimeout(() => {}, 10);", /uses setTimeout/],
  ["setInterval", "const h = setInterval(tick, 10);", /uses setInterval/],
  ["fetch", "const r = await fetch(url);", /uses fetch/],
  ["crypto", "const id = crypto.randomUUID();", /uses crypto/],
  ["performance", "const t = performance.now();", /uses performance/],
  ["a clock inside a template", "const s = `at ${Date.now()}`;", /uses Date\.now/],
];

for (const [what, text, expected] of BAD) {
  Deno.test(`purityProblems() rejects ${what}`, () => {
    const problems = purityProblems("core/bad.ts", `// A module.\n${text}\n`);
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.match(problems[0]!, expected);
    assert.match(problems[0]!, /^core\/bad\.ts/);
  });
}

Deno.test("purityProblems() names the line of a forbidden use", () => {
  assert.deepEqual(purityProblems("core/x.ts", "const a = 1;\n\nconst b = Math.random();\n"), [
    "core/x.ts:3 uses Math.random (randomness)",
  ]);
});

Deno.test("purityProblems() accepts imports within core/, values of time, and comments", () => {
  const text = [
    'import { a } from "./object.ts";',
    'import type { B } from "../actions.ts";',
    'export * from "./postgres/types.ts";',
    "// Date.now() is not called here; neither is fetch(url) or Deno.exit().",
    "/** @example",
    ' * import { SimCluster } from "../sim/cluster.ts";',
    " * setTimeout(() => {}, 0);",
    " */",
    "const when = new Date(nowMs).toISOString();",
    'const text = "call Math.random() // not code";',
    "const note = `${when}: performance.now() is only text`;",
    "const myfetch = refetch(1);",
  ].join("\n");
  assert.deepEqual(purityProblems("core/postgres/x.ts", text), []);
});

Deno.test("check:pure: pure.deno.json type-checks without Deno's types", async () => {
  const dir = await Deno.makeTempDir({ prefix: "purity-probe-" });
  try {
    await Deno.writeTextFile(`${dir}/ok.ts`, "export const n: number = Math.max(1, 2);\n");
    await Deno.writeTextFile(`${dir}/bad.ts`, "export const h = Deno.env.get('HOME');\n");
    const check = (file: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["check", "--quiet", "--config", `${Deno.cwd()}/pure.deno.json`, file],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const ok = await check(`${dir}/ok.ts`);
    assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
    const bad = await check(`${dir}/bad.ts`);
    assert.notEqual(bad.code, 0, "a module using Deno passed the check");
    assert.match(new TextDecoder().decode(bad.stderr), /Cannot find name 'Deno'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
