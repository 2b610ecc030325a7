// Goal: the real node's setup refuses what would break the host, in one clear line, and changes
// nothing: a second real node on the same machine (the first one is up: the suites' own), and a
// port the node needs that is already taken.
// Method: `up.sh --real-node` with a state dir and ports of its own, while the suites' node is up;
// the host's bridge list and iptables rules are compared before and after.
import assert from "node:assert/strict";
import { freePort } from "../integration/support.ts";
import { REALNODE_KUBECONFIG } from "./support.ts";

const SCRIPTS = new URL("../../scripts/controlplane/", import.meta.url).pathname;

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

async function hostState(): Promise<string> {
  const links = await run("ip", ["-o", "link", "show"]);
  const rules = await run("iptables-save", []);
  return [
    links.stdout.split("\n").map((l) => l.split(":")[1]?.trim()).filter(Boolean).sort().join(" "),
    // kube-proxy's own rules (KUBE-*) follow the cluster's Services, which the suites before this
    // one may still be removing; what a second `up` could change on the host is everything else.
    rules.stdout.split("\n").filter((l) => !l.startsWith("#") && !/KUBE-/.test(l)).join("\n"),
  ].join("\n");
}

function secondControlPlane(state: string): Record<string, string> {
  return {
    PGOP_CONTROLPLANE_STATE: state,
    PGOP_CP_ETCD_PORT: String(freePort()),
    PGOP_CP_ETCD_PEER_PORT: String(freePort()),
    PGOP_CP_APISERVER_PORT: String(freePort()),
    PGOP_CP_KCM_PORT: String(freePort()),
    PGOP_CP_SCHEDULER_PORT: String(freePort()),
    PGOP_CP_KWOK_PORT: String(freePort()),
    // The object store's too: its default is the kwok control plane's, which CI runs beside.
    PGOP_CP_S3_PORT: String(freePort()),
  };
}

Deno.test({
  name: "real node: a second real node on one machine is refused in one line, changing nothing",
  ignore: !REALNODE_KUBECONFIG,
  async fn() {
    const state = await Deno.makeTempDir({ prefix: "pgop-second-node-" });
    await Deno.remove(state);
    const env = secondControlPlane(state);
    const before = await hostState();
    try {
      const up = await run("bash", [`${SCRIPTS}up.sh`, "--real-node"], env);
      assert.equal(up.code, 1);
      assert.equal(up.stdout, "", "nothing to eval");
      const errors = up.stderr.split("\n").filter((l) => l.includes("ERROR"));
      assert.equal(errors.length, 1, up.stderr);
      assert.match(errors[0]!, /a real node is already up for .*; stop it first/);
      assert.equal(await hostState(), before);
    } finally {
      await run("bash", [`${SCRIPTS}down.sh`], env);
    }
  },
});

Deno.test({
  name: "real node: a port the node needs in use is refused before anything starts",
  ignore: !REALNODE_KUBECONFIG,
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const taken = (listener.addr as Deno.NetAddr).port;
    try {
      // Only the preflight: the suites' node is up, so the one-per-machine check must not be what
      // answers. The owner file names another state dir only for a node that is really up.
      const pre = await run("bash", [`${SCRIPTS}node-up.sh`, "--preflight"], {
        PGOP_CONTROLPLANE_STATE: "/nonexistent-pgop-state",
        // The suites' node holds the default ports: every other port is a free one.
        PGOP_NODE_KUBELET_PORT: String(freePort()),
        PGOP_NODE_PROXY_HEALTHZ_PORT: String(freePort()),
        PGOP_NODE_PROXY_METRICS_PORT: String(freePort()),
        PGOP_NODE_DNS_HEALTH_PORT: String(freePort()),
        PGOP_NODE_KUBELET_HEALTHZ_PORT: String(taken),
        PGOP_NODE_OWNER: "/nonexistent-pgop-owner",
        PGOP_NODE_BRIDGE: "pgop-test-br9",
      });
      assert.equal(pre.code, 1);
      assert.equal(pre.stderr.trim().split("\n").length, 1, pre.stderr);
      assert.match(pre.stderr, new RegExp(`ERROR: port ${taken} is already in use`));
    } finally {
      listener.close();
    }
  },
});
