// Goal: the Greeting controller (examples/greeting.ts), written with the library's helpers, does
// what it says in the simulated cluster (ConfigMap, Ready, zero writes once converged, the
// finalizer's cleanup before the Greeting goes) and keeps its rules under the fault harness.
// Method: a story in a SimCluster; then a seeded campaign of schedules with API and watch faults
// and operator crashes (the seed is printed; replay with GREETING_SEED=<seed>).
import assert from "node:assert/strict";
import { Controller, findCondition, type KubeObject } from "../mod.ts";
import {
  FAULT_PRESETS,
  invalidWriteChecker,
  observedGenerationChecker,
  ownerReferenceChecker,
  runSchedule,
  type Schedule,
  SeededRandom,
  SimCluster,
  statusSubresourceChecker,
  type Step,
  type Subject,
  writesPerReconcileChecker,
} from "../sim/mod.ts";
import { GOODBYE_FINALIZER, GREETING, greetingCrd, greetingReconciler } from "./greeting.ts";

function greeting(name: string, message: string): KubeObject {
  return { ...GREETING, metadata: { name, namespace: "default" }, spec: { message } };
}

async function setup(seed: number) {
  const cluster = new SimCluster({ seed });
  const user = cluster.client({ name: "kubectl" });
  await cluster.request(user.apply(greetingCrd, { fieldManager: "kubectl" }));
  const controller = new Controller(cluster.client(), greetingReconciler, {
    clock: cluster.clock,
    random: cluster.random.fork(),
  });
  void controller.start();
  await cluster.run({ maxVirtualMs: 60_000 });
  const find = (kind: string, name: string) =>
    cluster.objects().find((o) => o.kind === kind && o.metadata.name === name);
  return { cluster, user, controller, find };
}

Deno.test("Greeting: converges to its ConfigMap and Ready, then writes nothing", async () => {
  const { cluster, user, controller, find } = await setup(1);
  await cluster.request(user.apply(greeting("hello", "Hello"), { fieldManager: "kubectl" }));
  await cluster.run({ maxVirtualMs: 60_000 });
  const stored = find("Greeting", "hello")!;
  assert.deepEqual(stored.metadata.finalizers, [GOODBYE_FINALIZER]);
  assert.deepEqual(find("ConfigMap", "hello-greeting")?.data, { text: "Hello, world!" });
  // deno-lint-ignore no-explicit-any
  const status = stored.status as any;
  assert.equal(findCondition(status.conditions, "Ready")?.status, "True");
  assert.equal(status.observedGeneration, stored.metadata.generation);
  // A resync of a converged Greeting reconciles and writes nothing.
  const before = { ...controller.stats };
  controller.queue.add("default/hello");
  await cluster.run({ maxVirtualMs: 60_000 });
  assert.equal(controller.stats.reconciles, before.reconciles + 1);
  assert.equal(controller.stats.writes, before.writes);
  await controller.stop();
});

Deno.test("Greeting: an edit rewrites the ConfigMap; a hand edit of the ConfigMap is undone", async () => {
  const { cluster, user, controller, find } = await setup(2);
  await cluster.request(user.apply(greeting("hello", "Hello"), { fieldManager: "kubectl" }));
  await cluster.run({ maxVirtualMs: 60_000 });
  await cluster.request(user.apply(greeting("hello", "Bonjour"), { fieldManager: "kubectl" }));
  await cluster.run({ maxVirtualMs: 60_000 });
  assert.deepEqual(find("ConfigMap", "hello-greeting")?.data, { text: "Bonjour, world!" });
  const cm = find("ConfigMap", "hello-greeting")!;
  await cluster.request(user.update({ ...cm, data: { text: "tampered" } }));
  await cluster.run({ maxVirtualMs: 60_000 });
  assert.deepEqual(find("ConfigMap", "hello-greeting")?.data, { text: "Bonjour, world!" });
  await controller.stop();
});

Deno.test("Greeting: deletion runs the cleanup (ConfigMap, goodbye), then removes the finalizer", async () => {
  const { cluster, user, controller, find } = await setup(3);
  await cluster.request(user.apply(greeting("hello", "Hello"), { fieldManager: "kubectl" }));
  await cluster.run({ maxVirtualMs: 60_000 });
  const uid = find("Greeting", "hello")!.metadata.uid;
  await cluster.request(user.delete(GREETING, "hello", "default"));
  // The finalizer holds the Greeting until the controller has cleaned up.
  assert.ok(find("Greeting", "hello")?.metadata.deletionTimestamp, "held by the finalizer");
  await cluster.run({ maxVirtualMs: 60_000 });
  assert.equal(find("Greeting", "hello"), undefined);
  assert.equal(find("ConfigMap", "hello-greeting"), undefined);
  const goodbyes = cluster.objects().filter((o) =>
    o.kind === "Event" && o.reason === "Goodbye" &&
    (o.involvedObject as { uid?: string }).uid === uid
  );
  assert.equal(goodbyes.length, 1);
  await controller.stop();
});

const greetingSubject: Subject = {
  reconciler: greetingReconciler,
  install: [greetingCrd],
  checkers: () => [
    ownerReferenceChecker(GREETING),
    invalidWriteChecker(),
    observedGenerationChecker(GREETING),
    writesPerReconcileChecker(3),
    statusSubresourceChecker(GREETING),
  ],
  converged(harness) {
    const problems: string[] = [];
    const objects = harness.cluster.objects();
    for (const g of objects.filter((o) => o.kind === GREETING.kind)) {
      // deno-lint-ignore no-explicit-any
      const status = g.status as any;
      const message = (g.spec as { message: string }).message;
      const cm = objects.find((o) => o.metadata.name === `${g.metadata.name}-greeting`);
      if (findCondition(status?.conditions, "Ready")?.status !== "True") {
        problems.push(`Greeting ${g.metadata.name} is not Ready`);
      }
      if ((cm?.data as { text?: string } | undefined)?.text !== `${message}, world!`) {
        problems.push(`ConfigMap of ${g.metadata.name} does not hold ${JSON.stringify(message)}`);
      }
    }
    const names = new Set(
      objects.filter((o) => o.kind === GREETING.kind).map((o) => o.metadata.name),
    );
    for (const cm of objects.filter((o) => o.metadata.name.endsWith("-greeting"))) {
      if (!names.has(cm.metadata.name.replace(/-greeting$/, ""))) {
        problems.push(`ConfigMap ${cm.metadata.name} outlived its Greeting`);
      }
    }
    return problems;
  },
};

/** A schedule from a seed: create, edit, maybe delete and re-create, a crash, faults. */
function greetingSchedule(seed: number): Schedule {
  const random = new SeededRandom(seed);
  const steps: Step[] = [{ atMs: 0, do: "apply", object: greeting("alpha", "Hello") }];
  let atMs = 0;
  for (let i = 0; i < 4; i++) {
    atMs += random.int(5000);
    const pick = random.int(5);
    if (pick === 0) {
      steps.push({ atMs, do: "delete", ...GREETING, name: "alpha", namespace: "default" });
    } else if (pick === 1) steps.push({ atMs, do: "crashOperator" });
    else {
      const name = random.int(2) === 0 ? "alpha" : "beta";
      steps.push({ atMs, do: "apply", object: greeting(name, `Hello ${i}`) });
    }
  }
  return {
    seed,
    steps,
    faults: FAULT_PRESETS.heavy.faults,
    crashRate: FAULT_PRESETS.heavy.crashRate,
    faultsAfterLastStepMs: 10_000,
  };
}

Deno.test("Greeting: a seeded fault campaign keeps every rule, and deleted Greetings are judged", async () => {
  const seed = Number(Deno.env.get("GREETING_SEED") ?? 20_260_101);
  console.log(`greeting campaign seed ${seed} (replay: GREETING_SEED=${seed})`);
  const random = new SeededRandom(seed);
  const injected: Record<string, number> = {};
  let deletes = 0;
  for (let run = 0; run < 12; run++) {
    const schedule = greetingSchedule(random.int(2 ** 31 - 1));
    const report = await runSchedule(schedule, greetingSubject);
    assert.deepEqual(report.violations, [], `seed ${seed}, schedule ${JSON.stringify(schedule)}`);
    assert.ok(report.converged);
    for (const [name, n] of Object.entries(report.injected)) {
      injected[name] = (injected[name] ?? 0) + n;
    }
    deletes += schedule.steps.filter((s) => s.do === "delete").length;
  }
  // Positive space: faults, crashes and deletions really happened.
  assert.ok((injected.operatorCrash ?? 0) > 0, JSON.stringify(injected));
  assert.ok(
    (injected.writeError ?? 0) + (injected.ambiguousWrite ?? 0) > 0,
    JSON.stringify(injected),
  );
  assert.ok(deletes > 0);
});

Deno.test("Greeting: the campaign has teeth (a controller that always rewrites its ConfigMap fails)", async () => {
  const hot = {
    ...greetingReconciler,
    reconcile: (
      observed: Parameters<typeof greetingReconciler.reconcile>[0],
      context: Parameters<typeof greetingReconciler.reconcile>[1],
    ) => {
      const { actions } = greetingReconciler.reconcile(observed, context);
      const cm = observed.owned.find((o) => o.kind === "ConfigMap");
      if (!cm || observed.object.metadata.deletionTimestamp || actions.length > 0) {
        return { actions };
      }
      return {
        actions: [{
          kind: "emitEvent" as const,
          regarding: observed.object,
          type: "Normal" as const,
          eventReason: "Again",
          message: "again",
        }],
      };
    },
  };
  // Ends with the Greeting deleted: only the judgement of deleted objects can see the hot loop.
  const schedule: Schedule = {
    seed: 5,
    steps: [
      { atMs: 0, do: "apply", object: greeting("alpha", "Hello") },
      { atMs: 30_000, do: "delete", ...GREETING, name: "alpha", namespace: "default" },
    ],
  };
  const report = await runSchedule(schedule, { ...greetingSubject, reconciler: hot });
  assert.deepEqual(report.violations.map((v) => v.checker), ["steady state"]);
  const clean = await runSchedule(schedule, greetingSubject);
  assert.deepEqual(clean.violations, []);
});
