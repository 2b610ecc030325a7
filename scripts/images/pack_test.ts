// Goal: the packer writes an archive that matches what the image formats require: every blob is
// named by its sha256, the manifest and the config point at the right digests and sizes, the
// config's diff ids are the layers' digests, manifest.json (docker save) names the tags, and the
// tar itself is well formed (checksums, sizes, padding) as GNU tar reads it.
// Method: pack a tiny directory (and a ready-made layer tar) into a temp dir, unpack it with the
// system tar, and check every document and digest against the files.
import assert from "node:assert/strict";
import {
  blobPath,
  digestFile,
  fullName,
  MEDIA_TYPES,
  planArchive,
  sha256Of,
  tarDirectory,
  tarHeader,
  writeImageArchive,
} from "./pack.ts";

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: cwd ?? ".",
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function tinyImage(dir: string) {
  const root = `${dir}/root`;
  await Deno.mkdir(`${root}/etc`, { recursive: true });
  await Deno.mkdir(`${root}/proc/self`, { recursive: true });
  await Deno.writeTextFile(`${root}/etc/hello`, "hello\n");
  await Deno.writeTextFile(`${root}/proc/self/status`, "must not be archived\n");
  const base = await tarDirectory(root, `${dir}/base.tar`);
  await Deno.mkdir(`${dir}/top/usr/bin`, { recursive: true });
  await Deno.writeTextFile(`${dir}/top/usr/bin/tool`, "#!/bin/sh\n");
  const top = await tarDirectory(`${dir}/top`, `${dir}/top.tar`);
  const out = `${dir}/image.tar`;
  await writeImageArchive(out, {
    tags: ["postgres:16", "postgres:16.15"],
    layers: [base, top],
    config: {
      Env: ["PGDATA=/var/lib/postgresql/data"],
      Entrypoint: ["docker-entrypoint.sh"],
      Cmd: ["postgres"],
      User: "999",
      StopSignal: "SIGINT",
      ExposedPorts: { "5432/tcp": {} },
      WorkingDir: "/",
    },
  });
  const unpacked = `${dir}/unpacked`;
  await Deno.mkdir(unpacked);
  await run("tar", ["-xf", out, "-C", unpacked]);
  return { base, top, out, unpacked };
}

Deno.test("pack: every blob of the archive is named by its sha256", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { unpacked } = await tinyImage(dir);
    const names = [...Deno.readDirSync(`${unpacked}/blobs/sha256`)].map((e) => e.name).sort();
    assert.equal(names.length, 4, "two layers, a config and a manifest");
    for (const name of names) {
      const { digest } = await digestFile(`${unpacked}/blobs/sha256/${name}`);
      assert.equal(digest, `sha256:${name}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pack: the index, the manifest and the config point at the right digests", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { base, top, unpacked } = await tinyImage(dir);
    const read = (p: string) => JSON.parse(Deno.readTextFileSync(`${unpacked}/${p}`));
    assert.deepEqual(read("oci-layout"), { imageLayoutVersion: "1.0.0" });
    const index = read("index.json");
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, MEDIA_TYPES.index);
    assert.deepEqual(
      index.manifests.map((m: { annotations: Record<string, string> }) =>
        m.annotations["io.containerd.image.name"]
      ),
      ["docker.io/library/postgres:16", "docker.io/library/postgres:16.15"],
    );
    const entry = index.manifests[0];
    const manifestBytes = Deno.readFileSync(`${unpacked}/${blobPath(entry.digest)}`);
    assert.equal(entry.size, manifestBytes.length);
    assert.equal(entry.mediaType, MEDIA_TYPES.manifest);
    const manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
    assert.equal(manifest.schemaVersion, 2);
    assert.deepEqual(
      manifest.layers,
      [base, top].map((l) => ({ mediaType: MEDIA_TYPES.layer, digest: l.digest, size: l.size })),
    );
    const configBytes = Deno.readFileSync(`${unpacked}/${blobPath(manifest.config.digest)}`);
    assert.equal(manifest.config.size, configBytes.length);
    assert.equal(manifest.config.mediaType, MEDIA_TYPES.config);
    const config = JSON.parse(new TextDecoder().decode(configBytes));
    assert.equal(config.os, "linux");
    assert.equal(config.architecture, "amd64");
    assert.deepEqual(config.rootfs, { type: "layers", diff_ids: [base.digest, top.digest] });
    assert.equal(config.history.length, 2);
    assert.deepEqual(config.config.Entrypoint, ["docker-entrypoint.sh"]);
    assert.equal(config.config.StopSignal, "SIGINT");
    assert.deepEqual(config.config.ExposedPorts, { "5432/tcp": {} });

    const docker = read("manifest.json");
    assert.deepEqual(docker, [{
      Config: blobPath(manifest.config.digest),
      RepoTags: ["postgres:16", "postgres:16.15"],
      Layers: [blobPath(base.digest), blobPath(top.digest)],
    }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pack: a directory layer has numeric owners and nothing under proc/", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { base } = await tinyImage(dir);
    const listing = await run("tar", ["-tvf", base.path, "--numeric-owner"]);
    assert.match(listing, /\.\/etc\/hello/);
    assert.match(listing, /\.\/proc\/\n/, "the proc/ directory itself stays");
    assert.doesNotMatch(listing, /proc\/self/);
    for (const line of listing.trim().split("\n")) assert.match(line, /^\S+ \d+\/\d+ /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pack: the same directory gives the same layer digest twice", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/root/a`, { recursive: true });
    await Deno.writeTextFile(`${dir}/root/a/b`, "x");
    const first = await tarDirectory(`${dir}/root`, `${dir}/1.tar`);
    await Deno.utime(`${dir}/root/a/b`, 12345, 12345);
    const second = await tarDirectory(`${dir}/root`, `${dir}/2.tar`);
    assert.equal(first.digest, second.digest);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tarHeader() writes a checksum GNU tar accepts", () => {
  const block = tarHeader("blobs/sha256/abc", 5, "0", 0o644);
  const stored = parseInt(new TextDecoder().decode(block.subarray(148, 154)), 8);
  const copy = block.slice();
  copy.fill(0x20, 148, 156);
  assert.equal(stored, copy.reduce((a, b) => a + b, 0));
  assert.equal(new TextDecoder().decode(block.subarray(124, 135)), "00000000005");
  assert.throws(() => tarHeader("x".repeat(101), 0, "0", 0o644), RangeError);
});

Deno.test("planArchive() refuses an archive without tags or with a bad tag", () => {
  const layers = [{ path: "/dev/null", digest: sha256Of(new Uint8Array()), size: 0 }];
  assert.throws(() => planArchive({ tags: [], layers, config: {} }), /at least one tag/);
  assert.throws(
    () => planArchive({ tags: ["Postgres"], layers, config: {} }),
    /Invalid image tag "Postgres"/,
  );
  assert.doesNotThrow(() =>
    planArchive({
      tags: ["registry.k8s.io/pause:3.10", "localhost:5000/a/b:1"],
      layers,
      config: {},
    })
  );
});

Deno.test("fullName() names images as containerd does", () => {
  assert.equal(fullName("postgres:16"), "docker.io/library/postgres:16");
  assert.equal(fullName("someone/app:1"), "docker.io/someone/app:1");
  assert.equal(fullName("registry.k8s.io/pause:3.10"), "registry.k8s.io/pause:3.10");
  assert.equal(fullName("localhost:5000/pgop:0.1.0"), "localhost:5000/pgop:0.1.0");
});
