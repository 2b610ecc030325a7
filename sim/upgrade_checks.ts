/**
 * Safety of major upgrades, checked on every commit of a simulated run:
 *
 * - **No instance runs a major other than its data's.** (PostgreSQL refuses to start on another
 *   major's data; the check guards the model and every path around it.)
 * - **No data major ever goes down** on a volume: an upgrade moves it up, nothing moves it back.
 * - **Nothing runs on a volume while an upgrade may be working on it**: while the upgrade runner
 *   runs on a claim, or its journal is open there, no PostgreSQL process runs on it and no clone
 *   or `initdb` writes it (its data directory may look empty to an agent).
 *
 * The end state's part (an upgrade ends done or rolled back) is in `checkPostgresConverged`.
 *
 * @module
 */

import type { Checker } from "./harness.ts";

/** The checkers of major upgrades. */
export function upgradeCheckers(): Checker[] {
  return [runningMajorChecker(), dataMajorChecker(), upgradeExclusiveChecker()];
}

/** No running instance's binaries differ from its data's major. */
export function runningMajorChecker(): Checker {
  return {
    name: "no instance runs a major other than its data's",
    onCommit(_change, { harness }) {
      for (const [, instance] of harness.cluster.dataPlane?.instances() ?? []) {
        if (instance.process !== "running") continue;
        if (instance.dataMajor !== instance.binaryMajor) {
          return `${instance.name} runs PostgreSQL ${instance.binaryMajor} on data of ` +
            `${instance.dataMajor}`;
        }
      }
      return undefined;
    },
  };
}

/** A volume's data major never decreases while the volume lives. */
export function dataMajorChecker(): Checker {
  const highest = new Map<string, number>();
  return {
    name: "no data major ever goes down",
    onCommit(_change, { harness }) {
      for (const [claim, instance] of harness.cluster.dataPlane?.instances() ?? []) {
        const major = instance.dataMajor;
        if (major === undefined) continue;
        const before = highest.get(claim) ?? 0;
        if (major < before) {
          return `the data on ${instance.name}'s volume went from PostgreSQL ${before} to ${major}`;
        }
        highest.set(claim, major);
      }
      return undefined;
    },
  };
}

/** Nothing starts, clones or initialises on a volume the upgrade runner may be working on. */
export function upgradeExclusiveChecker(): Checker {
  return {
    name: "nothing runs on a volume while an upgrade may work on it",
    onCommit(_change, { harness }) {
      const plane = harness.cluster.dataPlane;
      if (plane === undefined) return undefined;
      const busy = new Set<string>();
      for (const run of harness.cluster.upgradeHost?.active ?? []) {
        if (run.mode === "upgrade" && run.claim !== undefined) {
          busy.add(`${run.namespace}/${run.claim}`);
        }
      }
      for (const [, instance] of plane.instances()) {
        const open = instance.upgradeFiles.journal !== undefined ||
          instance.upgradeFiles.controlOld;
        const observed = instance.observe();
        const writing = instance.process !== "stopped" && instance.process !== "crashed" ||
          observed.data.kind === "initializing";
        if (open && writing) {
          return `${instance.name}: PostgreSQL is ${instance.process} (data ${observed.data.kind}) ` +
            `while an upgrade's journal is open on its volume`;
        }
      }
      for (const key of busy) {
        const [namespace = "default", claim = ""] = key.split("/");
        const instance = plane.instance(namespace, claim);
        if (
          instance !== undefined && instance.process !== "stopped" && instance.process !== "crashed"
        ) {
          return `${instance.name}: PostgreSQL is ${instance.process} while pg_upgrade runs on ${claim}`;
        }
      }
      return undefined;
    },
  };
}
