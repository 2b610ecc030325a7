/**
 * The metrics modules under their former name: the generic registry (`prometheus.ts`) and the
 * controller families (`controller_metrics.ts`). Import those; this one keeps older imports
 * (and the library's `mod.ts`) working.
 *
 * @module
 */

export * from "./prometheus.ts";
export * from "./controller_metrics.ts";
import { ControllerMetrics } from "./controller_metrics.ts";

/** @deprecated The former name of {@link ControllerMetrics}. */
export const OperatorMetrics: typeof ControllerMetrics = ControllerMetrics;
/** @deprecated The former name of {@link ControllerMetrics}. */
export type OperatorMetrics = ControllerMetrics;
