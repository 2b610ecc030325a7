/**
 * Test support: a real S3-compatible store (versitygw with its POSIX backend, the binary
 * `scripts/controlplane/build.sh` builds) on 127.0.0.1, a free port and a temporary directory,
 * with one bucket. Tests skip, saying why, when the binary is absent.
 *
 * ```ts ignore
 * const found = findVersitygw();
 * if (typeof found === "string") console.log(`SKIP my_test.ts: ${found}`);
 * const store = await startTestStore(found as VersitygwSetup);
 * try {
 *   // new S3Store({ ...store }) reaches it
 * } finally {
 *   await store.close();
 * }
 * ```
 *
 * @module
 */

import { AwsClient } from "aws4fetch";

/** Where the versitygw binary is. */
export interface VersitygwSetup {
  /** The binary. */
  bin: string;
}

/** A running test store and its bucket. */
export interface TestStore {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** The region it signs for: `us-east-1`. */
  region: string;
  /** The bucket made at start. */
  bucket: string;
  /** The root access key id. */
  accessKeyId: string;
  /** The root secret access key. */
  secretAccessKey: string;
  /** The directory the POSIX backend keeps buckets in (a bucket is a directory). */
  dataDir: string;
  /** Stops the server (SIGTERM), keeping its data: calls then fail as `Unreachable`. */
  stop(): Promise<void>;
  /** Starts it again, on the same port with the same data. */
  restart(): Promise<void>;
  /** Stops it (when running) and deletes its directory. */
  close(): Promise<void>;
}

const LIB_SH = new URL("../scripts/controlplane/lib.sh", import.meta.url);

/**
 * The versitygw binary: `PGOP_TEST_VERSITYGW`, else the one `build.sh` caches for the version
 * `lib.sh` pins (`$PGOP_CONTROLPLANE_CACHE/versitygw-<version>/versitygw`). Returns why not when
 * it is absent.
 */
export function findVersitygw(): VersitygwSetup | string {
  let bin = Deno.env.get("PGOP_TEST_VERSITYGW");
  if (bin === undefined) {
    let version = Deno.env.get("PGOP_VERSITYGW_VERSION");
    if (version === undefined) {
      const lib = Deno.readTextFileSync(LIB_SH);
      version = /PGOP_VERSITYGW_VERSION:-([^}"]+)\}/.exec(lib)?.[1];
      if (version === undefined) return `no PGOP_VERSITYGW_VERSION in ${LIB_SH.pathname}`;
    }
    const cache = Deno.env.get("PGOP_CONTROLPLANE_CACHE") ??
      `${Deno.env.get("HOME") ?? "/root"}/.cache/pgop-controlplane`;
    bin = `${cache}/versitygw-${version}/versitygw`;
  }
  try {
    if (Deno.statSync(bin).isFile) return { bin };
  } catch {
    // Reported below.
  }
  return `no versitygw binary at "${bin}" (run scripts/controlplane/build.sh or set PGOP_TEST_VERSITYGW)`;
}

/** Starts a store with one bucket (`bucket`, default `pgop-test`) and waits until it answers. */
export async function startTestStore(
  setup: VersitygwSetup,
  options: { bucket?: string } = {},
): Promise<TestStore> {
  const dir = Deno.makeTempDirSync({ prefix: "pgop-s3-" });
  const dataDir = `${dir}/data`;
  Deno.mkdirSync(dataDir);
  const port = freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const accessKeyId = "pgop-test";
  const secretAccessKey = `test-secret-${crypto.randomUUID()}`;
  const bucket = options.bucket ?? "pgop-test";
  const log = `${dir}/versitygw.log`;
  let running: { child: Deno.ChildProcess; output: Promise<void> } | undefined;

  const start = async () => {
    const child = new Deno.Command(setup.bin, {
      args: [
        "--access",
        accessKeyId,
        "--secret",
        secretAccessKey,
        "--port",
        `127.0.0.1:${port}`,
        "--health",
        "/health",
        "--quiet",
        "posix",
        dataDir,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Go's log package (versitygw's messages and errors) writes to stderr.
    const file = await Deno.open(log, { append: true, create: true });
    const output = child.stderr.pipeTo(file.writable).catch(() => {});
    running = { child, output };
    let exited: Deno.CommandStatus | undefined;
    child.status.then((status) => exited = status);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exited !== undefined) {
        throw new Error(`versitygw exited (${exited.code}) at start: ${tail(log)}`);
      }
      const healthy = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) })
        .then(async (response) => (await response.text(), response.ok), () => false);
      if (healthy) return;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`versitygw on ${endpoint} not healthy within 20 s: ${tail(log)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const stop = async () => {
    if (running === undefined) return;
    const { child, output } = running;
    running = undefined;
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await child.status;
    await output;
  };

  await start();
  const client = new AwsClient({
    accessKeyId,
    secretAccessKey,
    service: "s3",
    region: "us-east-1",
  });
  const made = await client.fetch(`${endpoint}/${bucket}`, { method: "PUT" });
  const answer = await made.text();
  if (!made.ok) {
    await stop();
    throw new Error(`Creating bucket "${bucket}" on ${endpoint}: HTTP ${made.status} ${answer}`);
  }
  return {
    endpoint,
    region: "us-east-1",
    bucket,
    accessKeyId,
    secretAccessKey,
    dataDir,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    close: async () => {
      await stop();
      Deno.removeSync(dir, { recursive: true });
    },
  };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function tail(path: string): string {
  try {
    return Deno.readTextFileSync(path).trim().split("\n").slice(-10).join("\n");
  } catch {
    return "(no log)";
  }
}
