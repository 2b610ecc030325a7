/**
 * The converging steps for the instance agents: their ServiceAccount, Role and RoleBinding
 * (created when missing; a Role's rules or a binding's subjects that drifted are updated with the
 * version read), and the role labels on the pods. Pure.
 *
 * @module
 */

import { jsonEqual } from "../compare.ts";
import type { KubeObject } from "../object.ts";
import type { Children } from "./classify.ts";
import {
  buildInstanceRole,
  buildInstanceRoleBinding,
  buildInstanceServiceAccount,
} from "./instance_rbac.ts";
import { roleLabelWrites } from "./instances.ts";
import { createStep, NO_STEP, type Step, withoutServerFields } from "./step.ts";
import type { TargetChoice } from "./target.ts";
import type { PostgresDB, ValidSpec } from "./types.ts";

/** The agents' ServiceAccount, Role and RoleBinding. */
export function agentIdentitySteps(db: PostgresDB, spec: ValidSpec, children: Children): Step[] {
  return [
    children.account ? NO_STEP : createStep(db, buildInstanceServiceAccount(db, spec), "missing"),
    repairStep(db, buildInstanceRole(db, spec), children.role, "rules"),
    repairStep(db, buildInstanceRoleBinding(db, spec), children.roleBinding, "subjects"),
  ];
}

/** Created when missing; `field` updated with the version read when it drifted. */
function repairStep(
  db: PostgresDB,
  desired: KubeObject,
  observed: KubeObject | undefined,
  field: "rules" | "subjects",
): Step {
  if (!observed) return createStep(db, desired, "missing");
  if (jsonEqual(desired[field], observed[field])) return NO_STEP;
  const object = withoutServerFields(observed);
  object[field] = structuredClone(desired[field]);
  const reason = `${field}: want ${JSON.stringify(desired[field])}, have ${
    JSON.stringify(observed[field] ?? null)
  }`;
  return { writes: [{ kind: "update", object, reason }], events: [] };
}

/** The role labels of the StatefulSet's pods, from their agents' reports and the target. */
export function roleLabelStep(children: Children, choice: TargetChoice): Step {
  const { targetPrimary, primaryTerm } = choice;
  return {
    writes: roleLabelWrites(children.instances ?? [], targetPrimary, primaryTerm),
    events: [],
  };
}
