/**
 * Renders the CRDs as YAML, the way `deno task crds` writes them.
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
