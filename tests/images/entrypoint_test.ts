// Goal: the postgres images' entrypoint keeps the promises the operator and the simulation rely
// on: a data directory of another major is refused with one line and a non-zero exit (so that
// pod never becomes ready), PGDATA is made 0700 on every start (the kubelet's fsGroup makes it
// g+rwxs), postgres is exec'd with the arguments given, and a first start without a password is
// refused. The full initdb-and-connect path runs in each image's build-time smoke test.
// Method: run scripts/images/docker-entrypoint.sh with a stand-in `postgres` on PATH that
// reports a version and echoes its arguments, as an unprivileged uid (setpriv when root).
import assert from "node:assert/strict";

const ENTRYPOINT = new URL("../../scripts/images/docker-entrypoint.sh", import.meta.url).pathname;
const NOBODY = 65534;
const isRoot = Deno.uid() === 0;

async function sandbox(): Promise<{ dir: string; pgdata: string }> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/bin`);
  await Deno.writeTextFile(
    `${dir}/bin/postgres`,
    '#!/bin/sh\nif [ "$1" = "-V" ] || [ "$1" = "--version" ]; then echo "postgres (PostgreSQL) 16.15"; ' +
      'exit 0; fi\necho "postgres started: $*"\n',
  );
  await Deno.chmod(`${dir}/bin/postgres`, 0o755);
  await Deno.chmod(dir, 0o755);
  const pgdata = `${dir}/pgdata`;
  await Deno.mkdir(pgdata);
  if (isRoot) await Deno.chown(pgdata, NOBODY, NOBODY);
  return { dir, pgdata };
}

async function entrypoint(dir: string, env: Record<string, string>, ...args: string[]) {
  const command = isRoot
    ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "bash", ENTRYPOINT]
    : ["bash", ENTRYPOINT];
  const out = await new Deno.Command(command[0]!, {
    args: [...command.slice(1), ...args],
    clearEnv: true,
    env: { PATH: `${dir}/bin:/usr/bin:/bin`, ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("entrypoint: a data directory of another major is refused with one line", async () => {
  const { dir, pgdata } = await sandbox();
  try {
    await Deno.writeTextFile(`${pgdata}/PG_VERSION`, "15\n");
    const { code, stdout, stderr } = await entrypoint(dir, { PGDATA: pgdata }, "postgres");
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.equal(
      stderr,
      `docker-entrypoint.sh: PGDATA "${pgdata}" holds a PostgreSQL 15 data directory; ` +
        "this image runs PostgreSQL 16 (refusing to start)\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("entrypoint: every start makes PGDATA 0700 and execs postgres with its arguments", async () => {
  const { dir, pgdata } = await sandbox();
  try {
    await Deno.writeTextFile(`${pgdata}/PG_VERSION`, "16\n");
    await Deno.chmod(pgdata, 0o2770);
    const { code, stdout } = await entrypoint(dir, { PGDATA: pgdata }, "-c", "port=5433");
    assert.equal(code, 0);
    assert.equal(stdout, "postgres started: -c port=5433\n");
    assert.equal((await Deno.stat(pgdata)).mode! & 0o7777, 0o2700);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("entrypoint: a first start without POSTGRES_PASSWORD is refused with one line", async () => {
  const { dir, pgdata } = await sandbox();
  try {
    const { code, stderr } = await entrypoint(dir, { PGDATA: pgdata }, "postgres");
    assert.equal(code, 1);
    assert.equal(stderr.trim().split("\n").length, 1);
    assert.match(stderr, /POSTGRES_PASSWORD is not set/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "entrypoint: started as root, it hands PGDATA to 999 and runs postgres as 999",
  ignore: !isRoot,
  async fn() {
    const { dir, pgdata } = await sandbox();
    try {
      await Deno.writeTextFile(`${pgdata}/PG_VERSION`, "16\n");
      await Deno.writeTextFile(
        `${dir}/bin/postgres`,
        '#!/bin/sh\n[ "$1" = "-V" ] && { echo "postgres (PostgreSQL) 16.15"; exit 0; }\n' +
          'echo "postgres as $(id -u):$(id -g)"\n',
      );
      const out = await new Deno.Command("bash", {
        args: [ENTRYPOINT, "postgres"],
        clearEnv: true,
        env: { PATH: `${dir}/bin:/usr/bin:/bin`, PGDATA: pgdata },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.equal(new TextDecoder().decode(out.stdout), "postgres as 999:999\n");
      const stat = await Deno.stat(pgdata);
      assert.equal(stat.uid, 999);
      assert.equal(stat.mode! & 0o777, 0o700);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
