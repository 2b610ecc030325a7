// Goal: names and labels are derived in one place, and the watch mappers use those derivations.
// Method: each inverse against its forward function, then the reconciler's mappers on objects.
import assert from "node:assert/strict";
import { controllerReference, type KubeObject } from "../object.ts";
import { ownerOfCredentialsSecret, secretName } from "./naming.ts";
import { instanceOfVolume, selectorLabels } from "./labels.ts";
import { postgresReconciler } from "./reconcile.ts";
import { PVC, SECRET } from "./types.ts";
import { sample } from "../../tests/support/fixtures.ts";

Deno.test("ownerOfCredentialsSecret() inverts secretName() and refuses other names", () => {
  for (const name of ["db", "my-postgres", "a-credentials"]) {
    assert.equal(ownerOfCredentialsSecret(secretName(name)), name);
  }
  for (const name of ["db", "-credentials", "db-credentials-old", "dbcredentials"]) {
    assert.equal(ownerOfCredentialsSecret(name), undefined, name);
  }
});

Deno.test("instanceOfVolume() names the PostgresDB whose selector labels a volume carries", () => {
  assert.equal(instanceOfVolume(selectorLabels("db")), "db");
  assert.equal(instanceOfVolume({ ...selectorLabels("db"), other: "x" }), "db");
  assert.equal(instanceOfVolume({ "app.kubernetes.io/instance": "db" }), undefined);
  assert.equal(
    instanceOfVolume({ ...selectorLabels("db"), "app.kubernetes.io/name": "x" }),
    undefined,
  );
  assert.equal(
    instanceOfVolume({ ...selectorLabels(""), "app.kubernetes.io/instance": "" }),
    undefined,
  );
  assert.equal(instanceOfVolume(undefined), undefined);
});

function keyOf(type: { kind: string }, object: KubeObject): string | undefined {
  const watch = postgresReconciler.watches?.find((w) => w.type.kind === type.kind);
  assert.ok(watch?.keyOf);
  return watch.keyOf(object);
}

Deno.test("postgresReconciler: an ownerless credentials Secret wakes the PostgresDB its name says", () => {
  const secret = (name: string, meta: Record<string, unknown> = {}): KubeObject => ({
    ...SECRET,
    metadata: { name, namespace: "ns", ...meta },
  });
  assert.equal(keyOf(SECRET, secret("db-credentials")), "ns/db");
  assert.equal(keyOf(SECRET, secret("db-other")), undefined);
  const owned = secret("db-credentials", { ownerReferences: [controllerReference(sample())] });
  assert.equal(keyOf(SECRET, owned), undefined);
  const noNamespace: KubeObject = { ...SECRET, metadata: { name: "db-credentials" } };
  assert.equal(keyOf(SECRET, noNamespace), "default/db");
});

Deno.test("postgresReconciler: a volume with a PostgresDB's selector labels wakes that PostgresDB", () => {
  const pvc = (labels: Record<string, string>): KubeObject => ({
    ...PVC,
    metadata: { name: "data-db-0", namespace: "ns", labels },
  });
  assert.equal(keyOf(PVC, pvc(selectorLabels("db"))), "ns/db");
  assert.equal(keyOf(PVC, pvc({ "app.kubernetes.io/instance": "db" })), undefined);
});
