/**
 * The credentials Secret: created once with a random password, then never regenerated or
 * overwritten by the operator. It is the record of what the database was initialised with.
 *
 * @module
 */

import type { Random } from "../clock.ts";
import { controllerReference, type KubeObject } from "../object.ts";
import { commonLabels } from "./labels.ts";
import { secretName, serviceHost } from "./naming.ts";
import { POSTGRES_PORT, type PostgresDB, type ValidSpec } from "./types.ts";

/** The database superuser the official image creates. */
export const DATABASE_USER = "postgres";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Length of generated passwords: 24 characters of 62 gives about 143 bits. */
export const PASSWORD_LENGTH = 24;

/** A password drawn from `random`, uniformly over letters and digits (URL-safe). */
export function generatePassword(random: Random, length = PASSWORD_LENGTH): string {
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[random.int(ALPHABET.length)];
  return out;
}

/**
 * The annotation that marks a credentials Secret the operator generated. A Secret without it is
 * the user's: the operator never gives it an owner, so it is never garbage-collected.
 */
export const GENERATED_ANNOTATION = "database.thegeekyway.com/credentials";

/** True when the operator generated this credentials Secret. */
export function isGeneratedCredentials(secret: KubeObject): boolean {
  return secret.metadata.annotations?.[GENERATED_ANNOTATION] === "generated";
}

/**
 * Builds the credentials Secret `<name>-credentials` with keys `username`, `password`,
 * `database`, `host`, `port` and `uri`. With deletion policy `Delete` the PostgresDB is its
 * controller (it goes with it); with `Retain` it has no owner and outlives the PostgresDB, as the
 * volumes it opens do.
 */
export function buildCredentialsSecret(
  db: PostgresDB,
  spec: ValidSpec,
  password: string,
): KubeObject {
  const namespace = db.metadata.namespace ?? "default";
  const host = serviceHost(db.metadata.name, namespace);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: secretName(db.metadata.name),
      namespace,
      labels: commonLabels(db.metadata.name, spec),
      annotations: { [GENERATED_ANNOTATION]: "generated" },
      ...(spec.deletionPolicy === "Delete" ? { ownerReferences: [controllerReference(db)] } : {}),
    },
    type: "Opaque",
    stringData: {
      username: DATABASE_USER,
      password,
      database: spec.databaseName,
      host,
      port: String(POSTGRES_PORT),
      uri:
        `postgresql://${DATABASE_USER}:${password}@${host}:${POSTGRES_PORT}/${spec.databaseName}`,
    },
  };
}

/**
 * What the operator applies to a credentials Secret that exists: its name and these labels,
 * nothing else. The credentials themselves are never rewritten, and no owner reference is added,
 * so a Secret the user brought never becomes garbage-collectable with the PostgresDB.
 */
export function credentialsLabels(
  existing: KubeObject,
  labels: Record<string, string> | undefined,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: existing.metadata.name,
      namespace: existing.metadata.namespace ?? "default",
      ...(labels ? { labels } : {}),
    },
  };
}
