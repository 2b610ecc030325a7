// Goal: the runner's entry point, as the Job's pod runs it, against real PostgreSQL and a real S3
// server (versitygw): a backup lands in the bucket with its manifest, a restore brings the rows
// back, and each failure a user can cause ends in a result with its reason and exit code 1.
// Method: `deno run agent/backup/main.ts` as a child process with the Job's environment, a
// throwaway PostgreSQL on a unix socket, versitygw on 127.0.0.1. Skips when either is absent.

import assert from "node:assert/strict";
import { findPostgres, type PgTestSetup, sqlWith, throwawayOptions } from "../_pg_testing.ts";
import { findVersitygw, startTestStore, type TestStore } from "../_s3_testing.ts";
import { RUNNER_ENV } from "../../core/backup/runner_env.ts";
import { S3Store } from "./s3_store.ts";
import { startThrowaway } from "./throwaway.ts";

const pg = await findPostgres(16);
const gw = findVersitygw();
const skip = typeof pg === "string" ? pg : typeof gw === "string" ? gw : undefined;
if (skip) console.log(`SKIP agent/backup/main_test.ts: ${skip}`);

const PREFIX = "pg/default/db/";

/** Runs main.ts with the Job's environment; its exit code and the result it wrote. */
async function runner(env: Record<string, string>) {
  const resultPath = await Deno.makeTempFile({ prefix: "pgop-result-" });
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./main.ts", import.meta.url).pathname],
    env: { ...env, [RUNNER_ENV.resultPath]: resultPath },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = await Deno.readTextFile(resultPath);
  await Deno.remove(resultPath);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(!/^\s+at /m.test(stderr), `no stack trace:\n${stderr}`);
  return { code: out.code, result: JSON.parse(text), stderr };
}

function storeEnv(store: TestStore, secret = store.secretAccessKey): Record<string, string> {
  return {
    [RUNNER_ENV.endpoint]: store.endpoint,
    [RUNNER_ENV.region]: store.region,
    [RUNNER_ENV.bucket]: store.bucket,
    [RUNNER_ENV.prefix]: PREFIX,
    [RUNNER_ENV.accessKeyId]: store.accessKeyId,
    [RUNNER_ENV.secretAccessKey]: secret,
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
  };
}

Deno.test({
  name: "backup runner entry point: backup to a real S3 server, restore, and failures with reasons",
  ignore: skip !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const s = pg as PgTestSetup;
  const store = await startTestStore(gw as { bin: string });
  const source = await startThrowaway(throwawayOptions(s));
  const target = await startThrowaway(throwawayOptions(s));
  const ids = ["20260301T020000Z-aaaaa", "20260302T020000Z-aaaaa", "20260303T020000Z-aaaaa"];
  const backupEnv = (id: string, extra: Record<string, string> = {}) => ({
    ...storeEnv(store),
    ...source.env,
    PGOP_PG_BIN: s.bin,
    [RUNNER_ENV.mode]: "backup",
    [RUNNER_ENV.id]: id,
    [RUNNER_ENV.backup]: "nightly",
    [RUNNER_ENV.postgresDB]: "db",
    [RUNNER_ENV.namespace]: "default",
    [RUNNER_ENV.keepLast]: "2",
    ...extra,
  });
  try {
    await sqlWith(
      s,
      source.env,
      "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 5000) i;",
    );
    let sha = "";
    await t.step(
      "a backup lands in the bucket, dump then manifest, with the size and sha256 reported",
      async () => {
        const { code, result } = await runner(backupEnv(ids[0]!));
        assert.equal(code, 0, JSON.stringify(result));
        assert.equal(result.outcome, "Succeeded");
        sha = result.backup.sha256;
        const client = new S3Store({
          endpoint: store.endpoint,
          region: store.region,
          bucket: store.bucket,
          accessKeyId: store.accessKeyId,
          secretAccessKey: store.secretAccessKey,
        });
        const keys = (await client.listObjects(PREFIX)).map((o) => o.key);
        assert.deepEqual(keys, [`${PREFIX}${ids[0]}/dump.pgc`, `${PREFIX}${ids[0]}/manifest.json`]);
        const manifest = JSON.parse(
          await new Response(await client.getObject(`${PREFIX}${ids[0]}/manifest.json`)).text(),
        );
        assert.equal(manifest.sha256, sha);
        assert.deepEqual(manifest.tables, [{ table: "public.t", rows: 5000 }]);
      },
    );
    await t.step(
      "a restore into an empty database brings the rows back; a second run does nothing",
      async () => {
        const env = {
          ...storeEnv(store),
          ...target.env,
          PGOP_PG_BIN: s.bin,
          [RUNNER_ENV.mode]: "restore",
          [RUNNER_ENV.id]: ids[0]!,
          [RUNNER_ENV.sha256]: sha,
        };
        const first = await runner(env);
        assert.equal(first.code, 0, JSON.stringify(first.result));
        assert.equal(first.result.rows, 5000);
        assert.equal(
          await sqlWith(s, target.env, "SELECT count(*), sum(id) FROM t"),
          "5000|12502500",
        );
        const second = await runner(env);
        assert.equal(second.code, 0);
        assert.equal(second.result.alreadyRestored, true);
      },
    );
    await t.step("retention keeps the newest two", async () => {
      for (const id of ids.slice(1)) assert.equal((await runner(backupEnv(id))).code, 0);
      const client = new S3Store({
        endpoint: store.endpoint,
        region: store.region,
        bucket: store.bucket,
        accessKeyId: store.accessKeyId,
        secretAccessKey: store.secretAccessKey,
      });
      const left = new Set((await client.listObjects(PREFIX)).map((o) => o.key.split("/")[3]));
      assert.deepEqual([...left].sort(), ids.slice(1));
    });
    await t.step(
      "wrong credentials, a stopped store and a wrong checksum each fail with their reason",
      async () => {
        const bad = await runner({
          ...backupEnv("20260304T020000Z-aaaaa"),
          [RUNNER_ENV.secretAccessKey]: "wrong",
        });
        assert.equal(bad.code, 1);
        assert.equal(bad.result.reason, "BadCredentials");
        const mismatch = await runner({
          ...storeEnv(store),
          ...target.env,
          PGOP_PG_BIN: s.bin,
          [RUNNER_ENV.mode]: "restore",
          [RUNNER_ENV.id]: ids[2]!,
          [RUNNER_ENV.sha256]: "0".repeat(64),
        });
        assert.equal(mismatch.code, 1);
        assert.equal(mismatch.result.reason, "ChecksumMismatch");
        await store.stop();
        const down = await runner(backupEnv("20260305T020000Z-aaaaa"));
        assert.equal(down.code, 1);
        assert.equal(down.result.reason, "StoreUnreachable");
        assert.match(down.result.message, /127\.0\.0\.1/);
        await store.restart();
        assert.equal(
          (await runner(backupEnv("20260306T020000Z-aaaaa"))).code,
          0,
          "the next one succeeds",
        );
      },
    );
  } finally {
    await source.cleanup();
    await target.cleanup();
    await store.close();
  }
});
