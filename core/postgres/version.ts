/**
 * PostgreSQL versions: which tags the operator accepts, their major, and the major of the data a
 * PostgresDB's volumes hold.
 *
 * PostgreSQL refuses to start on a data directory of another major version, so the operator
 * must know the data's major before it changes the image. It records it where the data is: the
 * StatefulSet's volume claim template carries the annotation {@link DATA_MAJOR}, which the
 * StatefulSet controller copies onto every PVC it creates, and a major upgrade rewrites on every
 * data PVC once `pg_upgrade` succeeded. The evidence, first found wins: the highest of the data
 * PVCs' annotations; the StatefulSet's claim template annotation (the PVCs may not exist yet); the
 * major of the StatefulSet's image (a StatefulSet written before the annotation existed).
 *
 * @module
 */

import type { KubeObject } from "../object.ts";

/**
 * The tags accepted as `spec.version`: a major from 10 up, an optional minor or pre-release
 * (`18beta1`, `18rc1`), and an optional lowercase suffix naming a variant (`16`, `16.4`, `17-bookworm`, `16.4-alpine3.20`). Tags that
 * name no version (`latest`, `alpine`) are refused: the major must be known.
 */
export const POSTGRES_VERSION =
  /^([1-9][0-9])(\.(0|[1-9][0-9]{0,2}))?((beta|rc)[1-9])?(-[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?)?$/;

/** The annotation that records the PostgreSQL major a data volume was initialised with. */
export const DATA_MAJOR = "database.thegeekyway.com/data-major";

/**
 * The major of a version tag, or undefined when it names no version.
 *
 * @example
 * ```ts
 * import { versionMajor } from "./version.ts";
 * console.assert(versionMajor("16.4-bookworm") === 16);
 * console.assert(versionMajor("latest") === undefined);
 * ```
 */
export function versionMajor(version: string): number | undefined {
  const match = POSTGRES_VERSION.exec(version);
  return match ? Number(match[1]) : undefined;
}

/** The major of a `postgres:<tag>` image, or undefined. */
export function imageMajor(image: string): number | undefined {
  const match = /^(?:.*\/)?postgres:([^@]+)$/.exec(image);
  return match ? versionMajor(match[1]!) : undefined;
}

/** Where the data's major was read from, for messages. */
export interface DataMajor {
  /** The PostgreSQL major that initialised the data. */
  major: number;
  /** e.g. `PVC "data-db-0"`, `StatefulSet "db" image "postgres:16"`. */
  source: string;
}

/**
 * The major of the data a PostgresDB's volumes hold, from the best evidence observed, or
 * undefined when nothing was initialised yet (or nothing says).
 */
export function observedDataMajor(
  statefulSet: KubeObject | undefined,
  volumes: readonly KubeObject[],
): DataMajor | undefined {
  // The highest major any volume records: after a major upgrade the upgraded volume records the
  // new one at once, while a volume made later from the claim template may record the old.
  let best: DataMajor | undefined;
  for (const pvc of volumes) {
    const major = annotatedMajor(pvc.metadata.annotations);
    if (major !== undefined && (best === undefined || major > best.major)) {
      best = { major, source: `PVC ${JSON.stringify(pvc.metadata.name)}` };
    }
  }
  if (best !== undefined) return best;
  if (!statefulSet) return undefined;
  const spec = statefulSet.spec as {
    volumeClaimTemplates?: { metadata?: { annotations?: Record<string, string> } }[];
    template?: { spec?: { containers?: { name?: string; image?: string }[] } };
  } | undefined;
  const name = JSON.stringify(statefulSet.metadata.name);
  for (const template of spec?.volumeClaimTemplates ?? []) {
    const major = annotatedMajor(template.metadata?.annotations);
    if (major !== undefined) return { major, source: `StatefulSet ${name}` };
  }
  const image = spec?.template?.spec?.containers?.find((c) => c.name === "postgres")?.image;
  const major = image === undefined ? undefined : imageMajor(image);
  return major === undefined
    ? undefined
    : { major, source: `StatefulSet ${name} image ${JSON.stringify(image)}` };
}

function annotatedMajor(annotations: Record<string, string> | undefined): number | undefined {
  const text = annotations?.[DATA_MAJOR];
  return text !== undefined && /^[1-9][0-9]$/.test(text) ? Number(text) : undefined;
}
