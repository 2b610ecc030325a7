import assert from "node:assert/strict";
import type { Action } from "../actions.ts";
import { createStep, EVENT_MESSAGE_MAX, joinCreated, normalEvent } from "./step.ts";
import type { PostgresDB } from "./types.ts";

const db = {
  apiVersion: "database.thegeekyway.com/v1alpha1",
  kind: "PostgresDB",
  metadata: { name: "my-postgres", namespace: "default", uid: "u1" },
  spec: { version: "16", storage: "1Gi", replicas: 1, databaseName: "app" },
} as PostgresDB;

function created(kind: string, name: string): Action {
  return createStep(db, { apiVersion: "v1", kind, metadata: { name, namespace: "default" } }, "m")
    .events[0]!;
}

Deno.test("joinCreated: the Created events of one reconcile become one, where the first was", () => {
  const ready = normalEvent(db, "Ready", "1/1 instances ready");
  const warning: Action = {
    kind: "emitEvent",
    regarding: db,
    type: "Warning",
    eventReason: "Created",
    message: "not a report of a create",
  };
  const joined = joinCreated([
    created("Secret", "a"),
    ready,
    created("Service", "b"),
    warning,
    created("StatefulSet", "c"),
  ]);
  assert.deepEqual(joined.map((e) => e.kind === "emitEvent" && e.message), [
    "Created Secret default/a, Service default/b, StatefulSet default/c",
    "1/1 instances ready",
    "not a report of a create",
  ]);
});

Deno.test("joinCreated: one Created event, or none, is left as it is", () => {
  const one = [created("Secret", "a")];
  assert.deepEqual(joinCreated(one), one);
  assert.deepEqual(joinCreated([]), []);
});

Deno.test("joinCreated: a message longer than an Event takes is cut, and says so", () => {
  const many = Array.from(
    { length: 40 },
    (_, i) => created("Service", `service-${"x".repeat(40)}-${i}`),
  );
  const [joined] = joinCreated(many);
  assert.ok(joined?.kind === "emitEvent");
  assert.equal(joined.message.length, EVENT_MESSAGE_MAX);
  assert.ok(joined.message.endsWith("…"));
});
