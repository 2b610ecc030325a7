// Goal: the upgrade runner on a real volume upgrades PostgreSQL 16 data to 17 with pg_upgrade
// --link and keeps every row and role; a run stopped at any step is rolled back (the old cluster
// starts and serves on 16) or completed by the next run; an extension the new major lacks is
// found before anything changes; a completed upgrade retried does nothing.
// Method: real binaries of both majors from the image build cache, run as an unprivileged user;
// the agent's own PostgresPort makes and serves the clusters; a wrapper stops a run after a chosen
// step, as a killed pod would. Skips when the binaries are absent.

import assert from "node:assert/strict";
import { PostgresPort } from "../postgres_port.ts";
import {
  findPostgres,
  freePort,
  ownedTempDir,
  type PgTestSetup,
  sql,
  testPortOptions,
  waitFor,
} from "../_pg_testing.ts";
import { runUpgrade } from "../../runtime/upgrade_runner.ts";
import type { UpgradeVolume } from "../../core/upgrade/types.ts";
import { PgUpgradeVolume } from "./volume.ts";
import { runFromEnv } from "./main.ts";

const old = await findPostgres(16);
const next = await findPostgres(17);
const missing = [old, next].find((s) => typeof s === "string");
if (missing !== undefined) console.log(`SKIP agent/upgrade/volume_test.ts: ${missing}`);

/** Serves `dir/pgdata` with `setup`'s binaries until `body` ends. */
async function serving<T>(
  setup: PgTestSetup,
  dir: string,
  body: (port: number) => Promise<T>,
  init = false,
): Promise<T> {
  const port = freePort();
  const pg = new PostgresPort(testPortOptions(setup, dir, port, new Map()));
  const until = (what: string, ok: () => boolean) =>
    waitFor(what, async () => {
      await pg.refresh(true);
      return ok() ? true : undefined;
    }, () => `${JSON.stringify(pg.observe())} ${pg.lastError ?? ""}\n${pg.serverLog()}`);
  await pg.refresh(true);
  if (init) {
    assert.ok(pg.perform({ kind: "initdb", reason: "test" }).ok);
    await until("initdb", () => pg.observe().data.kind === "initialized");
  }
  assert.ok(pg.perform({ kind: "start", reason: "test" }).ok);
  await until("the server to run", () => pg.observe().process === "running");
  try {
    return await body(port);
  } finally {
    assert.ok(pg.perform({ kind: "stop", mode: "fast", reason: "test" }).ok);
    await until("the server to stop", () => pg.observe().process === "stopped");
  }
}

function volumeOf(dir: string, free = Number.MAX_SAFE_INTEGER): PgUpgradeVolume {
  const o = old as PgTestSetup;
  const n = next as PgTestSetup;
  return new PgUpgradeVolume({
    pgdata: `${dir}/pgdata`,
    oldBin: o.bin,
    newBin: n.bin,
    newMajor: 17,
    superuser: "postgres",
    superuserPassword: "super secret",
    replicationUser: "replicator",
    networks: ["127.0.0.1/32"],
    commandPrefix: n.commandPrefix,
    ...(n.fileOwner ? { fileOwner: n.fileOwner } : {}),
    ports: { old: freePort(), new: freePort() },
    freeBytes: () => Promise.resolve(free),
    noSync: true,
  });
}

/** A volume that stops the run (throws, as a killed pod) right after `step` returns. */
function stoppingAfter(volume: UpgradeVolume, step: keyof UpgradeVolume): UpgradeVolume {
  return new Proxy(volume, {
    get(target, key) {
      const value = Reflect.get(target, key) as (...args: unknown[]) => Promise<unknown>;
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        const result = await value.apply(target, args);
        if (key === step) throw new Error(`pod killed after ${String(step)}`);
        return result;
      };
    },
  });
}

const ROWS = "select count(*) || ':' || sum(v) from t";

async function makeOld(): Promise<string> {
  const dir = ownedTempDir(old as PgTestSetup, "pgop-upgrade-");
  await serving(old as PgTestSetup, dir, async (port) => {
    await sql(
      old as PgTestSetup,
      port,
      "create table t (v int); insert into t select generate_series(1, 50000); " +
        "create index on t (v)",
    );
  }, true);
  return dir;
}

const now = () => Date.now();

Deno.test({
  name: "upgrade runner on a real volume: 16 to 17 keeps rows and roles, and a retry does nothing",
  ignore: missing !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await makeOld();
  try {
    // The kubelet gives a mounted volume the pod's fsGroup: group rwx and setgid.
    Deno.chmodSync(`${dir}/pgdata`, 0o2770);
    const started = Date.now();
    const result = await runUpgrade({ volume: volumeOf(dir), from: 16, to: 17, now });
    console.log(`upgrade of 50,000 rows: ${Date.now() - started} ms`);
    assert.equal(result.outcome, "Succeeded", JSON.stringify(result));
    assert.equal(Deno.readTextFileSync(`${dir}/pgdata/PG_VERSION`).trim(), "17");
    for (
      const leftover of ["pgdata.next", "pgdata.old", "pgop-upgrade.json", "pgop-upgrade-work"]
    ) {
      assert.throws(() => Deno.lstatSync(`${dir}/${leftover}`), `${leftover} was left`);
    }
    await serving(next as PgTestSetup, dir, async (port) => {
      const n = next as PgTestSetup;
      assert.equal(await sql(n, port, ROWS), "50000:1250025000");
      assert.match(await sql(n, port, "show server_version"), /^17\./);
      assert.equal(
        await sql(n, port, "select rolreplication from pg_roles where rolname = 'replicator'"),
        "t",
      );
      assert.equal(await sql(n, port, "show wal_level"), "replica");
    });
    const again = await runUpgrade({ volume: volumeOf(dir), from: 16, to: 17, now });
    assert.equal(again.outcome, "Succeeded");
    assert.match(again.outcome === "Succeeded" ? again.message : "", /already PostgreSQL 17/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "upgrade runner on a real volume: a run stopped before the swap is rolled back, after it completed",
  ignore: missing !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  for (const step of ["writeJournal", "initNext", "check", "link", "configureNext"] as const) {
    await t.step(
      `stopped after ${step}: the old cluster serves on 16, the next run upgrades`,
      async () => {
        const dir = await makeOld();
        try {
          await assert.rejects(
            runUpgrade({ volume: stoppingAfter(volumeOf(dir), step), from: 16, to: 17, now }),
            /pod killed/,
          );
          // What the operator does on a failed upgrade Job: the old cluster must be usable after
          // the rollback the next run (or a rollback-only run) makes. Here: the next run rolls back
          // first, so look at the old cluster through a run that fails its free-space check.
          const refused = await runUpgrade({ volume: volumeOf(dir, 0), from: 16, to: 17, now });
          assert.equal(refused.outcome, "Failed");
          assert.ok(refused.outcome === "Failed" && refused.reason === "InsufficientSpace");
          assert.ok(refused.outcome === "Failed" && refused.rolledBack === true);
          await serving(old as PgTestSetup, dir, async (port) => {
            assert.equal(await sql(old as PgTestSetup, port, ROWS), "50000:1250025000");
          });
          const result = await runUpgrade({ volume: volumeOf(dir), from: 16, to: 17, now });
          assert.equal(result.outcome, "Succeeded", JSON.stringify(result));
          await serving(next as PgTestSetup, dir, async (port) => {
            assert.equal(await sql(next as PgTestSetup, port, ROWS), "50000:1250025000");
          });
        } finally {
          Deno.removeSync(dir, { recursive: true });
        }
      },
    );
  }
  for (const step of ["swap", "finish"] as const) {
    await t.step(`stopped after ${step}: the next run completes the upgrade`, async () => {
      const dir = await makeOld();
      try {
        await assert.rejects(
          runUpgrade({ volume: stoppingAfter(volumeOf(dir), step), from: 16, to: 17, now }),
          /pod killed/,
        );
        const result = await runUpgrade({ volume: volumeOf(dir), from: 16, to: 17, now });
        assert.equal(result.outcome, "Succeeded", JSON.stringify(result));
        await serving(next as PgTestSetup, dir, async (port) => {
          assert.equal(await sql(next as PgTestSetup, port, ROWS), "50000:1250025000");
        });
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    });
  }
});

Deno.test({
  name:
    "upgrade runner on a real volume: an extension 17 lacks (adminpack) fails the check, nothing changed",
  ignore: missing !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await makeOld();
  try {
    await serving(old as PgTestSetup, dir, async (port) => {
      await sql(old as PgTestSetup, port, "create extension adminpack");
    });
    const result = await runUpgrade({ volume: volumeOf(dir), from: 16, to: 17, now });
    assert.equal(result.outcome, "Failed");
    assert.ok(result.outcome === "Failed" && result.reason === "IncompatibleClusters");
    assert.match(result.message, /adminpack/);
    assert.match(result.message, /left as it was/);
    assert.throws(() => Deno.lstatSync(`${dir}/pgdata.next`));
    await serving(old as PgTestSetup, dir, async (port) => {
      assert.equal(await sql(old as PgTestSetup, port, ROWS), "50000:1250025000");
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "upgrade runner's entry point: the check names an extension 17 lacks; a bad environment is refused",
  ignore: missing !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const o = old as PgTestSetup;
  const n = next as PgTestSetup;
  const dir = await makeOld();
  try {
    const check = (port: number) =>
      runFromEnv({
        PGOP_UPGRADE_MODE: "check",
        PGOP_UPGRADE_FROM: "16",
        PGOP_UPGRADE_TO: "17",
        PGOP_PG_BIN: n.bin,
        PGHOST: "127.0.0.1",
        PGPORT: String(port),
        PGUSER: "postgres",
        PGPASSWORD: "super secret",
        PGDATABASE: "app",
        PGDATA: `${dir}/pgdata`,
      }, () => {});
    await serving(o, dir, async (port) => {
      const fit = await check(port);
      assert.equal(fit.outcome, "Succeeded", JSON.stringify(fit));
      assert.match(fit.message, /the volume has room \(\d+ MiB free\)/);
      await sql(o, port, "create extension adminpack");
      const unfit = await check(port);
      assert.ok(unfit.outcome === "Failed" && unfit.reason === "ExtensionsUnavailable");
      assert.match(unfit.message, /extension "adminpack" \(in "app"\)/);
      await sql(o, port, "drop extension adminpack");
    });
    assert.equal((await check(freePort())).outcome, "Failed");
    const bad = await runFromEnv(
      { PGOP_UPGRADE_MODE: "upgrade", PGOP_UPGRADE_FROM: "16" },
      () => {},
    );
    assert.ok(bad.outcome === "Failed" && bad.reason === "InvalidConfiguration");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "instance agent on a volume an upgrade left: it rolls back before the swap, completes after",
  ignore: missing !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const observe = async (setup: PgTestSetup, dir: string) => {
    const pg = new PostgresPort(testPortOptions(setup, dir, freePort(), new Map()));
    await pg.refresh(true);
    return pg.observe().data;
  };
  for (const [step, setup, major] of [["link", old, 16], ["swap", next, 17]] as const) {
    await t.step(`stopped after ${step}: the agent sees PostgreSQL ${major} data`, async () => {
      const dir = await makeOld();
      try {
        await assert.rejects(
          runUpgrade({ volume: stoppingAfter(volumeOf(dir), step), from: 16, to: 17, now }),
          /pod killed/,
        );
        const data = await observe(setup as PgTestSetup, dir);
        assert.equal(data.kind, "initialized", JSON.stringify(data));
        assert.ok(data.kind === "initialized" && data.major === major);
        assert.throws(() => Deno.lstatSync(`${dir}/pgop-upgrade.json`), "the journal is settled");
        await serving(setup as PgTestSetup, dir, async (port) => {
          assert.equal(await sql(setup as PgTestSetup, port, ROWS), "50000:1250025000");
        });
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    });
  }
});
