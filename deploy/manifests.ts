/**
 * The in-cluster install, in TypeScript: the Namespace, the ServiceAccount, the RBAC generated
 * from `deploy/rbac.ts`, the Deployment and the metrics Service. `deno task manifests` writes them
 * to `deploy/*.yaml` with the `kustomization.yaml` that `kubectl apply -k deploy/` reads (the CRDs
 * come from `crds/` through `crds/Kustomization`); `deno task bundle` prints everything, CRDs
 * included, as one multi-document YAML, without kubectl or kustomize.
 *
 * @example
 * ```ts
 * import { renderBundle } from "./manifests.ts";
 * const yaml = renderBundle({ image: "registry.example.com/pgop:1.0.0" });
 * console.assert(yaml.includes("image: registry.example.com/pgop:1.0.0"));
 * ```
 *
 * @module
 */

import { stringify } from "yaml";
import type { KubeObject } from "../core/object.ts";
import { CRDS } from "../crds/postgresdb.ts";
import { LEADER_ELECTION_RULES, OPERATOR_RULES, rbacRules } from "./rbac.ts";

/** The namespace the operator runs in. */
export const OPERATOR_NAMESPACE = "postgres-operator-system";
/** The name of the ServiceAccount, roles, bindings and Deployment. */
export const OPERATOR_NAME = "postgres-operator";
/** The image `deno task image` builds and the manifests name when no IMG is given. */
export const DEFAULT_IMAGE = "postgres-operator:0.1.0";
/** The port of `/metrics`, `/healthz` and `/readyz` in the pod. */
export const METRICS_PORT = 8080;
/** The uid and gid of the `deno` user of the official denoland/deno images. */
export const DENO_UID = 1993;

const HEADER = "# Generated from deploy/manifests.ts by `deno task manifests`. Do not edit.\n";

const LABELS = {
  "app.kubernetes.io/name": OPERATOR_NAME,
  "app.kubernetes.io/component": "controller",
  "app.kubernetes.io/part-of": OPERATOR_NAME,
};
const SELECTOR = { "app.kubernetes.io/name": OPERATOR_NAME };

/** Options of {@link deployObjects} and {@link renderBundle}. */
export interface DeployOptions {
  /** The operator image. @default "postgres-operator:0.1.0" */
  image?: string;
}

/** The objects of each file in `deploy/`, in the order `kubectl apply` needs them. */
export function deployFiles(
  options: DeployOptions = {},
): { file: string; objects: KubeObject[] }[] {
  return [
    { file: "namespace.yaml", objects: [namespace()] },
    {
      file: "rbac.yaml",
      objects: [serviceAccount(), clusterRole(), clusterRoleBinding()],
    },
    { file: "leader_election_rbac.yaml", objects: [leaderElectionRole(), leaderElectionBinding()] },
    { file: "manager.yaml", objects: [deployment(options.image ?? DEFAULT_IMAGE)] },
    { file: "metrics_service.yaml", objects: [metricsService()] },
  ];
}

/** Every object of the install, CRDs included, in kustomize's order. */
export function deployObjects(options: DeployOptions = {}): KubeObject[] {
  const objects = [...CRDS.map((c) => c.crd), ...deployFiles(options).flatMap((f) => f.objects)];
  // kustomize's legacy order: by kind, then by namespace and name within a kind.
  const id = (o: KubeObject) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
  return objects.sort((a, b) =>
    kindRank(a.kind) - kindRank(b.kind) || (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0)
  );
}

/** The whole install as one multi-document YAML (what `deno task bundle` prints). */
export function renderBundle(options: DeployOptions = {}): string {
  return deployObjects(options).map((o) => "---\n" + stringify(o, { lineWidth: 0 })).join("");
}

/**
 * The text of every generated file: `deploy/*.yaml`, `deploy/kustomization.yaml` and
 * `crds/Kustomization` (which lets kustomize load `crds/` from `deploy/`; it has no `.yaml`
 * extension so that `kubectl apply -f crds/` does not read it as a manifest).
 */
export function renderDeployFiles(): { path: string; text: string }[] {
  const files = deployFiles().map(({ file, objects }) => ({
    path: `deploy/${file}`,
    text: HEADER + objects.map((o) => "---\n" + stringify(o, { lineWidth: 0 })).join(""),
  }));
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: ["../crds", ...deployFiles().map((f) => f.file)],
  };
  const crds = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: CRDS.map((c) => c.file),
  };
  return [
    ...files,
    { path: "deploy/kustomization.yaml", text: HEADER + stringify(kustomization) },
    { path: "crds/Kustomization", text: HEADER + stringify(crds) },
  ];
}

/** The image of a bundle's Deployment. */
export function imageOf(objects: readonly KubeObject[]): string | undefined {
  const deployment = objects.find((o) => o.kind === "Deployment") as
    | { spec?: { template?: { spec?: { containers?: { image?: string }[] } } } }
    | undefined;
  return deployment?.spec?.template?.spec?.containers?.[0]?.image;
}

function meta(name: string, namespaced = true): KubeObject["metadata"] {
  return namespaced
    ? { name, namespace: OPERATOR_NAMESPACE, labels: { ...LABELS } }
    : { name, labels: { ...LABELS } };
}

function namespace(): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: OPERATOR_NAMESPACE,
      labels: {
        ...LABELS,
        // The pod meets the "restricted" Pod Security Standard; enforce it.
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
      },
    },
  };
}

function serviceAccount(): KubeObject {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(OPERATOR_NAME) };
}

function clusterRole(): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: meta(OPERATOR_NAME, false),
    rules: rbacRules(OPERATOR_RULES),
  };
}

function subject() {
  return [{ kind: "ServiceAccount", name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE }];
}

function clusterRoleBinding(): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: meta(OPERATOR_NAME, false),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: OPERATOR_NAME },
    subjects: subject(),
  };
}

function leaderElectionRole(): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: meta(`${OPERATOR_NAME}-leader-election`),
    rules: rbacRules(LEADER_ELECTION_RULES),
  };
}

function leaderElectionBinding(): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: meta(`${OPERATOR_NAME}-leader-election`),
    roleRef: {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: `${OPERATOR_NAME}-leader-election`,
    },
    subjects: subject(),
  };
}

function deployment(image: string): KubeObject {
  const probe = (path: string, initialDelaySeconds: number, periodSeconds: number) => ({
    httpGet: { path, port: "metrics" },
    initialDelaySeconds,
    periodSeconds,
  });
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta(OPERATOR_NAME),
    spec: {
      replicas: 1,
      selector: { matchLabels: { ...SELECTOR } },
      template: {
        metadata: {
          labels: { ...LABELS },
          annotations: { "kubectl.kubernetes.io/default-container": "manager" },
        },
        spec: {
          serviceAccountName: OPERATOR_NAME,
          terminationGracePeriodSeconds: 10,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: DENO_UID,
            runAsGroup: DENO_UID,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [{
            name: "manager",
            image,
            imagePullPolicy: "IfNotPresent",
            args: [
              "--leader-elect",
              `--metrics-bind-address=:${METRICS_PORT}`,
              `--health-probe-bind-address=:${METRICS_PORT}`,
            ],
            env: [
              {
                name: "POD_NAMESPACE",
                valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } },
              },
              { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
            ],
            ports: [{ name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" }],
            livenessProbe: probe("/healthz", 15, 20),
            readinessProbe: probe("/readyz", 5, 10),
            resources: {
              requests: { cpu: "50m", memory: "128Mi" },
              limits: { cpu: "500m", memory: "512Mi" },
            },
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              runAsNonRoot: true,
              capabilities: { drop: ["ALL"] },
            },
            volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
          }],
          volumes: [{ name: "tmp", emptyDir: {} }],
        },
      },
    },
  };
}

function metricsService(): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(`${OPERATOR_NAME}-metrics`),
    spec: {
      selector: { ...SELECTOR },
      ports: [{ name: "metrics", port: METRICS_PORT, targetPort: "metrics", protocol: "TCP" }],
    },
  };
}

/** kustomize's legacy order: what others depend on first. */
function kindRank(kind: string): number {
  const order = [
    "Namespace",
    "CustomResourceDefinition",
    "ServiceAccount",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "Service",
    "Deployment",
  ];
  const i = order.indexOf(kind);
  return i < 0 ? order.length : i;
}
