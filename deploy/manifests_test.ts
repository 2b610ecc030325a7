// Goal: the committed deploy/ files are what deploy/manifests.ts generates, `deno task bundle`
// prints exactly the objects `kubectl apply -k deploy/` installs, and the Deployment has what a
// platform team expects (non-root, read-only root, no capabilities, probes, resources, downward
// API, leader election on).
// Method: render in TypeScript and compare with the files and with each other; the comparison
// with what kustomize itself renders is in tests/integration/install_test.ts (it needs kubectl).
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "../core/object.ts";
import { CRDS } from "../crds/postgresdb.ts";
import { main } from "../main.ts";
import {
  DEFAULT_IMAGE,
  deployFiles,
  deployObjects,
  imageOf,
  OPERATOR_NAMESPACE,
  renderBundle,
  renderDeployFiles,
} from "./manifests.ts";
import { parseInstallArgs } from "./install.ts";
import { LEADER_ELECTION_RULES, OPERATOR_RULES } from "./rbac.ts";

function docs(text: string): KubeObject[] {
  return parseAllDocuments(text).map((d) => d.toJS() as KubeObject).filter((o) => o !== null);
}

function byKind(objects: KubeObject[], kind: string): KubeObject {
  const found = objects.find((o) => o.kind === kind);
  assert.ok(found, `a ${kind}`);
  return found;
}

Deno.test("deploy: the committed files equal the generated ones (run `deno task manifests`)", async () => {
  for (const { path, text } of renderDeployFiles()) {
    assert.equal(await Deno.readTextFile(path), text, `${path} is stale`);
  }
});

Deno.test("deploy: the bundle holds every object of the kustomization's files, CRDs included", async () => {
  const kustomization = docs(
    await Deno.readTextFile("deploy/kustomization.yaml"),
  )[0] as unknown as {
    resources: string[];
  };
  const fromFiles: KubeObject[] = [];
  for (const resource of kustomization.resources) {
    if (resource === "../crds") {
      const crds = docs(await Deno.readTextFile("crds/Kustomization"))[0] as unknown as {
        resources: string[];
      };
      for (const file of crds.resources) {
        fromFiles.push(...docs(await Deno.readTextFile(`crds/${file}`)));
      }
    } else {
      fromFiles.push(...docs(await Deno.readTextFile(`deploy/${resource}`)));
    }
  }
  const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
  const bundle = docs(renderBundle());
  assert.deepEqual(bundle.map(key).sort(), fromFiles.map(key).sort());
  for (const object of bundle) {
    assert.deepEqual(object, fromFiles.find((o) => key(o) === key(object)), key(object));
  }
  assert.equal(bundle[0]!.kind, "Namespace", "the Namespace comes first");
  assert.equal(bundle.filter((o) => o.kind === "CustomResourceDefinition").length, CRDS.length);
});

Deno.test("deploy: the RBAC objects are generated from the permission table", () => {
  const objects = deployObjects();
  const clusterRole = byKind(objects, "ClusterRole") as KubeObject & { rules: unknown[] };
  assert.equal(clusterRole.rules.length, OPERATOR_RULES.length);
  const role = byKind(objects, "Role") as KubeObject & { rules: unknown[] };
  assert.equal(role.metadata.namespace, OPERATOR_NAMESPACE);
  assert.deepEqual(role.rules, [{
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: [...LEADER_ELECTION_RULES[0]!.verbs],
  }]);
  const text = renderBundle();
  assert.doesNotMatch(text, /- ["']?\*["']?$/m, "no wildcard anywhere");
});

Deno.test("deploy: the Deployment is hardened, probed, bounded and elects a leader", () => {
  // deno-lint-ignore no-explicit-any
  const deployment = byKind(deployObjects(), "Deployment") as any;
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  assert.equal(deployment.metadata.namespace, OPERATOR_NAMESPACE);
  assert.equal(pod.serviceAccountName, "postgres-operator");
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"]);
  assert.ok(container.resources.requests.cpu && container.resources.limits.memory);
  assert.equal(container.livenessProbe.httpGet.path, "/healthz");
  assert.equal(container.readinessProbe.httpGet.path, "/readyz");
  assert.deepEqual(container.ports, [{ name: "metrics", containerPort: 8080, protocol: "TCP" }]);
  assert.ok(container.args.includes("--leader-elect"));
  assert.ok(container.args.includes("--metrics-bind-address=:8080"));
  const env = Object.fromEntries(
    container.env.map((e: { name: string; valueFrom: { fieldRef: { fieldPath: string } } }) => [
      e.name,
      e.valueFrom.fieldRef.fieldPath,
    ]),
  );
  assert.deepEqual(env, { POD_NAMESPACE: "metadata.namespace", POD_NAME: "metadata.name" });
  assert.equal(container.image, DEFAULT_IMAGE);
});

Deno.test("deploy: IMG=... replaces the image of the Deployment and nothing else", () => {
  const image = "registry.example.com/team/pgop:1.2.3";
  assert.equal(imageOf(deployObjects({ image })), image);
  assert.equal(
    renderBundle({ image }).replace(image, DEFAULT_IMAGE),
    renderBundle(),
  );
  assert.deepEqual(parseInstallArgs(["IMG=a:1"]), { image: "a:1", rest: [] });
  assert.deepEqual(parseInstallArgs(["--image", "b:2", "--dry-run=server"]), {
    image: "b:2",
    rest: ["--dry-run=server"],
  });
  assert.equal(deployFiles().length, 5);
});

Deno.test("deploy: the Dockerfile runs main.ts start as the deno user on denoland/deno:2.x", async () => {
  const dockerfile = await Deno.readTextFile("deploy/Dockerfile");
  const tools = JSON.parse(await Deno.readTextFile(".tools/package.json"));
  assert.match(dockerfile, new RegExp(`^FROM denoland/deno:${tools.dependencies.deno}$`, "m"));
  assert.match(dockerfile, /^RUN deno install --frozen$/m);
  assert.match(dockerfile, /deno cache --frozen main\.ts/);
  assert.match(dockerfile, /^USER deno$/m);
  assert.match(
    dockerfile,
    /ENTRYPOINT \["deno", "run", "--cached-only"[^\]]*"main\.ts", "start"\]/s,
  );
});

Deno.test("main: bundle prints YAML and rejects unknown arguments with exit code 2", async () => {
  assert.equal(await main(["bundle", "--nope"]), 2);
  assert.equal(await main(["manifests", "--check"]), 0);
});
