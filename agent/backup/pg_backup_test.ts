// Goal: the real dumper and restorer, run by runBackup() and runRestore(), carry a database's
// rows through a store and back with the same counts; a corrupted dump restores nothing; the
// throwaway verifier verifies a backup.
// Method: throwaway PostgreSQL servers on unix sockets (binaries from the image build cache, run
// as an unprivileged user), the in-memory store double. Skips when the binaries are absent.

import assert from "node:assert/strict";
import { findPostgres, type PgTestSetup, sqlWith, throwawayOptions } from "../_pg_testing.ts";
import { MemoryStore } from "../../runtime/_backup_testing.ts";
import { runBackup, runRestore } from "../../runtime/backup_runner.ts";
import { dumpKey } from "../../core/backup/runner_env.ts";
import { PgDumper } from "./pg_dumper.ts";
import { PgRestorer } from "./pg_restorer.ts";
import { startThrowaway, throwawayVerifier } from "./throwaway.ts";

const setup = await findPostgres(16);
if (typeof setup === "string") console.log(`SKIP agent/backup/pg_backup_test.ts: ${setup}`);

const PREFIX = "backups/default/db/";
const ID = "20250102T030405Z-abc";

Deno.test({
  name:
    "PgDumper and PgRestorer: a backup restores the same rows; a corrupted one restores nothing",
  ignore: typeof setup === "string",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const s = setup as PgTestSetup;
  const source = await startThrowaway(throwawayOptions(s));
  const targets = [
    await startThrowaway(throwawayOptions(s)),
    await startThrowaway(throwawayOptions(s)),
  ];
  try {
    await sqlWith(
      s,
      source.env,
      `CREATE TABLE t (id int PRIMARY KEY, v text);
      INSERT INTO t SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 20000) i;
      CREATE SCHEMA "Odd schema"; CREATE TABLE "Odd schema"."x|y" (a int);
      INSERT INTO "Odd schema"."x|y" VALUES (1), (2);`,
    );
    const store = new MemoryStore();
    const backup = await runBackup({
      store,
      dumper: new PgDumper({ ...throwawayOptions(s), env: source.env }),
      prefix: PREFIX,
      id: ID,
      namespace: "default",
      postgresDB: "db",
      database: "verify",
      backup: "nightly",
      partSizeBytes: 256 * 1024,
      now: Date.now,
    });
    assert.ok(backup.outcome === "Succeeded" && backup.mode === "backup", JSON.stringify(backup));
    await t.step("restore into another database: same rows, second run does nothing", async () => {
      const restorer = new PgRestorer({ ...throwawayOptions(s), env: targets[0]!.env });
      const run = () =>
        runRestore({
          store,
          restorer,
          prefix: PREFIX,
          id: ID,
          sha256: backup.backup.sha256,
          now: Date.now,
        });
      const first = await run();
      assert.ok(first.outcome === "Succeeded" && first.mode === "restore", JSON.stringify(first));
      assert.equal(first.rows, 20002);
      assert.equal(first.alreadyRestored, false);
      const query = `SELECT count(*), sum(length(v)) FROM t`;
      assert.equal(await sqlWith(s, targets[0]!.env, query), await sqlWith(s, source.env, query));
      const second = await run();
      assert.ok(
        second.outcome === "Succeeded" && second.mode === "restore" && second.alreadyRestored,
      );
    });
    await t.step("a flipped byte in the store: ChecksumMismatch, target unchanged", async () => {
      const key = dumpKey(PREFIX, ID);
      const body = store.objects.get(key)!.slice();
      body[Math.floor(body.byteLength / 2)]! ^= 0x01;
      store.objects.set(key, body);
      const restorer = new PgRestorer({ ...throwawayOptions(s), env: targets[1]!.env });
      const result = await runRestore({ store, restorer, prefix: PREFIX, id: ID, now: Date.now });
      assert.equal(
        result.outcome === "Failed" && result.reason,
        "ChecksumMismatch",
        JSON.stringify(result),
      );
      assert.equal(
        await sqlWith(s, targets[1]!.env, "SELECT to_regclass('public.t') IS NULL"),
        "t",
      );
      assert.equal(await restorer.restoredMarker(), undefined);
    });
    await t.step("the throwaway verifier verifies a backup", async () => {
      const verified = await runBackup({
        store: new MemoryStore(),
        dumper: new PgDumper({ ...throwawayOptions(s), env: source.env }),
        prefix: PREFIX,
        id: ID,
        namespace: "default",
        postgresDB: "db",
        database: "verify",
        backup: "nightly",
        verifier: throwawayVerifier(throwawayOptions(s)),
        now: Date.now,
      });
      assert.ok(
        verified.outcome === "Succeeded" && verified.mode === "backup",
        JSON.stringify(verified),
      );
      assert.equal(verified.backup.verified, true);
    });
  } finally {
    for (const db of [source, ...targets]) await db.cleanup();
  }
});

Deno.test({
  name: "PgDumper: an unreachable database fails as DatabaseUnreachable",
  ignore: typeof setup === "string",
}, async () => {
  const s = setup as PgTestSetup;
  const result = await runBackup({
    store: new MemoryStore(),
    dumper: new PgDumper({
      ...throwawayOptions(s),
      env: { PGHOST: "/nonexistent", PGCONNECT_TIMEOUT: "2" },
    }),
    prefix: PREFIX,
    id: ID,
    namespace: "default",
    postgresDB: "db",
    database: "app",
    backup: "nightly",
    now: Date.now,
  });
  assert.equal(
    result.outcome === "Failed" && result.reason,
    "DatabaseUnreachable",
    JSON.stringify(result),
  );
});
