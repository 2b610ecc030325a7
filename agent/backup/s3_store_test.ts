import assert from "node:assert/strict";
import { S3Store, StoreConfigError, StoreError, storeFromEnv } from "./s3_store.ts";
import type { StoreErrorCode } from "../../core/backup/types.ts";
import { RUNNER_ENV } from "../../core/backup/runner_env.ts";
import {
  findVersitygw,
  startTestStore,
  type TestStore,
  type VersitygwSetup,
} from "../_s3_testing.ts";

const setup = findVersitygw();
if (typeof setup === "string") console.log(`SKIP agent/backup/s3_store_test.ts: ${setup}`);

const MiB = 1024 * 1024;

function storeOf(
  server: TestStore,
  changes: Partial<ConstructorParameters<typeof S3Store>[0]> = {},
) {
  return new S3Store({
    endpoint: server.endpoint,
    bucket: server.bucket,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    region: server.region,
    timeoutMs: 20_000,
    ...changes,
  });
}

async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Random bytes (crypto.getRandomValues fills at most 64 KiB at once). */
function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65536)));
  }
  return bytes;
}

async function rejectsWith(
  call: () => Promise<unknown>,
  code: StoreErrorCode,
  ...fragments: string[]
): Promise<StoreError> {
  let caught: unknown;
  try {
    await call();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof StoreError, `expected a StoreError ${code}, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  for (const fragment of fragments) assert.ok(caught.message.includes(fragment), caught.message);
  return caught;
}

Deno.test({
  name: "S3Store: against a real versitygw, every ObjectStore call and its failure classes",
  ignore: typeof setup === "string",
}, async (t) => {
  const server = await startTestStore(setup as VersitygwSetup);
  try {
    const store = storeOf(server);

    await t.step("putObject then getObject gives the same bytes, odd keys included", async () => {
      for (const key of ["plain.txt", "a b/ü+(1)!*'~;=&$@,.txt", "deep/er/key%2F.bin"]) {
        const body = new TextEncoder().encode(`content of ${key}`);
        await store.putObject(key, body, "text/plain");
        assert.deepEqual(await bytesOf(await store.getObject(key)), body);
      }
      const listed = await store.listObjects("a b/");
      assert.deepEqual(listed.map((o) => o.key), ["a b/ü+(1)!*'~;=&$@,.txt"]);
    });

    await t.step("putObject overwrites and an empty object reads back empty", async () => {
      await store.putObject("over", new Uint8Array([1, 2, 3]));
      await store.putObject("over", new Uint8Array([9]));
      assert.deepEqual(await bytesOf(await store.getObject("over")), new Uint8Array([9]));
      await store.putObject("empty", new Uint8Array());
      assert.deepEqual(await bytesOf(await store.getObject("empty")), new Uint8Array());
    });

    await t.step("listObjects follows continuation tokens across pages, in key order", async () => {
      const paged = storeOf(server, { pageSize: 2 });
      const keys = ["list/e", "list/a", "list/c/1", "list/b", "list/d"];
      for (const [i, key] of keys.entries()) {
        await paged.putObject(key, new Uint8Array(i + 1));
      }
      await paged.putObject("listing-outside", new Uint8Array(1));
      const listed = await paged.listObjects("list/");
      assert.deepEqual(listed, [
        { key: "list/a", sizeBytes: 2 },
        { key: "list/b", sizeBytes: 4 },
        { key: "list/c/1", sizeBytes: 3 },
        { key: "list/d", sizeBytes: 5 },
        { key: "list/e", sizeBytes: 1 },
      ]);
      assert.deepEqual(await paged.listObjects("nothing-here/"), []);
    });

    await t.step(
      "a multipart upload of 3 parts reads back whole, and only once completed",
      async () => {
        const key = "multi/dump.pgc";
        const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(MiB + 17)];
        const uploadId = await store.createMultipartUpload(key);
        const etags: string[] = [];
        for (const [i, part] of parts.entries()) {
          etags.push(await store.uploadPart(key, uploadId, i + 1, part));
        }
        await rejectsWith(() => store.getObject(key), "NotFound", `"${key}"`);
        // Given out of order: the store needs them in order.
        await store.completeMultipartUpload(key, uploadId, [
          { partNumber: 3, etag: etags[2]! },
          { partNumber: 1, etag: etags[0]! },
          { partNumber: 2, etag: etags[1]! },
        ]);
        const whole = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
        let at = 0;
        for (const part of parts) {
          whole.set(part, at);
          at += part.length;
        }
        const read = await bytesOf(await store.getObject(key));
        assert.equal(read.length, whole.length);
        assert.ok(read.every((byte, i) => byte === whole[i]), "the object differs from its parts");
        assert.deepEqual(await store.listObjects("multi/"), [{ key, sizeBytes: whole.length }]);
      },
    );

    await t.step("completing with a wrong ETag fails with the store's code", async () => {
      const key = "multi/wrong-etag";
      const uploadId = await store.createMultipartUpload(key);
      await store.uploadPart(key, uploadId, 1, randomBytes(1024));
      await rejectsWith(
        () => store.completeMultipartUpload(key, uploadId, [{ partNumber: 1, etag: '"0000"' }]),
        "Failed",
        "InvalidPart",
      );
      await store.abortMultipartUpload(key, uploadId);
    });

    await t.step(
      "an aborted upload cannot complete, leaves no object, and aborts again",
      async () => {
        const key = "multi/aborted";
        const uploadId = await store.createMultipartUpload(key);
        const etag = await store.uploadPart(key, uploadId, 1, randomBytes(1024));
        await store.abortMultipartUpload(key, uploadId);
        await rejectsWith(
          () => store.completeMultipartUpload(key, uploadId, [{ partNumber: 1, etag }]),
          "NotFound",
          "NoSuchUpload",
        );
        await rejectsWith(() => store.getObject(key), "NotFound");
        await store.abortMultipartUpload(key, uploadId);
      },
    );

    await t.step("deleteObject deletes, and succeeds on an absent key", async () => {
      await store.putObject("gone", new Uint8Array([1]));
      await store.deleteObject("gone");
      await rejectsWith(() => store.getObject("gone"), "NotFound", "NoSuchKey");
      await store.deleteObject("gone");
      await store.deleteObject("never/was");
    });

    await t.step("getObject of a missing key is NotFound, naming the key", async () => {
      await rejectsWith(() => store.getObject("missing/key"), "NotFound", '"missing/key"');
    });

    await t.step("a key with a dot segment is refused before any request", async () => {
      await rejectsWith(() => store.putObject("a/../b", new Uint8Array()), "Failed", '"a/../b"');
    });

    await t.step("wrong credentials are BadCredentials, for a wrong key id or secret", async () => {
      const wrongSecret = storeOf(server, { secretAccessKey: "not-the-secret" });
      await rejectsWith(
        () => wrongSecret.listObjects(""),
        "BadCredentials",
        "SignatureDoesNotMatch",
      );
      await rejectsWith(() => wrongSecret.putObject("x", new Uint8Array([1])), "BadCredentials");
      // versitygw's code for an unknown key id (S3's is InvalidAccessKeyId).
      const wrongKey = storeOf(server, { accessKeyId: "nobody" });
      await rejectsWith(
        () => wrongKey.getObject("plain.txt"),
        "BadCredentials",
        "XAdminUserNotFound",
      );
    });

    await t.step("a missing bucket is NoSuchBucket, for every kind of call", async () => {
      const noBucket = storeOf(server, { bucket: "no-such-bucket" });
      await rejectsWith(() => noBucket.listObjects(""), "NoSuchBucket", '"no-such-bucket"');
      await rejectsWith(() => noBucket.getObject("k"), "NoSuchBucket");
      await rejectsWith(() => noBucket.putObject("k", new Uint8Array([1])), "NoSuchBucket");
      await rejectsWith(() => noBucket.createMultipartUpload("k"), "NoSuchBucket");
      await rejectsWith(() => noBucket.deleteObject("k"), "NoSuchBucket");
    });

    await t.step("storeFromEnv builds a working store from the runner's variables", async () => {
      const fromEnv = storeFromEnv({
        [RUNNER_ENV.endpoint]: `${server.endpoint}/`,
        [RUNNER_ENV.bucket]: server.bucket,
        [RUNNER_ENV.accessKeyId]: server.accessKeyId,
        [RUNNER_ENV.secretAccessKey]: server.secretAccessKey,
      });
      assert.equal(fromEnv.endpoint, server.endpoint);
      assert.deepEqual(await bytesOf(await fromEnv.getObject("over")), new Uint8Array([9]));
    });

    await t.step(
      "a stopped server is Unreachable, naming the endpoint; back once restarted",
      async () => {
        await server.stop();
        await rejectsWith(() => store.listObjects(""), "Unreachable", `"${server.endpoint}"`);
        await rejectsWith(() => store.putObject("k", new Uint8Array([1])), "Unreachable");
        await server.restart();
        assert.deepEqual(await bytesOf(await store.getObject("over")), new Uint8Array([9]));
      },
    );
  } finally {
    await server.close();
  }
});

Deno.test("S3Store: a server that never answers is Unreachable after the timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const store = new S3Store({
      endpoint: `http://127.0.0.1:${port}`,
      bucket: "b",
      accessKeyId: "k",
      secretAccessKey: "s",
      timeoutMs: 200,
    });
    await rejectsWith(() => store.listObjects(""), "Unreachable", "no answer within 0.2 s");
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});

Deno.test("S3Store: an object whose body stalls errors its stream as Unreachable", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      held.push(conn);
      await conn.read(new Uint8Array(65536));
      // Headers and 3 of the 100 bytes promised, then nothing.
      await conn.write(
        new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"),
      );
    }
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const store = new S3Store({
      endpoint: `http://127.0.0.1:${port}`,
      bucket: "b",
      accessKeyId: "k",
      secretAccessKey: "s",
      timeoutMs: 300,
    });
    const stream = await store.getObject("stalls");
    await rejectsWith(() => bytesOf(stream), "Unreachable", 'reading "stalls"', "no answer within");
  } finally {
    listener.close();
    await serving.catch(() => {});
    for (const conn of held) conn.close();
  }
});

Deno.test("S3Store: nothing listening is Unreachable at once, naming the endpoint", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const store = new S3Store({
    endpoint: `http://127.0.0.1:${port}`,
    bucket: "b",
    accessKeyId: "k",
    secretAccessKey: "s",
  });
  await rejectsWith(
    () => store.deleteObject("k"),
    "Unreachable",
    `"http://127.0.0.1:${port}"`,
    '"k"',
  );
});

Deno.test("storeFromEnv: names every missing variable in one error", () => {
  assert.throws(
    () => storeFromEnv({ [RUNNER_ENV.endpoint]: "http://127.0.0.1:1", [RUNNER_ENV.bucket]: "" }),
    (error: unknown) => {
      assert.ok(error instanceof StoreConfigError);
      assert.equal(
        error.message,
        `The object store is not configured: "${RUNNER_ENV.bucket}", "${RUNNER_ENV.accessKeyId}", ` +
          `"${RUNNER_ENV.secretAccessKey}" are not set`,
      );
      return true;
    },
  );
});

Deno.test("S3Store: an endpoint that is not an http URL is refused at construction", () => {
  for (const endpoint of ["127.0.0.1:9000", "ftp://127.0.0.1", "http://127.0.0.1:9000/?x=1"]) {
    assert.throws(
      () => new S3Store({ endpoint, bucket: "b", accessKeyId: "k", secretAccessKey: "s" }),
      (error: unknown) =>
        error instanceof StoreConfigError && error.message.includes(`"${endpoint}"`),
    );
  }
});
