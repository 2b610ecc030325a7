/**
 * Renders the CRDs as YAML, and `deno task crds` that writes (or checks) them.
 *
 * @module
 */

import { stringify } from "yaml";
import { CRDS } from "./postgresdb.ts";

const HEADER = "# Generated from crds/postgresdb.ts by `deno task crds`. Do not edit.\n";

/** The YAML text of each CRD file. */
export function renderCrds(): { file: string; text: string }[] {
  return CRDS.map(({ file, crd }) => ({
    file,
    text: HEADER + "---\n" + stringify(crd, { lineWidth: 0 }),
  }));
}

/** Options of {@link generateCrds}. */
export interface GenerateCrdsOptions {
  /** Compare the files with what would be written, and write nothing. @default false */
  check?: boolean;
  /** The directory of the CRD files. @default this module's directory, `crds/` */
  dir?: URL;
}

/**
 * `deno task crds [--check]`: writes `crds/*.yaml` from `crds/postgresdb.ts`, or (`check`) names
 * each file that is out of date on stderr. Returns the exit code: 0 current, 1 out of date.
 */
export async function generateCrds(options: GenerateCrdsOptions = {}): Promise<number> {
  const dir = options.dir ?? new URL("./", import.meta.url);
  let stale = 0;
  for (const { file, text } of renderCrds()) {
    const path = new URL(file, dir);
    if (options.check) {
      const current = await Deno.readTextFile(path).catch(() => "");
      if (current !== text) {
        console.error(`crds/${file} is out of date: run deno task crds`);
        stale++;
      }
    } else {
      await Deno.writeTextFile(path, text);
      console.log(`wrote crds/${file}`);
    }
  }
  return stale === 0 ? 0 : 1;
}
