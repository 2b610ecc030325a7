// Goal: the builders produce the objects the issue describes, field by field.
import assert from "node:assert/strict";
import { buildCredentialsSecret, generatePassword } from "./secret.ts";
import { buildHeadlessService } from "./service.ts";
import { AGENT_COMMAND, buildStatefulSet, OPERATOR_IMAGE, PGDATA } from "./statefulset.ts";
import type { ValidSpec } from "./types.ts";
import { random, sample } from "../../tests/support/fixtures.ts";

const spec: ValidSpec = {
  version: "16",
  storage: "1Gi",
  replicas: 1,
  databaseName: "myapp",
  deletionPolicy: "Retain",
  failoverDelay: 0,
  maxFailoverLagBytes: 16 * 2 ** 20,
};

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("buildHeadlessService() is headless on 5432 named postgres, selecting the instance", () => {
  const svc = buildHeadlessService(sample(), spec) as Any;
  assert.equal(svc.metadata.name, "my-postgres");
  assert.equal(svc.spec.clusterIP, "None");
  assert.deepEqual(svc.spec.ports.map((p: Any) => [p.name, p.port]), [["postgres", 5432]]);
  assert.deepEqual(svc.spec.selector, {
    "app.kubernetes.io/name": "postgres",
    "app.kubernetes.io/instance": "my-postgres",
  });
});

Deno.test("buildStatefulSet() runs postgres:<version> with credentials from the Secret", () => {
  const sts = buildStatefulSet(sample(), spec) as Any;
  const container = sts.spec.template.spec.containers[0];
  assert.equal(container.image, "postgres:16");
  const env = Object.fromEntries(container.env.map((e: Any) => [e.name, e]));
  for (
    const [name, key] of [["POSTGRES_USER", "username"], ["POSTGRES_PASSWORD", "password"], [
      "POSTGRES_DB",
      "database",
    ]]
  ) {
    assert.deepEqual(env[name!].valueFrom, {
      secretKeyRef: { name: "my-postgres-credentials", key },
    });
  }
  assert.equal(env.PGDATA.value, PGDATA);
  assert.ok(
    PGDATA.startsWith(container.volumeMounts[0].mountPath + "/"),
    "PGDATA is a subdirectory",
  );
});

Deno.test("buildStatefulSet() claims the requested storage per instance as data", () => {
  const sts = buildStatefulSet(sample(), { ...spec, storage: "5Gi", replicas: 3 }) as Any;
  assert.equal(sts.spec.replicas, 3);
  assert.equal(sts.spec.serviceName, "my-postgres");
  const [claim] = sts.spec.volumeClaimTemplates;
  assert.equal(claim.metadata.name, "data");
  assert.equal(claim.spec.resources.requests.storage, "5Gi");
  assert.deepEqual(sts.spec.persistentVolumeClaimRetentionPolicy, {
    whenDeleted: "Retain",
    whenScaled: "Retain",
  });
});

Deno.test("buildStatefulSet() runs the agent, probed on its /healthz and /readyz", () => {
  const pod = (buildStatefulSet(sample(), spec) as Any).spec.template.spec;
  const container = pod.containers[0];
  assert.deepEqual(container.command, [...AGENT_COMMAND]);
  assert.equal(container.startupProbe.httpGet.path, "/healthz");
  assert.equal(container.livenessProbe.httpGet.path, "/healthz");
  assert.equal(container.readinessProbe.httpGet.path, "/readyz");
  for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
    assert.equal(container[probe].httpGet.port, 8008, probe);
  }
  const startupBudgetS = container.startupProbe.periodSeconds *
    container.startupProbe.failureThreshold;
  assert.ok(startupBudgetS >= 3600, `startup allows ${startupBudgetS}s`);
  assert.equal(pod.serviceAccountName, "my-postgres-instance");
  assert.equal(pod.initContainers[0].image, OPERATOR_IMAGE);
  assert.deepEqual(pod.initContainers[0].volumeMounts, [{ name: "pgop", mountPath: "/pgop" }]);
});

Deno.test("buildStatefulSet() gives the agent its pod, namespace and replication password", () => {
  const env = (buildStatefulSet(sample(), spec) as Any).spec.template.spec.containers[0].env;
  const byName = Object.fromEntries(env.map((e: Any) => [e.name, e]));
  assert.equal(byName.POD_NAME.valueFrom.fieldRef.fieldPath, "metadata.name");
  assert.equal(byName.POD_NAMESPACE.valueFrom.fieldRef.fieldPath, "metadata.namespace");
  assert.deepEqual(byName.PGOP_REPLICATION_PASSWORD.valueFrom.secretKeyRef, {
    name: "my-postgres-credentials",
    key: "replication-password",
  });
  assert.equal(byName.PGOP_DATABASE.value, "my-postgres");
  assert.equal(byName.PGOP_MAJOR.value, "16");
  assert.equal(byName.PGOP_AGENT_PORT.value, "8008");
});

Deno.test("buildStatefulSet() labels pods with app.kubernetes.io labels and selects on stable ones", () => {
  const sts = buildStatefulSet(sample(), spec) as Any;
  const labels = sts.spec.template.metadata.labels;
  assert.equal(labels["app.kubernetes.io/managed-by"], "postgres-operator");
  assert.equal(labels["app.kubernetes.io/version"], "16");
  assert.ok(
    !("app.kubernetes.io/version" in sts.spec.selector.matchLabels),
    "selector must not change on upgrade",
  );
});

Deno.test("buildCredentialsSecret() carries user, database, -rw host, port, both URIs and the replication password", () => {
  const secret = buildCredentialsSecret(sample(), spec, "pw", "rpw") as Any;
  assert.equal(secret.metadata.name, "my-postgres-credentials");
  assert.deepEqual(secret.stringData, {
    username: "postgres",
    password: "pw",
    database: "myapp",
    host: "my-postgres-rw.default.svc.cluster.local",
    port: "5432",
    uri: "postgresql://postgres:pw@my-postgres-rw.default.svc.cluster.local:5432/myapp",
    "uri-ro": "postgresql://postgres:pw@my-postgres-ro.default.svc.cluster.local:5432/myapp",
    "replication-password": "rpw",
  });
});

Deno.test("generatePassword() draws 24 URL-safe characters, different per draw", () => {
  const r = random(7);
  const a = generatePassword(r);
  const b = generatePassword(r);
  assert.match(a, /^[A-Za-z0-9]{24}$/);
  assert.notEqual(a, b);
  assert.equal(generatePassword(random(7)), a, "same seed, same password");
});
