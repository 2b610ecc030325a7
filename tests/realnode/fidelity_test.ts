// Goal: the simulated cluster behaves like the real node where the operator can see it. The same
// scenario (the tutorial's sample, run to Ready) runs in both worlds through the same cluster port;
// the objects' shapes and the PostgresDB's sequence of condition states are compared, and every
// difference that remains must be one listed (with its reason) in sim/README.md.
// Method: the simulation in-process on virtual time; on the real node, the operator as a subprocess
// and the port's real adapter as the observer.
import assert from "node:assert/strict";
import { parse } from "yaml";
import { KubeClusterClient } from "../../adapters/kube_client.ts";
import type { KubeObject } from "../../core/object.ts";
import { runWhile, startOperatorWorld } from "../../cli/simulate.ts";
import { OperatorSubprocess, waitFor } from "../integration/support.ts";
import { recordConditions, recordShapes, shapeDifferences, type WorldRecord } from "./fidelity.ts";
import { installCrds, Kube, REALNODE_KUBECONFIG } from "./support.ts";

const NAMESPACE = "fidelity";
const sample = parse(
  await Deno.readTextFile(new URL("../../examples/postgresdb.yaml", import.meta.url)),
) as KubeObject;
const applied: KubeObject = { ...sample, metadata: { ...sample.metadata, namespace: NAMESPACE } };
const NAME = applied.metadata.name;

/**
 * Every difference between the real node and the simulation that remains, with its reason. The
 * same list is in sim/README.md ("Measured against the real node"). `+` is a field only the real
 * server has, `-` one only the simulation has.
 */
const KUBELET_DETAIL =
  "The simulation's kubelet writes the pod status the operator and the StatefulSet controller read (phase, podIP, hostIP, conditions, containers' ready, started, restartCount and state), not the container runtime's details";

export const EXPECTED_DIFFERENCES: Record<string, string> = {
  "Pod: +status.conditions[].lastProbeTime": KUBELET_DETAIL,
  "Pod: +status.conditions[].observedGeneration": KUBELET_DETAIL,
  "Pod: +status.containerStatuses[].allocatedResources.cpu": KUBELET_DETAIL,
  "Pod: +status.containerStatuses[].allocatedResources.memory": KUBELET_DETAIL,
  "Pod: +status.containerStatuses[].containerID": KUBELET_DETAIL,
  "Pod: +status.containerStatuses[].imageID": KUBELET_DETAIL,
  "Pod: +status.containerStatuses[].resources.requests": KUBELET_DETAIL,
  "Pod: +status.containerStatuses[].volumeMounts[].mountPath": KUBELET_DETAIL,
  "Pod: +status.containerStatuses[].volumeMounts[].name": KUBELET_DETAIL,
  "Pod: +status.containerStatuses[].volumeMounts[].readOnly": KUBELET_DETAIL,
  "Pod: +status.containerStatuses[].volumeMounts[].recursiveReadOnly": KUBELET_DETAIL,
  "Pod: +status.hostIPs[].ip": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].containerID": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].image": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].imageID": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].name": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].ready": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].restartCount": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].started": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].state.terminated.containerID": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].state.terminated.exitCode": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].state.terminated.finishedAt": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].state.terminated.reason": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].state.terminated.startedAt": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].volumeMounts[].mountPath": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].volumeMounts[].name": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].volumeMounts[].readOnly": KUBELET_DETAIL,
  "Pod: +status.initContainerStatuses[].volumeMounts[].recursiveReadOnly": KUBELET_DETAIL,
  "Pod: +status.observedGeneration": KUBELET_DETAIL,
  "Pod: +status.qosClass": KUBELET_DETAIL,
};

async function simulated(): Promise<WorldRecord> {
  const world = await startOperatorWorld({ seed: 1 });
  const observer = world.cluster.client({ name: "observer" });
  const namespace: KubeObject = {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: NAMESPACE },
  };
  await world.apply([namespace]);
  const stop = await runWhile(world.cluster, recordConditions(observer, NAMESPACE, NAME));
  await world.apply([applied]);
  await world.cluster.run({ maxVirtualMs: 600_000 });
  const conditions = stop();
  const shapes = await runWhile(world.cluster, recordShapes(observer, NAMESPACE));
  await world.controller.stop();
  return { shapes, conditions };
}

async function real(kubeconfig: string): Promise<WorldRecord> {
  const kube = new Kube(kubeconfig);
  const client = await KubeClusterClient.connect({ path: kubeconfig });
  const operator = new OperatorSubprocess({ kubeconfig, args: ["--namespace", NAMESPACE] });
  try {
    // Each real-node suite stands on its own: the CRDs may not be there yet.
    await installCrds(kube);
    await kube.apply(
      JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } }),
    );
    operator.start();
    await operator.waitForLine("caches synced", (l) => l.msg === "Caches synced, starting workers");
    const stop = await recordConditions(client, NAMESPACE, NAME);
    // Applied as the simulation applies it: server-side, field manager "kubectl".
    await client.apply(applied, { fieldManager: "kubectl" });
    await waitFor(`${NAMESPACE}/${NAME} Ready`, async () => {
      const db = await kube.json("postgresdb", NAME, NAMESPACE);
      return db?.status?.ready === true && db.status.observedGeneration === db.metadata.generation;
    }, 240_000);
    // Let the last status write land in the watch.
    await new Promise((r) => setTimeout(r, 2_000));
    const conditions = stop();
    return { shapes: await recordShapes(client, NAMESPACE), conditions };
  } finally {
    await operator.kill("SIGTERM");
    client.close();
    await kube.run(["delete", "namespace", NAMESPACE, "--wait=true", "--timeout=120s"]);
  }
}

Deno.test({
  name: "real node: fidelity of the simulation (object shapes, condition sequence)",
  ignore: !REALNODE_KUBECONFIG,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const sim = await simulated();
    const node = await real(REALNODE_KUBECONFIG!);
    console.log(`  conditions on the real node: ${node.conditions.join(" -> ")}`);
    console.log(`  conditions in the simulation: ${sim.conditions.join(" -> ")}`);
    assert.deepEqual(node.conditions, sim.conditions, "the sequence of condition states");
    const differences = shapeDifferences(node, sim);
    const unexplained = differences.filter((d) => !(d in EXPECTED_DIFFERENCES));
    const gone = Object.keys(EXPECTED_DIFFERENCES).filter((d) => !differences.includes(d));
    assert.deepEqual(
      { unexplained, gone },
      { unexplained: [], gone: [] },
      "every shape difference is listed in EXPECTED_DIFFERENCES and sim/README.md",
    );
  },
});
