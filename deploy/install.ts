/**
 * `deno task image`, `deno task deploy`, `deno task bundle` and `deno task manifests`: build the
 * operator's image, install the operator into the current kubeconfig's cluster, print the install
 * as one YAML, and regenerate (or check) `deploy/*.yaml`.
 *
 * `IMG=...` picks the image, as in kubebuilder's Makefile (`make docker-build deploy IMG=...`);
 * `--image ...` does the same.
 *
 * @module
 */

import { InputError } from "../cli/manifests.ts";
import { DEFAULT_IMAGE, renderBundle, renderDeployFiles } from "./manifests.ts";

/** Options shared by the install commands. */
export interface InstallOptions {
  /** The operator image. @default "postgres-operator:0.1.0" */
  image: string;
  /** Further arguments (e.g. `--dry-run=server` for deploy). */
  rest: string[];
}

/**
 * Reads `IMG=...`, `--image X` or `--image=X` from `args`; the other arguments are kept.
 *
 * @throws {InputError} for an empty image
 */
export function parseInstallArgs(args: readonly string[]): InstallOptions {
  let image = DEFAULT_IMAGE;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith("IMG=")) image = arg.slice(4);
    else if (arg.startsWith("--image=")) image = arg.slice(8);
    else if (arg === "--image") image = args[++i] ?? "";
    else rest.push(arg);
  }
  if (image === "") throw new InputError("IMG must name an image, e.g. IMG=registry/pgop:0.1.0");
  return { image, rest };
}

/** Prints the whole install as one YAML document stream. */
export function bundle(args: readonly string[]): number {
  const { image, rest } = parseInstallArgs(args);
  if (rest.length > 0) throw new InputError(`bundle takes only IMG=..., not ${rest.join(" ")}`);
  Deno.stdout.writeSync(new TextEncoder().encode(renderBundle({ image })));
  return 0;
}

/** Writes `deploy/*.yaml` and `crds/Kustomization`, or with `--check` reports stale ones. */
export async function manifests(args: readonly string[], root: URL): Promise<number> {
  const check = args.includes("--check");
  const unknown = args.filter((a) => a !== "--check");
  if (unknown.length > 0) throw new InputError(`Unknown option ${JSON.stringify(unknown[0])}`);
  let stale = 0;
  for (const { path, text } of renderDeployFiles()) {
    const url = new URL(path, root);
    if (check) {
      const current = await Deno.readTextFile(url).catch(() => "");
      if (current !== text) {
        console.error(`${path} is out of date: run deno task manifests`);
        stale++;
      }
    } else {
      await Deno.writeTextFile(url, text);
      console.log(`wrote ${path}`);
    }
  }
  return stale === 0 ? 0 : 1;
}

/**
 * Builds the operator image without Docker: `scripts/images/build.sh --operator-only` (Deno from
 * npm, the sources, a filled DENO_DIR, on the Debian base layer the postgres images share) writes
 * an image archive tagged `IMG` and prints its path; import it with
 * `ctr -n k8s.io images import PATH`. Further arguments (e.g. `--force`) go to build.sh. On a
 * machine with a Docker engine, `docker build -f deploy/Dockerfile -t IMG .` builds the same
 * image the usual way.
 */
export async function image(args: readonly string[], root: URL): Promise<number> {
  const { image, rest } = parseInstallArgs(args);
  if (!/^[a-z0-9][a-z0-9._\/:-]*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(image)) {
    throw new InputError(`Invalid image "${image}": expected name:tag, e.g. postgres-operator:dev`);
  }
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("bash", {
      args: imageBuildArgs(image, rest),
      cwd: root,
      stdout: "piped",
      stderr: "inherit",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(`Cannot build ${image}: bash is not installed`);
    }
    throw error;
  }
  if (out.code !== 0) {
    // build.sh explains its own failures in one line (exit 1); anything else is unexpected.
    if (out.code !== 1) {
      console.error(
        `error: cannot build ${image}: scripts/images/build.sh exited with ${out.code}`,
      );
    }
    return 1;
  }
  const archive = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  console.log(archive);
  console.error(`built ${image}: import it with ctr -n k8s.io images import ${archive}`);
  return 0;
}

/** The arguments of `bash` that build the operator image `image` (`rest` goes to build.sh). */
export function imageBuildArgs(image: string, rest: readonly string[]): string[] {
  return ["scripts/images/build.sh", "--operator-only", "--operator-tag", image, ...rest];
}

/**
 * Installs the operator into the current kubeconfig's cluster: the bundle with `IMG` as the
 * image, through `kubectl apply -f -` (so it needs neither kustomize nor a file change). Other
 * arguments go to kubectl (e.g. `--dry-run=server`, `--context`).
 */
export async function deploy(args: readonly string[]): Promise<number> {
  const { image, rest } = parseInstallArgs(args);
  const kubectl = Deno.env.get("KUBECTL") ?? "kubectl";
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(kubectl, {
      args: ["apply", "-f", "-", ...rest],
      stdin: "piped",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(`Cannot run "${kubectl}": not found (set KUBECTL to its path)`);
    }
    throw error;
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(renderBundle({ image })));
  await writer.close();
  const status = await child.status;
  return status.code === 0 ? 0 : 1;
}
