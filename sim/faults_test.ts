// Goal: each fault of FaultyClient does what its option says: lagging watches keep their order,
// a killed client never answers, a stale list answers with the previous view, an ambiguous write
// commits but reports a timeout, and faults set to nothing inject nothing.
import assert from "node:assert/strict";
import { isApiError, type WatchEvent } from "../core/cluster.ts";
import type { KubeObject } from "../core/object.ts";
import { SimCluster } from "./cluster.ts";
import { FAULT_PRESETS, FaultyClient } from "./faults.ts";

const CONFIGMAP = { apiVersion: "v1", kind: "ConfigMap" };

function configMap(name: string): KubeObject {
  return { ...CONFIGMAP, metadata: { name, namespace: "default" } };
}

function setup(faults: ConstructorParameters<typeof FaultyClient>[1]["faults"]) {
  const cluster = new SimCluster({ seed: 3 });
  const faulty = new FaultyClient(cluster.client(), {
    clock: cluster.clock,
    random: cluster.random.fork(),
    faults: faults ?? {},
  });
  return { cluster, faulty, user: cluster.client() };
}

Deno.test("FaultyClient: a lagging watch delivers every event late but in order", async () => {
  const { cluster, faulty, user } = setup({ watchLagMaxMs: 500 });
  const seen: string[] = [];
  const list = faulty.list(CONFIGMAP);
  await cluster.run({ maxVirtualMs: 100 });
  void faulty.watch(CONFIGMAP, {
    resourceVersion: (await list).resourceVersion,
    onEvent: (e: WatchEvent) => {
      if (e.type !== "BOOKMARK") seen.push(e.object.metadata.name);
    },
    onDone: () => {},
  });
  await cluster.run({ maxVirtualMs: 10 });
  for (const name of ["a", "b", "c", "d", "e"]) void user.create(configMap(name));
  await cluster.run({ maxVirtualMs: 5000 });
  assert.deepEqual(seen, ["a", "b", "c", "d", "e"]);
  assert.ok(faulty.injected.watchLag! >= 5);
});

Deno.test("FaultyClient: a killed client never answers and delivers nothing", async () => {
  const { cluster, faulty } = setup({});
  faulty.kill();
  let settled = false;
  void faulty.create(configMap("x")).finally(() => settled = true).catch(() => {});
  await cluster.run({ maxVirtualMs: 1000 });
  assert.equal(settled, false);
  assert.equal(cluster.objects().some((o) => o.metadata.name === "x"), false);
});

Deno.test("FaultyClient: a stale list answers with the previous view", async () => {
  const { cluster, faulty, user } = setup({ staleListRate: 1 });
  const first = faulty.list(CONFIGMAP);
  await cluster.run({ maxVirtualMs: 100 });
  void user.create(configMap("new"));
  await cluster.run({ maxVirtualMs: 100 });
  const second = faulty.list(CONFIGMAP);
  await cluster.run({ maxVirtualMs: 100 });
  assert.deepEqual(
    (await second).items.map((o) => o.metadata.name),
    (await first).items.map((o) => o.metadata.name),
  );
  assert.equal(faulty.injected.staleList, 1);
});

Deno.test("FaultyClient: an ambiguous write commits but answers Timeout", async () => {
  const { cluster, faulty } = setup({ ambiguousWriteRate: 1 });
  const created = faulty.create(configMap("maybe"));
  created.catch(() => {});
  await cluster.run({ maxVirtualMs: 100 });
  await assert.rejects(created, (e) => isApiError(e, "Timeout"));
  assert.ok(cluster.objects().some((o) => o.metadata.name === "maybe"), "it committed");
});

Deno.test("FaultyClient: a failed write does not reach the server", async () => {
  const { cluster, faulty } = setup({ writeErrorRate: 1, writeErrorReasons: ["Conflict"] });
  const created = faulty.create(configMap("never"));
  created.catch(() => {});
  await cluster.run({ maxVirtualMs: 100 });
  await assert.rejects(created, (e) => isApiError(e, "Conflict"));
  assert.equal(cluster.objects().some((o) => o.metadata.name === "never"), false);
});

Deno.test("FaultyClient: with no faults it injects nothing", async () => {
  const { cluster, faulty } = setup({});
  for (let i = 0; i < 20; i++) void faulty.create(configMap(`c${i}`));
  await cluster.run({ maxVirtualMs: 1000 });
  assert.deepEqual(faulty.injected, {});
});

Deno.test("FAULT_PRESETS: each preset holds its API faults and its crash rate, none holds nothing", () => {
  assert.deepEqual(FAULT_PRESETS.none, { faults: {}, crashRate: 0 });
  for (const [name, preset] of Object.entries(FAULT_PRESETS)) {
    assert.ok(preset.crashRate >= 0 && preset.crashRate <= 1, name);
  }
  assert.ok(FAULT_PRESETS.light.crashRate < FAULT_PRESETS.heavy.crashRate);
  assert.ok(
    FAULT_PRESETS.light.faults.writeErrorRate! < FAULT_PRESETS.heavy.faults.writeErrorRate!,
  );
});
