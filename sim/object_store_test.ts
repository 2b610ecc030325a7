// Goal: the in-memory S3 store keeps S3's semantics (multipart objects appear whole at complete,
// abort drops parts, key-ordered listings, idempotent deletes, EntityTooSmall) and shows each
// fault the real one can (down, bad credentials, missing bucket, an upload cut midway, slowness,
// failing calls), with every call logged at its virtual time.
// Method: drive one endpoint through a client on a VirtualClock, running timers until each call
// answers, and assert on answers, error codes, stored objects and the log.

import assert from "node:assert/strict";
import { StoreError } from "../core/backup/types.ts";
import { settle, VirtualClock } from "./clock.ts";
import { MIN_PART_BYTES, SimObjectStores, StoreSession } from "./object_store.ts";

const URL = "http://s3.sim:9000";

function setup(options: { latencyMs?: number } = {}) {
  const clock = new VirtualClock();
  const stores = new SimObjectStores(clock, options);
  const endpoint = stores.endpoint(URL);
  endpoint.createBucket("b");
  endpoint.addCredentials("key", "secret");
  const store = stores.client(URL, "b", { accessKeyId: "key", secretAccessKey: "secret" });
  /** Runs virtual time until `promise` settles. */
  async function run<T>(promise: Promise<T>): Promise<T> {
    let done = false;
    const tracked = promise.finally(() => done = true);
    tracked.catch(() => {});
    for (let i = 0; i < 10_000 && !done; i++) {
      await settle();
      if (!done && !clock.runNext()) break;
    }
    await settle();
    return await tracked;
  }
  return { clock, stores, endpoint, store, run };
}

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    assert.ok(error instanceof StoreError, String(error));
    return error.code;
  }
}

Deno.test("SimObjectStores: a multipart object appears only at complete, whole and in part order", async () => {
  const { store, endpoint, run } = setup();
  const id = await run(store.createMultipartUpload("dump"));
  const e1 = await run(store.uploadPart("dump", id, 1, bytes(MIN_PART_BYTES, 1)));
  const e2 = await run(store.uploadPart("dump", id, 2, bytes(10, 2)));
  assert.deepEqual(await run(store.listObjects("")), [], "nothing visible before complete");
  assert.deepEqual(endpoint.incompleteUploads("b"), ["dump"]);
  await run(store.completeMultipartUpload("dump", id, [
    { partNumber: 1, etag: e1 },
    { partNumber: 2, etag: e2 },
  ]));
  const object = endpoint.object("b", "dump")!;
  assert.equal(object.length, MIN_PART_BYTES + 10);
  assert.equal(object[MIN_PART_BYTES], 2);
  assert.deepEqual(endpoint.incompleteUploads("b"), []);
  const chunks: Uint8Array[] = [];
  for await (const chunk of await run(store.getObject("dump"))) chunks.push(chunk);
  assert.equal(chunks.reduce((n, c) => n + c.length, 0), MIN_PART_BYTES + 10);
});

Deno.test("SimObjectStores: abort drops the parts, small parts are refused, listing is in key order, delete is idempotent", async () => {
  const { store, endpoint, run } = setup();
  const id = await run(store.createMultipartUpload("x"));
  await run(store.uploadPart("x", id, 1, bytes(10)));
  await run(store.abortMultipartUpload("x", id));
  assert.deepEqual(endpoint.incompleteUploads("b"), []);
  assert.equal(await code(run(store.uploadPart("x", id, 2, bytes(1)))), "NotFound");
  const small = await run(store.createMultipartUpload("y"));
  const p1 = await run(store.uploadPart("y", small, 1, bytes(10)));
  const p2 = await run(store.uploadPart("y", small, 2, bytes(10)));
  const parts = [{ partNumber: 1, etag: p1 }, { partNumber: 2, etag: p2 }];
  assert.equal(await code(run(store.completeMultipartUpload("y", small, parts))), "Failed");
  for (const key of ["p/b", "p/a", "q", "p/c"]) await run(store.putObject(key, bytes(3)));
  assert.deepEqual((await run(store.listObjects("p/"))).map((o) => o.key), ["p/a", "p/b", "p/c"]);
  await run(store.deleteObject("p/a"));
  await run(store.deleteObject("p/a"));
  assert.equal(await code(run(store.getObject("p/a"))), "NotFound");
});

Deno.test("SimObjectStores: down, bad credentials, a missing bucket and failing calls answer with their codes", async () => {
  const { stores, store, endpoint, run } = setup();
  endpoint.down = true;
  assert.equal(await code(run(store.putObject("a", bytes(1)))), "Unreachable");
  endpoint.down = false;
  const wrongSecret = stores.client(URL, "b", { accessKeyId: "key", secretAccessKey: "nope" });
  assert.equal(await code(run(wrongSecret.listObjects(""))), "BadCredentials");
  const unknownKey = stores.client(URL, "b", { accessKeyId: "other" });
  assert.equal(await code(run(unknownKey.listObjects(""))), "BadCredentials");
  const noBucket = stores.client(URL, "missing", { accessKeyId: "key", secretAccessKey: "secret" });
  assert.equal(await code(run(noBucket.listObjects(""))), "NoSuchBucket");
  const nowhere = stores.client("http://other", "b", { accessKeyId: "key" });
  assert.equal(await code(run(nowhere.listObjects(""))), "Unreachable");
  endpoint.failNext(2);
  assert.equal(await code(run(store.listObjects(""))), "Failed");
  assert.equal(await code(run(store.listObjects(""))), "Failed");
  assert.equal(await code(run(store.listObjects(""))), "ok");
});

Deno.test("SimObjectStores: an upload cut midway fails as Unreachable and never appears", async () => {
  const { store, endpoint, run } = setup();
  endpoint.cutUploadAfter(MIN_PART_BYTES + 100);
  const id = await run(store.createMultipartUpload("dump"));
  await run(store.uploadPart("dump", id, 1, bytes(MIN_PART_BYTES)));
  assert.equal(
    await code(run(store.uploadPart("dump", id, 2, bytes(MIN_PART_BYTES)))),
    "Unreachable",
  );
  assert.deepEqual(endpoint.objects("b"), []);
  assert.deepEqual(endpoint.incompleteUploads("b"), ["dump"]);
  const again = await run(store.createMultipartUpload("dump2"));
  await run(store.uploadPart("dump2", again, 1, bytes(MIN_PART_BYTES)));
  assert.equal(await code(run(store.uploadPart("dump2", again, 2, bytes(10)))), "ok", "once");
});

Deno.test("SimObjectStores: calls take virtual time, slowness multiplies it, and the log records when each ended", async () => {
  const { clock, store, endpoint, stores, run } = setup({ latencyMs: 10 });
  const start = clock.nowMs();
  await run(store.putObject("a", bytes(1)));
  assert.ok(clock.nowMs() - start >= 10);
  endpoint.latencyFactor = 5;
  const before = clock.nowMs();
  await run(store.putObject("b", bytes(1)));
  assert.ok(clock.nowMs() - before >= 50);
  assert.deepEqual(
    stores.log.map((e) => [e.op, e.key, e.ok, e.atMs - start]),
    [["putObject", "a", true, 10], ["putObject", "b", true, 60]],
  );
});

Deno.test("SimObjectStores: a cut session's calls never answer and never take effect", async () => {
  const { clock, stores, run } = setup();
  const session = new StoreSession();
  const store = stores.client(URL, "b", { accessKeyId: "key", secretAccessKey: "secret" }, session);
  const id = await run(store.createMultipartUpload("dump"));
  let answered = false;
  store.uploadPart("dump", id, 1, bytes(100)).finally(() => answered = true).catch(() => {});
  session.cut();
  while (clock.runNext()) await settle();
  await settle();
  assert.equal(answered, false);
  assert.deepEqual(stores.endpoint(URL).incompleteUploads("b"), ["dump"]);
  assert.equal(stores.log.filter((e) => e.op === "uploadPart").length, 0);
});
