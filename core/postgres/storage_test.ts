// Goal: the storage step grows volumes standbys first, one at a time, then has the claim template
// follow by an orphaning delete, and refuses a shrink or a class that cannot expand; every
// decision rests on what is observed, so each step can be replayed after a crash.
// Method: planStorage() on hand-made observations (frozen, so nothing is changed in place).
import assert from "node:assert/strict";
import type { KubeObject } from "../object.ts";
import { expansionOrder, planStorage, type StorageFacts } from "./storage.ts";
import { buildStatefulSet } from "./statefulset.ts";
import type { PostgresDB, StorageStatus, ValidSpec } from "./types.ts";
import { validatePostgresDB } from "./validate.ts";
import { sample } from "../../tests/support/fixtures.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");

function validSpec(storage: string, replicas = 3): ValidSpec {
  const validation = validatePostgresDB(sample({ storage, replicas }));
  assert.ok(validation.ok);
  return validation.spec;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function claim(ordinal: number, request: string, capacity: string, bound = true): KubeObject {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: `data-my-postgres-${ordinal}`, namespace: "default", resourceVersion: "5" },
    spec: { storageClassName: "standard", resources: { requests: { storage: request } } },
    status: bound ? { phase: "Bound", capacity: { storage: capacity } } : { phase: "Pending" },
  };
}

function statefulSet(storage: string): KubeObject {
  const sts = buildStatefulSet(sample(), validSpec(storage));
  return {
    ...sts,
    metadata: { ...sts.metadata, uid: "sts-1", generation: 1, resourceVersion: "7" },
    status: { observedGeneration: 1 },
  };
}

const EXPANDABLE: KubeObject = {
  apiVersion: "storage.k8s.io/v1",
  kind: "StorageClass",
  metadata: { name: "standard" },
  allowVolumeExpansion: true,
};

function facts(claims: KubeObject[], overrides: Partial<StorageFacts> = {}): StorageFacts {
  return deepFreeze({
    statefulSet: statefulSet("1Gi"),
    claims,
    storageClass: EXPANDABLE,
    className: "standard",
    unadoptedPods: 0,
    ...overrides,
  });
}

function db(storage: StorageStatus | undefined, primary = "my-postgres-0"): PostgresDB {
  const out = sample({ storage: "2Gi", replicas: 3 });
  out.status = { targetPrimary: primary, currentPrimary: primary, ready: true };
  if (storage) out.status.storage = storage;
  return deepFreeze(out);
}

Deno.test("planStorage() removes VolumeResize and writes nothing when the storage is unchanged", () => {
  const plan = planStorage(db(undefined), validSpec("1Gi"), {
    facts: facts([claim(0, "1Gi", "1Gi")]),
    nowMs: NOW,
  });
  assert.deepEqual(plan.writes, []);
  assert.deepEqual(plan.conditions, { set: [], remove: ["VolumeResize"] });
  assert.equal(plan.status, null);
  assert.equal(plan.recreating, false);
});

Deno.test("planStorage() grows the highest standby first, then the others, the primary last", () => {
  const order: string[] = [];
  let claims = [claim(0, "1Gi", "1Gi"), claim(1, "1Gi", "1Gi"), claim(2, "1Gi", "1Gi")];
  let status: StorageStatus | undefined;
  for (let step = 0; step < 3; step++) {
    const plan = planStorage(db(status), validSpec("2Gi"), { facts: facts(claims), nowMs: NOW });
    assert.equal(plan.writes.length, 1);
    const write = plan.writes[0]!;
    assert.ok(write.kind === "update");
    const spec = write.object.spec as { resources: { requests: { storage: string } } };
    assert.equal(spec.resources.requests.storage, "2Gi");
    assert.equal(write.object.metadata.resourceVersion, "5", "an update of the version read");
    order.push(write.object.metadata.name);
    assert.equal(plan.conditions.set[0]?.reason, "Resizing");
    status = plan.status!;
    // While the grown claim's capacity lags, nothing else is written.
    claims = claims.map((c) =>
      c.metadata.name === write.object.metadata.name
        ? claim(Number(c.metadata.name.slice(-1)), "2Gi", "1Gi")
        : c
    );
    const waiting = planStorage(db(status), validSpec("2Gi"), { facts: facts(claims), nowMs: NOW });
    assert.deepEqual(waiting.writes, [], "one volume at a time");
    claims = claims.map((c) =>
      c.metadata.name === write.object.metadata.name
        ? claim(Number(c.metadata.name.slice(-1)), "2Gi", "2Gi")
        : c
    );
  }
  assert.deepEqual(order, ["data-my-postgres-2", "data-my-postgres-1", "data-my-postgres-0"]);
});

Deno.test("planStorage() marks Recreating, then orphans the StatefulSet once every volume grew", () => {
  const claims = [claim(0, "2Gi", "2Gi"), claim(1, "2Gi", "2Gi")];
  const expanding: StorageStatus = {
    requested: "2Gi",
    current: "1Gi",
    phase: "Expanding",
    resizing: "data-my-postgres-0",
    since: "2026-01-01T00:00:00Z",
  };
  const first = planStorage(db(expanding), validSpec("2Gi"), { facts: facts(claims), nowMs: NOW });
  assert.deepEqual(first.writes, [], "the status records the phase before anything is deleted");
  assert.equal(first.status?.phase, "Recreating");
  assert.ok(first.events.some((e) => e.kind === "emitEvent" && e.eventReason === "VolumeExpanded"));
  const second = planStorage(db(first.status!), validSpec("2Gi"), {
    facts: facts(claims),
    nowMs: NOW,
  });
  assert.equal(second.recreating, true);
  const [remove] = second.writes;
  assert.ok(remove?.kind === "delete");
  assert.equal(remove.propagationPolicy, "Orphan");
  assert.equal(remove.uid, "sts-1");
});

Deno.test("planStorage() holds everything while the StatefulSet is gone, going, or adopting", () => {
  const claims = [claim(0, "2Gi", "2Gi")];
  const recreating: StorageStatus = { requested: "2Gi", current: "2Gi", phase: "Recreating" };
  const gone = planStorage(db(recreating), validSpec("2Gi"), {
    facts: facts(claims, { statefulSet: undefined }),
    nowMs: NOW,
  });
  assert.equal(gone.recreating, true);
  assert.deepEqual(gone.writes, [], "the converge step creates it");
  const terminating = statefulSet("1Gi");
  terminating.metadata.deletionTimestamp = "2026-01-01T00:00:00Z";
  const going = planStorage(db(recreating), validSpec("2Gi"), {
    facts: facts(claims, { statefulSet: terminating }),
    nowMs: NOW,
  });
  assert.equal(going.recreating, true);
  assert.deepEqual(going.writes, []);
  const adopting = planStorage(db(recreating), validSpec("2Gi"), {
    facts: facts(claims, { statefulSet: statefulSet("2Gi"), unadoptedPods: 1 }),
    nowMs: NOW,
  });
  assert.equal(adopting.recreating, true);
  const done = planStorage(db(recreating), validSpec("2Gi"), {
    facts: facts(claims, { statefulSet: statefulSet("2Gi") }),
    nowMs: NOW,
  });
  assert.equal(done.recreating, false);
  assert.equal(done.status?.phase, "Resized");
  assert.equal(done.conditions.set[0]?.status, "True");
  assert.equal(done.conditions.set[0]?.reason, "Resized");
  assert.ok(done.events.some((e) => e.kind === "emitEvent" && e.eventReason === "StorageResized"));
});

Deno.test("planStorage() refuses a shrink and writes nothing", () => {
  const plan = planStorage(db(undefined), validSpec("512Mi"), {
    facts: facts([claim(0, "1Gi", "1Gi")]),
    nowMs: NOW,
  });
  assert.deepEqual(plan.writes, []);
  assert.equal(plan.conditions.set[0]?.reason, "ShrinkRefused");
  assert.match(plan.conditions.set[0]!.message, /"512Mi" is smaller than the volumes' "1Gi"/);
  assert.equal(plan.status?.phase, "Refused");
});

Deno.test("planStorage() refuses a class without expansion, naming it, and writes nothing", () => {
  const fixed = { ...EXPANDABLE, allowVolumeExpansion: false };
  const plan = planStorage(db(undefined), validSpec("2Gi"), {
    facts: facts([claim(0, "1Gi", "1Gi")], { storageClass: fixed }),
    nowMs: NOW,
  });
  assert.deepEqual(plan.writes, []);
  assert.equal(plan.conditions.set[0]?.reason, "ExpansionNotSupported");
  assert.match(plan.conditions.set[0]!.message, /StorageClass "standard" does not allow/);
});

Deno.test("planStorage() says so when a volume's capacity does not follow for long", () => {
  const waiting: StorageStatus = {
    requested: "2Gi",
    current: "1Gi",
    phase: "Expanding",
    resizing: "data-my-postgres-0",
    since: "2026-01-01T00:00:00Z",
  };
  const plan = planStorage(db(waiting), validSpec("2Gi"), {
    facts: facts([claim(0, "2Gi", "1Gi")]),
    nowMs: NOW + 7 * 60_000,
  });
  assert.deepEqual(plan.writes, []);
  assert.match(plan.conditions.set[0]!.message, /has not followed for 7 minutes/);
  assert.equal(plan.status?.since, "2026-01-01T00:00:00Z", "the wait keeps its start");
  assert.ok(plan.requeueAfterMs !== undefined);
});

Deno.test("expansionOrder() puts the current primary last whatever its ordinal", () => {
  const order = expansionOrder(db(undefined, "my-postgres-2"), [
    claim(0, "1Gi", "1Gi"),
    claim(1, "1Gi", "1Gi"),
    claim(2, "1Gi", "1Gi"),
  ]);
  assert.deepEqual(order.map((c) => c.metadata.name), [
    "data-my-postgres-1",
    "data-my-postgres-0",
    "data-my-postgres-2",
  ]);
});
