// Goal: scripts/images/build.sh's interface holds: bad input gets one line and a non-zero exit
// before anything is built, sources.lock pins every major the CRD accepts with a sha256, the
// Deno it pins is the one the tests run on, and `deno task image` runs build.sh for IMG.
// Method: run build.sh with bad arguments (it stops before any build or root check) and read
// sources.lock; the build itself (debootstrap, smoke tests) runs in scripts/images/build.sh.
import assert from "node:assert/strict";
import { imageBuildArgs } from "../../deploy/install.ts";
import { main } from "../../main.ts";

async function buildSh(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("bash", {
    args: ["scripts/images/build.sh", ...args],
    env: { PGOP_IMAGES_CACHE: "/nonexistent/pgop-images-test" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("build.sh: an unknown option gets one line and exit 1", async () => {
  const { code, stdout, stderr } = await buildSh("--frobnicate");
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.equal(stderr, 'images: error: unknown option "--frobnicate" (see --help)\n');
});

Deno.test("build.sh: a bad operator tag gets one line and exit 1", async () => {
  const { code, stderr } = await buildSh("--operator-only", "--operator-tag", "Not A Tag");
  assert.equal(code, 1);
  assert.equal(stderr, 'images: error: invalid operator tag "Not A Tag": expected name:tag\n');
});

Deno.test("build.sh: a major that sources.lock does not pin gets one line and exit 1", async () => {
  const { code, stderr } = await buildSh("--majors", "13");
  assert.equal(code, 1);
  assert.equal(stderr.trim().split("\n").length, 1);
  assert.match(stderr, /^images: error: (no PostgreSQL 13 in sources\.lock|needs root)/);
});

Deno.test("sources.lock: majors 14 to 18 and Deno are pinned with a sha256", async () => {
  const lines = (await Deno.readTextFile("scripts/images/sources.lock")).split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#")).map((l) => l.trim().split(/\s+/));
  const postgres = lines.filter((f) => f[0] === "postgres");
  assert.deepEqual(postgres.map((f) => f[1]), ["14", "15", "16", "17", "18"]);
  for (const [, major, version, file, sum] of postgres) {
    assert.ok(version!.startsWith(`${major}.`), `${version} is of major ${major}`);
    assert.ok(file!.includes(version!), `${file} is version ${version}`);
    assert.match(sum!, /^[0-9a-f]{64}$/);
  }
  const deno = lines.find((f) => f[0] === "deno");
  const tools = JSON.parse(await Deno.readTextFile(".tools/package.json"));
  assert.equal(deno?.[2], tools.dependencies.deno);
  assert.match(deno?.[4] ?? "", /^[0-9a-f]{64}$/);
});

Deno.test("deno task image: builds IMG with build.sh --operator-only", () => {
  assert.deepEqual(imageBuildArgs("postgres-operator:dev", ["--force"]), [
    "scripts/images/build.sh",
    "--operator-only",
    "--operator-tag",
    "postgres-operator:dev",
    "--force",
  ]);
});

Deno.test("deno task image: an image without a tag is refused with one line and exit 2", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args.join(" "));
  try {
    assert.equal(await main(["image", "IMG=postgres-operator"]), 2);
  } finally {
    console.error = original;
  }
  assert.deepEqual(errors, [
    'error: Invalid image "postgres-operator": expected name:tag, e.g. postgres-operator:dev',
  ]);
});
