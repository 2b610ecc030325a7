/**
 * The image packer: writes a container image archive that both `docker load` and
 * `ctr images import` accept, without a Docker engine or a registry.
 *
 * The archive is the layout `docker save` has written since Docker 25: an OCI image layout
 * (`oci-layout`, `index.json`, `blobs/sha256/...`) plus the legacy `manifest.json` with
 * `RepoTags`. Layers are uncompressed tars, so a layer's digest is its diff id; a layer shared by
 * several archives (the Debian base) has the same digest in each, and containerd stores it once.
 *
 * A layer is either a directory (archived here with GNU tar: `--numeric-owner`, sorted names,
 * fixed mtimes, no contents under proc/, sys/ or dev/) or a ready-made layer tar.
 *
 * Usage:
 *   deno run --allow-read --allow-write --allow-run=tar scripts/images/pack.ts \
 *     --out OUT.tar --config CONFIG.json --tag NAME:TAG [--tag ...] --layer DIR|FILE.tar [...]
 *   deno run ... scripts/images/pack.ts --layer-only --out LAYER.tar --layer DIR
 *
 * CONFIG.json holds the image's runtime settings (`Env`, `Entrypoint`, `Cmd`, `User`,
 * `StopSignal`, `ExposedPorts`, `WorkingDir`, `Labels`).
 *
 * @module
 */

import { createHash } from "node:crypto";

/** The runtime part of an image config (the `config` object of the OCI image config). */
export interface RuntimeConfig {
  /** Environment, `NAME=value`. */
  Env?: string[];
  /** The entrypoint. */
  Entrypoint?: string[];
  /** The default arguments. */
  Cmd?: string[];
  /** `uid`, `uid:gid` or a name. */
  User?: string;
  /** The signal that stops the container, e.g. `SIGINT`. */
  StopSignal?: string;
  /** Ports, as keys like `5432/tcp` with empty objects. */
  ExposedPorts?: Record<string, Record<string, never>>;
  /** The working directory. */
  WorkingDir?: string;
  /** Labels. */
  Labels?: Record<string, string>;
}

/** A layer tar on disk and its digest. */
export interface Layer {
  /** Path of the uncompressed layer tar. */
  path: string;
  /** `sha256:<hex>` of the tar (its diff id, and its digest since it is not compressed). */
  digest: string;
  /** Size in bytes. */
  size: number;
}

/** Options of {@link writeImageArchive}. */
export interface ArchiveOptions {
  /** Names such as `postgres:16`; the first one also names the OCI index entry. */
  tags: string[];
  /** The layers, bottom first. */
  layers: Layer[];
  /** The runtime settings. */
  config: RuntimeConfig;
  /** The `created` time of the config. @default "1970-01-01T00:00:00Z" */
  created?: string;
}

/** OCI media types used in the archive. */
export const MEDIA_TYPES = {
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar",
  index: "application/vnd.oci.image.index.v1+json",
} as const;

/** `sha256:<hex>` of some bytes. */
export function sha256Of(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** `sha256:<hex>` and size of a file, read in chunks. */
export async function digestFile(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  using file = await Deno.open(path);
  for await (const chunk of file.readable) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: `sha256:${hash.digest("hex")}`, size };
}

/**
 * Archives a directory as a layer tar with GNU tar: numeric owners, names sorted, mtimes fixed,
 * and nothing under proc/, sys/ or dev/ (the runtime mounts those).
 */
export async function tarDirectory(dir: string, out: string): Promise<Layer> {
  const tar = await new Deno.Command("tar", {
    args: [
      "--create",
      "--file",
      out,
      "--directory",
      dir,
      "--numeric-owner",
      "--sort=name",
      "--mtime=@0",
      "--format=gnu",
      "--exclude=./proc/*",
      "--exclude=./sys/*",
      "--exclude=./dev/*",
      ".",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (tar.code !== 0) {
    const why = new TextDecoder().decode(tar.stderr).trim().split("\n")[0];
    throw new Error(`Cannot archive "${dir}": ${why}`);
  }
  return { path: out, ...(await digestFile(out)) };
}

/** The image config JSON (OCI image config with Docker's runtime fields). */
export function imageConfig(layers: readonly Layer[], config: RuntimeConfig, created: string) {
  return {
    architecture: "amd64",
    os: "linux",
    created,
    config,
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
    history: layers.map(() => ({ created, created_by: "scripts/images/pack.ts" })),
  };
}

/** The blobs and JSON documents of an archive, before they are written. */
export interface ArchivePlan {
  /** The config JSON bytes. */
  config: Uint8Array;
  /** The OCI manifest JSON bytes. */
  manifest: Uint8Array;
  /** `index.json`. */
  index: Uint8Array;
  /** `manifest.json` (docker save). */
  dockerManifest: Uint8Array;
}

/** Builds the JSON documents of an archive (pure: no file is read or written). */
export function planArchive(options: ArchiveOptions): ArchivePlan {
  if (options.tags.length === 0) throw new TypeError("An image needs at least one tag");
  for (const tag of options.tags) {
    const colon = tag.lastIndexOf(":");
    const name = tag.slice(0, colon);
    const version = tag.slice(colon + 1);
    if (
      colon < 1 || !/^[a-z0-9][a-z0-9._\/:-]*$/.test(name) ||
      !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(version)
    ) {
      throw new TypeError(`Invalid image tag "${tag}": expected name:tag`);
    }
  }
  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const config = json(
    imageConfig(options.layers, options.config, options.created ?? "1970-01-01T00:00:00Z"),
  );
  const manifest = json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, digest: sha256Of(config), size: config.length },
    layers: options.layers.map((l) => ({
      mediaType: MEDIA_TYPES.layer,
      digest: l.digest,
      size: l.size,
    })),
  });
  const index = json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: options.tags.map((tag) => ({
      mediaType: MEDIA_TYPES.manifest,
      digest: sha256Of(manifest),
      size: manifest.length,
      annotations: {
        "io.containerd.image.name": fullName(tag),
        "org.opencontainers.image.ref.name": tag.slice(tag.lastIndexOf(":") + 1),
      },
    })),
  });
  const dockerManifest = json([{
    Config: blobPath(sha256Of(config)),
    RepoTags: options.tags,
    Layers: options.layers.map((l) => blobPath(l.digest)),
  }]);
  return { config, manifest, index, dockerManifest };
}

/** `postgres:16` -> `docker.io/library/postgres:16`, as containerd names images. */
export function fullName(tag: string): string {
  const name = tag.slice(0, tag.lastIndexOf(":"));
  const first = name.split("/")[0]!;
  const hasRegistry = name.includes("/") && (first.includes(".") || first.includes(":") ||
    first === "localhost");
  if (hasRegistry) return tag;
  return name.includes("/") ? `docker.io/${tag}` : `docker.io/library/${tag}`;
}

/** `blobs/sha256/<hex>` for a digest. */
export function blobPath(digest: string): string {
  return `blobs/${digest.replace(":", "/")}`;
}

/** Writes the archive to `out` (through `out.partial`, renamed at the end). */
export async function writeImageArchive(out: string, options: ArchiveOptions): Promise<void> {
  const plan = planArchive(options);
  const partial = `${out}.partial`;
  const file = await Deno.open(partial, { write: true, create: true, truncate: true });
  try {
    const writer = new TarWriter(file);
    await writer.directory("blobs/");
    await writer.directory("blobs/sha256/");
    const seen = new Set<string>();
    for (const layer of options.layers) {
      if (seen.has(layer.digest)) continue;
      seen.add(layer.digest);
      await writer.fileFrom(blobPath(layer.digest), layer.path, layer.size);
    }
    await writer.file(blobPath(sha256Of(plan.config)), plan.config);
    await writer.file(blobPath(sha256Of(plan.manifest)), plan.manifest);
    await writer.file("index.json", plan.index);
    await writer.file("manifest.json", plan.dockerManifest);
    await writer.file("oci-layout", new TextEncoder().encode('{"imageLayoutVersion":"1.0.0"}'));
    await writer.end();
  } finally {
    file.close();
  }
  await Deno.rename(partial, out);
}

/** A minimal ustar writer: regular files and directories, root-owned, mtime 0. */
export class TarWriter {
  #file: Deno.FsFile;

  /** Writes to an open file. */
  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** A directory entry (`name` ends with `/`). */
  async directory(name: string): Promise<void> {
    await this.#write(tarHeader(name, 0, "5", 0o755));
  }

  /** A regular file with these bytes. */
  async file(name: string, bytes: Uint8Array): Promise<void> {
    await this.#write(tarHeader(name, bytes.length, "0", 0o644));
    await this.#write(bytes);
    await this.#write(new Uint8Array(padding(bytes.length)));
  }

  /** A regular file copied from `path`, which must be `size` bytes long. */
  async fileFrom(name: string, path: string, size: number): Promise<void> {
    await this.#write(tarHeader(name, size, "0", 0o644));
    let copied = 0;
    using source = await Deno.open(path);
    for await (const chunk of source.readable) {
      await this.#write(chunk);
      copied += chunk.length;
    }
    if (copied !== size) throw new Error(`File "${path}" changed size while being archived`);
    await this.#write(new Uint8Array(padding(size)));
  }

  /** The two zero blocks that end an archive. */
  async end(): Promise<void> {
    await this.#write(new Uint8Array(1024));
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) done += await this.#file.write(bytes.subarray(done));
  }
}

function padding(size: number): number {
  return (512 - (size % 512)) % 512;
}

/** One ustar header block. */
export function tarHeader(name: string, size: number, type: "0" | "5", mode: number): Uint8Array {
  if (name.length > 100) throw new RangeError(`Tar entry name "${name}" is over 100 bytes`);
  const block = new Uint8Array(512);
  const put = (offset: number, text: string) => block.set(new TextEncoder().encode(text), offset);
  const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, "0");
  put(0, name);
  put(100, octal(mode, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(size, 12));
  put(136, octal(0, 12));
  put(148, "        ");
  put(156, type);
  put(257, "ustar\u000000");
  put(265, "root");
  put(297, "root");
  const sum = block.reduce((a, b) => a + b, 0);
  put(148, `${octal(sum, 7)}\u0000 `);
  return block;
}

async function main(args: string[]): Promise<number> {
  let out = "";
  let configPath = "";
  let layerOnly = false;
  const tags: string[] = [];
  const layerArgs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new TypeError(`Option ${arg} needs a value`);
      return v;
    };
    if (arg === "--out") out = value();
    else if (arg === "--config") configPath = value();
    else if (arg === "--tag") tags.push(value());
    else if (arg === "--layer") layerArgs.push(value());
    else if (arg === "--layer-only") layerOnly = true;
    else throw new TypeError(`Unknown option "${arg}"`);
  }
  if (out === "" || layerArgs.length === 0) throw new TypeError("--out and --layer are required");
  if (layerOnly) {
    const layer = await tarDirectory(layerArgs[0]!, out);
    console.log(`${layer.digest} ${layer.size}`);
    return 0;
  }
  if (configPath === "") throw new TypeError("--config is required");
  const config = JSON.parse(await Deno.readTextFile(configPath)) as RuntimeConfig;
  const layers: Layer[] = [];
  const temps: string[] = [];
  try {
    for (const arg of layerArgs) {
      if ((await Deno.stat(arg)).isDirectory) {
        const tmp = await Deno.makeTempFile({ dir: out.slice(0, out.lastIndexOf("/") + 1) || "." });
        temps.push(tmp);
        layers.push(await tarDirectory(arg, tmp));
      } else {
        layers.push({ path: arg, ...(await digestFile(arg)) });
      }
    }
    await writeImageArchive(out, { tags, layers, config });
  } finally {
    for (const t of temps) await Deno.remove(t).catch(() => {});
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(`pack: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(1);
  }
}
