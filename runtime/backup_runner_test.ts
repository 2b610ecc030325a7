// Goal: runBackup() cuts the dump into parts, hashes it, writes the manifest only after the
// upload completed, aborts and reports the right reason on failure, and deletes old manifests
// before their dumps; runRestore() never commits a dump that differs from its manifest and does
// nothing the second time.
// Method: an in-memory store that records its calls and fails on demand, a fake dumper over
// fixed bytes and a fake restorer that "commits" only when its input ends without error.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type BackupRunOptions, runBackup, runRestore } from "./backup_runner.ts";
import { MemoryStore } from "./_backup_testing.ts";
import {
  type BackupManifest,
  DatabaseError,
  type DatabaseRestorer,
  type Dump,
  StoreError,
  type TableCount,
} from "../core/backup/types.ts";
import { dumpKey, manifestKey } from "../core/backup/runner_env.ts";

const PREFIX = "backups/default/db/";
const TABLES: TableCount[] = [{ table: "public.t", rows: 3 }];

function bytes(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) % 251);
}

function hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A dumper streaming `data` in chunks of 1000 bytes; `failAt` errors the stream there. */
function dumper(data: Uint8Array, failAt?: number) {
  return {
    dump(): Promise<Dump> {
      let offset = 0;
      let fail!: (error: Error) => void;
      let ok!: () => void;
      const done = new Promise<void>((resolve, reject) => {
        ok = resolve;
        fail = reject;
      });
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (failAt !== undefined && offset >= failAt) {
            const error = new DatabaseError("Failed", 'pg_dump: error: query failed: "boom"');
            fail(error);
            return controller.error(error);
          }
          if (offset >= data.byteLength) {
            ok();
            return controller.close();
          }
          controller.enqueue(data.slice(offset, offset + 1000));
          offset += 1000;
        },
        cancel() {
          fail(new Error("cancelled"));
        },
      });
      return Promise.resolve({
        stream,
        done,
        tables: Promise.resolve(TABLES),
        serverVersion: "16.4",
        dumpVersion: "pg_dump (PostgreSQL) 16.4",
      });
    },
  };
}

/** A restorer that commits (records the bytes and marker) only when its input ends well. */
class FakeRestorer implements DatabaseRestorer {
  marker: string | undefined;
  restored: Uint8Array | undefined;
  restores = 0;
  constructor(readonly counts: TableCount[] = TABLES) {}
  restoredMarker(): Promise<string | undefined> {
    return Promise.resolve(this.marker);
  }
  async restore(archive: ReadableStream<Uint8Array>, marker: string): Promise<TableCount[]> {
    this.restores++;
    const data = new Uint8Array(await new Response(archive).arrayBuffer());
    this.restored = data;
    this.marker = marker;
    return this.counts;
  }
}

function options(store: MemoryStore, data: Uint8Array, extra: Partial<BackupRunOptions> = {}) {
  let clock = Date.UTC(2025, 0, 2, 3, 4, 5);
  const value: BackupRunOptions = {
    store,
    dumper: dumper(data),
    prefix: PREFIX,
    id: "20250102T030405Z-abc",
    namespace: "default",
    postgresDB: "db",
    database: "app",
    backup: "nightly",
    partSizeBytes: 4096,
    now: () => (clock += 500),
    ...extra,
  };
  return value;
}

function manifest(store: MemoryStore, id: string): BackupManifest {
  return JSON.parse(new TextDecoder().decode(store.objects.get(manifestKey(PREFIX, id))));
}

Deno.test("runBackup() cuts parts of partSizeBytes and hashes the whole dump", async () => {
  const store = new MemoryStore();
  const data = bytes(10_000);
  const result = await runBackup(options(store, data));
  assert.equal(result.outcome, "Succeeded", JSON.stringify(result));
  assert.equal(result.mode === "backup" && result.backup.sha256, hex(data));
  const parts = store.calls.filter((c) => c.startsWith("uploadPart"));
  assert.deepEqual(parts.map((c) => c.split("#")[1]), ["1", "2", "3"]);
  const key = dumpKey(PREFIX, "20250102T030405Z-abc");
  assert.deepEqual(store.objects.get(key), data);
  const m = manifest(store, "20250102T030405Z-abc");
  assert.deepEqual([m.sizeBytes, m.parts, m.sha256, m.tables], [10_000, 3, hex(data), TABLES]);
  assert.equal(m.startedAt, "2025-01-02T03:04:05Z");
});

Deno.test("runBackup() uploads an empty dump as one empty part", async () => {
  const store = new MemoryStore();
  const result = await runBackup(options(store, new Uint8Array()));
  assert.equal(result.outcome, "Succeeded", JSON.stringify(result));
  assert.equal(store.calls.filter((c) => c.startsWith("uploadPart")).length, 1);
  assert.equal(manifest(store, "20250102T030405Z-abc").sha256, hex(new Uint8Array()));
});

Deno.test("runBackup() writes the manifest after the upload completed, then retention", async () => {
  const store = new MemoryStore();
  await runBackup(options(store, bytes(5000)));
  const ops = store.calls.map((c) => c.split(" ")[0]);
  assert.deepEqual(ops, [
    "createMultipartUpload",
    "uploadPart",
    "uploadPart",
    "completeMultipartUpload",
    "putObject",
    "listObjects",
  ]);
});

Deno.test("runBackup() aborts the upload and writes no manifest when the store fails mid-upload", async () => {
  for (
    const [code, reason] of [["Unreachable", "StoreUnreachable"], [
      "Failed",
      "UploadFailed",
    ]] as const
  ) {
    const store = new MemoryStore();
    store.failWith = (call) =>
      call.endsWith("#2") ? new StoreError(code, "connection reset") : undefined;
    const result = await runBackup(options(store, bytes(20_000)));
    assert.equal(result.outcome, "Failed");
    assert.equal(result.outcome === "Failed" && result.reason, reason);
    assert.match(result.outcome === "Failed" ? result.message : "", /part 2 of ".*dump\.pgc"/);
    assert.ok(store.calls.some((c) => c.startsWith("abortMultipartUpload")));
    assert.equal(store.objects.size, 0);
    assert.equal(store.uploads.size, 0);
  }
});

Deno.test("runBackup() maps bad credentials and a missing bucket to their reasons", async () => {
  for (
    const [code, reason] of [["BadCredentials", "BadCredentials"], [
      "NoSuchBucket",
      "BucketNotFound",
    ]] as const
  ) {
    const store = new MemoryStore();
    store.failWith = () => new StoreError(code, "refused");
    const result = await runBackup(options(store, bytes(10)));
    assert.equal(result.outcome === "Failed" && result.reason, reason, JSON.stringify(result));
  }
});

Deno.test("runBackup() reports DumpFailed, aborts, and writes no manifest when the dump fails", async () => {
  const store = new MemoryStore();
  const result = await runBackup(
    options(store, bytes(20_000), { dumper: dumper(bytes(20_000), 9000) }),
  );
  assert.equal(result.outcome === "Failed" && result.reason, "DumpFailed", JSON.stringify(result));
  assert.match(result.outcome === "Failed" ? result.message : "", /pg_dump: error/);
  assert.ok(store.calls.some((c) => c.startsWith("abortMultipartUpload")));
  assert.equal(store.objects.size, 0);
});

Deno.test("runBackup() reports DatabaseUnreachable when the dump cannot start", async () => {
  const store = new MemoryStore();
  const unreachable = {
    dump: () => Promise.reject(new DatabaseError("Unreachable", "connection refused")),
  };
  const result = await runBackup(options(store, bytes(1), { dumper: unreachable }));
  assert.equal(result.outcome === "Failed" && result.reason, "DatabaseUnreachable");
  assert.deepEqual(store.calls, []);
});

Deno.test("runBackup() retention deletes each old backup's manifest before its dump", async () => {
  const store = new MemoryStore();
  for (const id of ["20250101T000000Z-a", "20250101T010000Z-b"]) {
    store.objects.set(dumpKey(PREFIX, id), bytes(1));
    store.objects.set(manifestKey(PREFIX, id), bytes(1));
  }
  store.objects.set(dumpKey(PREFIX, "20250101T020000Z-leftover"), bytes(1));
  const result = await runBackup(options(store, bytes(10), { keepLast: 2 }));
  assert.ok(result.outcome === "Succeeded" && result.mode === "backup");
  assert.deepEqual(result.deleted, ["20250101T000000Z-a", "20250101T020000Z-leftover"]);
  const deletes = store.calls.filter((c) => c.startsWith("deleteObject"));
  assert.deepEqual(deletes, [
    `deleteObject ${manifestKey(PREFIX, "20250101T000000Z-a")}`,
    `deleteObject ${dumpKey(PREFIX, "20250101T000000Z-a")}`,
    `deleteObject ${dumpKey(PREFIX, "20250101T020000Z-leftover")}`,
  ]);
  assert.ok(store.objects.has(manifestKey(PREFIX, "20250101T010000Z-b")));
});

Deno.test("runBackup() succeeds with a warning when retention fails after the manifest", async () => {
  const store = new MemoryStore();
  store.objects.set(manifestKey(PREFIX, "20250101T000000Z-a"), bytes(1));
  store.failWith = (call) =>
    call.startsWith("deleteObject") ? new StoreError("Unreachable", "timeout") : undefined;
  const result = await runBackup(options(store, bytes(10), { keepLast: 1 }));
  assert.ok(result.outcome === "Succeeded" && result.mode === "backup");
  assert.match(result.warning ?? "", /Retention stopped after deleting 0 backups: cannot delete/);
});

Deno.test("runBackup() with a verifier marks the backup verified, or fails without a manifest", async () => {
  for (
    const [counts, outcome] of [[TABLES, "Succeeded"], [
      [{ table: "public.t", rows: 2 }],
      "Failed",
    ]] as const
  ) {
    const store = new MemoryStore();
    let cleaned = false;
    const verifier = () =>
      Promise.resolve({
        restorer: new FakeRestorer([...counts]),
        cleanup: () => Promise.resolve(void (cleaned = true)),
      });
    const result = await runBackup(options(store, bytes(9000), { verifier }));
    assert.equal(result.outcome, outcome, JSON.stringify(result));
    assert.ok(cleaned);
    const hasManifest = store.objects.has(manifestKey(PREFIX, "20250102T030405Z-abc"));
    assert.equal(hasManifest, outcome === "Succeeded");
    if (result.outcome === "Succeeded" && result.mode === "backup") {
      assert.equal(result.backup.verified, true);
    } else {
      assert.equal(result.outcome === "Failed" && result.reason, "VerificationFailed");
      assert.match(result.outcome === "Failed" ? result.message : "", /"public.t" has 2 rows/);
    }
  }
});

async function backedUp(
  data: Uint8Array,
): Promise<{ store: MemoryStore; id: string; sha: string }> {
  const store = new MemoryStore();
  const result = await runBackup(options(store, data));
  assert.ok(result.outcome === "Succeeded" && result.mode === "backup");
  return { store, id: result.backup.id, sha: result.backup.sha256 };
}

Deno.test("runRestore() restores once and does nothing the second time", async () => {
  const data = bytes(10_000);
  const { store, id, sha } = await backedUp(data);
  const restorer = new FakeRestorer();
  const now = () => 0;
  const first = await runRestore({ store, restorer, prefix: PREFIX, id, sha256: sha, now });
  assert.deepEqual(first, {
    outcome: "Succeeded",
    mode: "restore",
    id,
    rows: 3,
    alreadyRestored: false,
    durationSeconds: 0,
  });
  assert.deepEqual(restorer.restored, data);
  assert.equal(restorer.marker, `${id}:${sha}`);
  const second = await runRestore({ store, restorer, prefix: PREFIX, id, now });
  assert.equal(
    second.outcome === "Succeeded" && second.mode === "restore" && second.alreadyRestored,
    true,
  );
  assert.equal(restorer.restores, 1);
});

Deno.test("runRestore() never commits a dump whose bytes differ from the manifest", async () => {
  const { store, id } = await backedUp(bytes(10_000));
  const key = dumpKey(PREFIX, id);
  const corrupted = store.objects.get(key)!.slice();
  corrupted[5000]! ^= 0xff;
  store.objects.set(key, corrupted);
  const restorer = new FakeRestorer();
  const result = await runRestore({ store, restorer, prefix: PREFIX, id, now: () => 0 });
  assert.equal(
    result.outcome === "Failed" && result.reason,
    "ChecksumMismatch",
    JSON.stringify(result),
  );
  assert.equal(restorer.marker, undefined);
  assert.equal(restorer.restored, undefined);
  store.objects.set(key, corrupted.subarray(0, 9000));
  const short = await runRestore({ store, restorer, prefix: PREFIX, id, now: () => 0 });
  assert.equal(short.outcome === "Failed" && short.reason, "ChecksumMismatch");
  assert.equal(restorer.marker, undefined);
});

Deno.test("runRestore() reports a missing, malformed or mismatched manifest and differing rows", async () => {
  const { store, id, sha } = await backedUp(bytes(100));
  const restorer = new FakeRestorer();
  const run = (extra: { id?: string; sha256?: string } = {}) =>
    runRestore({ store, restorer, prefix: PREFIX, id, now: () => 0, ...extra });
  const reason = (r: Awaited<ReturnType<typeof run>>) => r.outcome === "Failed" ? r.reason : "none";
  assert.equal(reason(await run({ id: "20250101T000000Z-none" })), "BackupNotFound");
  assert.equal(reason(await run({ sha256: "0".repeat(64) })), "ChecksumMismatch");
  const good = store.objects.get(manifestKey(PREFIX, id))!;
  store.objects.set(manifestKey(PREFIX, id), new TextEncoder().encode("{not json"));
  const malformed = await run();
  assert.equal(reason(malformed), "BackupNotFound");
  assert.match(malformed.outcome === "Failed" ? malformed.message : "", /malformed manifest/);
  store.objects.set(manifestKey(PREFIX, id), good);
  const wrongRows = new FakeRestorer([{ table: "public.t", rows: 1 }]);
  const differs = await runRestore({
    store,
    restorer: wrongRows,
    prefix: PREFIX,
    id,
    sha256: sha,
    now: () => 0,
  });
  assert.equal(reason(differs), "RestoreFailed");
  assert.match(differs.outcome === "Failed" ? differs.message : "", /restored and committed/);
  const other = new FakeRestorer();
  other.marker = "20240101T000000Z-x:abc";
  assert.equal(
    reason(await runRestore({ store, restorer: other, prefix: PREFIX, id, now: () => 0 })),
    "RestoreFailed",
  );
  assert.equal(other.restores, 0);
});

Deno.test("runBackup() keeps its result under 4 KiB with many deleted backups", async () => {
  const store = new MemoryStore();
  for (let i = 0; i < 200; i++) {
    const id = `20240101T${String(i).padStart(6, "0")}Z-old`;
    store.objects.set(manifestKey(PREFIX, id), bytes(1));
  }
  const result = await runBackup(options(store, bytes(10), { keepLast: 1 }));
  assert.ok(result.outcome === "Succeeded" && result.mode === "backup");
  assert.ok(new TextEncoder().encode(JSON.stringify(result)).byteLength < 4096);
  assert.match(result.warning ?? "", /160 older deleted ids are not listed/);
});
