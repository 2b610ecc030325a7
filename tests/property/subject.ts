/**
 * The PostgresDB operator as a subject of schedules: its reconciler, its CRD, its checkers.
 *
 * @module
 */

import { postgresReconciler } from "../../core/postgres/reconcile.ts";
import { CRDS } from "../../crds/postgresdb.ts";
import { checkPostgresConverged, postgresCheckers } from "../../sim/postgres_checks.ts";
import type { Subject } from "../../sim/schedule.ts";
import type { Mutant } from "../mutants/mutants.ts";

/** The real operator, or a mutant of it. */
export function postgresSubject(mutant?: Mutant): Subject {
  const subject: Subject = {
    reconciler: mutant?.reconciler ?? postgresReconciler,
    install: CRDS.map((c) => c.crd),
    checkers: postgresCheckers,
    converged: checkPostgresConverged,
  };
  if (mutant?.wrapClient) subject.wrapClient = mutant.wrapClient;
  if (mutant?.dataPlane) subject.cluster = { dataPlane: mutant.dataPlane };
  return subject;
}
