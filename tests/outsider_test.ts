// Goal: someone outside this repository can write and test a controller with the library. Method:
// the README's "Write your own controller" section is the project: its TypeScript blocks are
// written, as they are, to a temporary folder outside the repository where `./pgop` is this
// repository (as a clone or a git submodule would be), with no import map and no deno.json of
// ours, and `deno check` and `deno test` must pass there. A file that imports a missing name
// must fail, so a check that passes proves something.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const SECTION = "## Write your own controller";

/**
 * The section's TypeScript blocks whose first line is `// <file>.ts`, by file name. They are marked
 * `ts ignore` so that `deno test --doc` in this repository (where `./pgop` does not exist) leaves
 * them to this test.
 */
export function guideFiles(readme: string): Map<string, string> {
  const start = readme.indexOf(SECTION);
  assert.ok(start >= 0, `README has no "${SECTION}" section`);
  const end = readme.indexOf("\n## ", start + SECTION.length);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const files = new Map<string, string>();
  for (const match of section.matchAll(/```ts(?: ignore)?\n(\/\/ ([\w.]+\.ts)\n[\s\S]*?)```/g)) {
    files.set(match[2]!, match[1]!);
  }
  return files;
}

async function deno(cwd: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

async function outsiderProject(): Promise<{ dir: string; files: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "pgop-outsider-" });
  assert.ok(!dir.startsWith(REPO), "the project must be outside the repository");
  await Deno.symlink(REPO, join(dir, "pgop"));
  const files = guideFiles(await Deno.readTextFile(join(REPO, "README.md")));
  for (const [name, text] of files) await Deno.writeTextFile(join(dir, name), text);
  return { dir, files: [...files.keys()] };
}

Deno.test("outsider: the README's guide has a controller and its test", async () => {
  const files = guideFiles(await Deno.readTextFile(join(REPO, "README.md")));
  const names = [...files.keys()];
  assert.ok(names.some((n) => n.endsWith("_test.ts")), `no test file in ${names.join(", ")}`);
  assert.ok(
    names.some((n) => !n.endsWith("_test.ts")),
    `no controller file in ${names.join(", ")}`,
  );
  for (const text of files.values()) {
    assert.doesNotMatch(
      text,
      /from "(?:\.\.\/|\.\/(?!pgop\/)[^"]*\/)/,
      "imports only ./pgop/ and its own files",
    );
  }
});

Deno.test("outsider: the guide's project type-checks and its tests pass outside the repository", async () => {
  const { dir, files } = await outsiderProject();
  try {
    const check = await deno(dir, "check", ...files);
    assert.equal(check.code, 0, check.text);
    const test = await deno(
      dir,
      "test",
      "--no-prompt",
      ...files.filter((f) => f.endsWith("_test.ts")),
    );
    assert.equal(test.code, 0, test.text);
    const passed = Number(/ok \| (\d+) passed \| 0 failed/.exec(test.text)?.[1] ?? 0);
    assert.ok(passed >= 2, `expected the guide's tests to run:\n${test.text}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("outsider: a name the library does not export fails the check there", async () => {
  const { dir } = await outsiderProject();
  try {
    await Deno.writeTextFile(
      join(dir, "broken.ts"),
      'import { NoSuchHelper } from "./pgop/mod.ts";\nconsole.log(NoSuchHelper);\n',
    );
    const check = await deno(dir, "check", "broken.ts");
    assert.notEqual(check.code, 0);
    assert.match(check.text, /NoSuchHelper/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
