/**
 * The upgrade runner: checks that a major upgrade can be done, or does it on the stopped
 * primary's volume, with only the ports it is given, so the same code runs in a Job's pod against
 * real PostgreSQL (`agent/upgrade/`) and in the simulation on virtual time.
 *
 * The upgrade's order, each step entered in the journal first:
 * 1. **Resume.** A journal at `prepare` or `link` means an earlier run stopped before the swap:
 *    roll back (rename `global/pg_control.old` back, remove `pgdata.next`; the old cluster never
 *    ran on the new binaries, so it is intact), then start afresh. A journal at `swap` or `finish`
 *    means the upgrade is committed: complete it.
 * 2. **Preconditions**, changing nothing: the data directory is the source major's; a cluster
 *    not shut down cleanly is recovered with the old binaries; the volume has room for the new
 *    cluster's catalogs and WAL (the data files are hard-linked, not copied).
 * 3. `prepare`: `initdb` of the new cluster (same checksums), `pg_upgrade --check`.
 * 4. `link`: `pg_upgrade --link`, then the agent's settings carried into the new cluster.
 * 5. `swap`: the new data directory takes the old one's place. From here on the upgrade is
 *    committed: the old cluster is kept aside until the end, never started again.
 * 6. `finish`: the new cluster runs once, alone, to update extensions and gather statistics (a
 *    failure here is a warning: the data is upgraded and serves).
 * 7. The old directory and the journal are removed.
 *
 * Every failure before the swap leaves the old cluster as it was and says why. Both entry points
 * return an {@link UpgradeResult} and never throw.
 *
 * @module
 */

import type {
  StepResult,
  UpgradeFailure,
  UpgradeInspector,
  UpgradeJournal,
  UpgradeResult,
  UpgradeVolume,
  VolumeFacts,
} from "../core/upgrade/types.ts";

export type { UpgradeInspector, UpgradeResult, UpgradeVolume };

/** What an upgrade run needs. */
export interface UpgradeRunOptions {
  /** The stopped primary's volume. */
  volume: UpgradeVolume;
  /** The major of the data. */
  from: number;
  /** The major of the binaries this run has. */
  to: number;
  /** The clock, epoch milliseconds. */
  now(): number;
  /** One line per step. */
  log?: (line: string) => void;
}

/** What a check run needs. */
export interface CheckRunOptions {
  /** The serving primary and the target image. */
  inspector: UpgradeInspector;
  /** The major of the data. */
  from: number;
  /** The major of the target image. */
  to: number;
  /** The clock, epoch milliseconds. */
  now(): number;
  /** One line per step. */
  log?: (line: string) => void;
}

const MESSAGE_LIMIT = 1_500;

function clip(text: string): string {
  return text.length <= MESSAGE_LIMIT ? text : `${text.slice(0, MESSAGE_LIMIT - 3)}...`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Checks, while the database serves, that the target image has what the databases use.
 *
 * @example
 * ```ts
 * import { runCheck } from "./upgrade_runner.ts";
 * const inspector = {
 *   extensions: () => Promise.resolve([{ database: "app", name: "postgis" }]),
 *   preloadedLibraries: () => Promise.resolve([]),
 *   preparedTransactions: () => Promise.resolve(0),
 *   hasExtension: (name: string) => Promise.resolve(name !== "postgis"),
 *   hasLibrary: () => Promise.resolve(true),
 *   space: () => Promise.resolve(undefined),
 * };
 * const result = await runCheck({ inspector, from: 16, to: 17, now: () => 0 });
 * console.assert(result.outcome === "Failed" && result.reason === "ExtensionsUnavailable");
 * ```
 */
export async function runCheck(options: CheckRunOptions): Promise<UpgradeResult> {
  const { inspector, from, to } = options;
  const log = options.log ?? (() => {});
  const started = options.now();
  const failed = (reason: UpgradeFailure, message: string): UpgradeResult => ({
    outcome: "Failed",
    mode: "check",
    reason,
    message: clip(message),
  });
  if (!(to > from)) {
    return failed("InvalidConfiguration", `Cannot upgrade from ${from} to ${to}: not an upgrade`);
  }
  let extensions: { database: string; name: string }[];
  let libraries: string[];
  let prepared: number;
  try {
    extensions = await inspector.extensions();
    libraries = await inspector.preloadedLibraries();
    prepared = await inspector.preparedTransactions();
  } catch (error) {
    return failed("DatabaseUnreachable", `Cannot read the primary: ${describe(error)}`);
  }
  log(`${extensions.length} extensions, ${libraries.length} preloaded libraries`);
  const missing: string[] = [];
  for (const name of [...new Set(extensions.map((e) => e.name))].sort()) {
    if (!(await inspector.hasExtension(name))) {
      const where = extensions.filter((e) => e.name === name).map((e) => `"${e.database}"`);
      missing.push(`extension "${name}" (in ${where.join(", ")})`);
    }
  }
  for (const name of libraries) {
    if (!(await inspector.hasLibrary(name))) missing.push(`library "${name}"`);
  }
  if (missing.length > 0) {
    return failed(
      "ExtensionsUnavailable",
      `The PostgreSQL ${to} image lacks ${missing.join(", ")}: install ${
        missing.length === 1 ? "it" : "them"
      } in the image, or drop ${missing.length === 1 ? "it" : "them"} first`,
    );
  }
  const space = await inspector.space();
  if (space !== undefined && space.freeBytes < space.neededBytes) {
    return failed(
      "InsufficientSpace",
      `The primary's volume has ${mib(space.freeBytes)} free; the upgrade needs about ` +
        `${mib(space.neededBytes)} (the data files are linked, not copied): grow the volume first`,
    );
  }
  if (prepared > 0) {
    return failed(
      "PreparedTransactions",
      `${prepared} prepared transaction${
        prepared === 1 ? "" : "s"
      } exist: pg_upgrade refuses them; commit or roll them back (pg_prepared_xacts)`,
    );
  }
  return {
    outcome: "Succeeded",
    mode: "check",
    from,
    to,
    message: `The PostgreSQL ${to} image has every extension and library the databases use` +
      (space === undefined ? "" : `, and the volume has room (${mib(space.freeBytes)} free)`),
    durationMs: options.now() - started,
  };
}

/**
 * Upgrades the data on `volume` from major `from` to `to`, or resumes a run that stopped; see the
 * module documentation for the order and the guarantees.
 */
export async function runUpgrade(options: UpgradeRunOptions): Promise<UpgradeResult> {
  const { volume, from, to } = options;
  const log = options.log ?? (() => {});
  const started = options.now();
  let rolledBack = false;
  const failed = (reason: UpgradeFailure, message: string): UpgradeResult => {
    const result: UpgradeResult = {
      outcome: "Failed",
      mode: "upgrade",
      reason,
      message: clip(message),
    };
    if (rolledBack) result.rolledBack = true;
    return result;
  };
  if (!(to > from)) {
    return failed("InvalidConfiguration", `Cannot upgrade from ${from} to ${to}: not an upgrade`);
  }
  const enter = (step: UpgradeJournal["step"]) => volume.writeJournal({ from, to, step });
  const abandon = async (reason: UpgradeFailure, message: string): Promise<UpgradeResult> => {
    await volume.rollback();
    await volume.writeJournal(undefined);
    log(`rolled back: ${message}`);
    return failed(reason, `${message}; the old cluster was left as it was`);
  };

  let facts: VolumeFacts = await volume.inspect();
  const journal = facts.journal;
  if (journal !== undefined && (journal.from !== from || journal.to !== to)) {
    return failed(
      "InvalidConfiguration",
      `The volume holds an unfinished upgrade from ${journal.from} to ${journal.to}, not from ` +
        `${from} to ${to}`,
    );
  }
  if (journal?.step === "prepare" || journal?.step === "link") {
    log(`an earlier run stopped at "${journal.step}": rolling back`);
    await volume.rollback();
    await volume.writeJournal(undefined);
    rolledBack = true;
    facts = await volume.inspect();
  }
  if (journal?.step !== "swap" && journal?.step !== "finish") {
    if (facts.dataMajor === to && !facts.next) {
      // A run that completed, retried: nothing to do.
      if (facts.old) await volume.dropOld();
      return succeeded(`The data is already PostgreSQL ${to}`);
    }
    if (facts.next) {
      // A new cluster without a journal: only ours, and never started. Remove it.
      await volume.rollback();
      facts = await volume.inspect();
    }
    const refused = await preconditions();
    if (refused !== undefined) return refused;

    await enter("prepare");
    const init = await volume.initNext(facts.checksums);
    if (!init.ok) return await abandon("InitdbFailed", `initdb failed: ${init.message}`);
    log("new cluster initialised");
    const check = await volume.check();
    if (!check.ok) {
      return await abandon(
        "IncompatibleClusters",
        `pg_upgrade --check found the clusters incompatible: ${check.message}`,
      );
    }
    log("pg_upgrade --check passed");
    await enter("link");
    const link = await volume.link();
    if (!link.ok) return await abandon("UpgradeFailed", `pg_upgrade failed: ${link.message}`);
    log("pg_upgrade --link done");
    await volume.configureNext();
    await enter("swap");
  }
  if (journal?.step !== "finish") {
    await volume.swap();
    await enter("finish");
    log("data directories swapped");
  }
  const finish = await volume.finish();
  await volume.dropOld();
  await volume.writeJournal(undefined);
  const message = `Upgraded the data from PostgreSQL ${from} to ${to}` +
    (journal?.step === "swap" || journal?.step === "finish"
      ? " (an earlier run's swap completed)"
      : "");
  return finish.ok ? succeeded(message) : succeeded(message, finishWarning(finish));

  function succeeded(message: string, warning?: string): UpgradeResult {
    const result: UpgradeResult = {
      outcome: "Succeeded",
      mode: "upgrade",
      from,
      to,
      message,
      durationMs: options.now() - started,
    };
    if (warning !== undefined) result.warning = clip(warning);
    return result;
  }

  async function preconditions(): Promise<UpgradeResult | undefined> {
    if (facts.dataMajor === undefined) {
      return failed("NoData", "The volume holds no data directory");
    }
    if (facts.dataMajor !== from) {
      return failed(
        "WrongDataMajor",
        `The data directory is PostgreSQL ${facts.dataMajor}, not ${from}`,
      );
    }
    if (facts.clusterState !== "shut down") {
      log(`cluster state "${facts.clusterState ?? ""}": running crash recovery`);
      const recovered = await volume.recover();
      facts = await volume.inspect();
      if (!recovered.ok || facts.clusterState !== "shut down") {
        return failed(
          "RecoveryFailed",
          `The old cluster was not shut down cleanly ("${facts.clusterState ?? ""}") and crash ` +
            `recovery failed${recovered.ok ? "" : `: ${recovered.message}`}`,
        );
      }
    }
    if (facts.freeBytes < facts.neededBytes) {
      return failed(
        "InsufficientSpace",
        `The volume has ${mib(facts.freeBytes)} free; the new cluster needs about ` +
          `${mib(facts.neededBytes)} (the data files are linked, not copied): grow the volume ` +
          `first`,
      );
    }
    return undefined;
  }
}

function finishWarning(finish: StepResult): string | undefined {
  return finish.ok ? undefined : `The upgraded cluster's first run failed: ${finish.message}`;
}

function mib(bytes: number): string {
  return `${Math.ceil(bytes / (1024 * 1024))} MiB`;
}
