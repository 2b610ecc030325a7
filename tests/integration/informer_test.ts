// Goal: the runtime's own watch machinery on a real API server: the inactivity watchdog restarts
// a quiet watch without losing anything, and a watch from an expired version relists.
// Method: an Informer over KubeClusterClient, in a namespace of its own, on real time.
import assert from "node:assert/strict";
import { KubeClusterClient } from "../../adapters/kube_client.ts";
import { systemClock } from "../../adapters/system.ts";
import { Informer } from "../../runtime/informer.ts";
import { KUBECONFIG, kubectlOk, SKIP_REASON, waitFor } from "./support.ts";

if (!KUBECONFIG) console.log(SKIP_REASON);

Deno.test({
  name: "integration: the informer's watchdog restarts a quiet watch and loses nothing",
  ignore: !KUBECONFIG,
  async fn() {
    const namespace = `watchdog-${Date.now().toString(36)}`;
    await kubectlOk("create", "namespace", namespace);
    const client = await KubeClusterClient.connect({ path: KUBECONFIG! });
    const informer = new Informer(client, { apiVersion: "v1", kind: "ConfigMap" }, {
      clock: systemClock,
      namespace,
      watchInactivityMs: 1500,
    });
    try {
      await informer.start();
      await waitFor(
        "two watchdog restarts",
        () => Promise.resolve(informer.stats.watchdogRestarts >= 2),
        15_000,
      );
      await kubectlOk(
        "create",
        "configmap",
        "after-restarts",
        "-n",
        namespace,
        "--from-literal=a=1",
      );
      await waitFor(
        "the informer to see the new ConfigMap",
        () => Promise.resolve(informer.list().some((o) => o.metadata.name === "after-restarts")),
        10_000,
      );
      assert.ok(informer.stats.watches >= 3, `${informer.stats.watches} watches`);
      assert.equal(informer.stats.errors, 0);
    } finally {
      informer.stop();
      client.close();
      await kubectlOk("delete", "namespace", namespace, "--wait=false");
    }
  },
});
