// Goal: the store lists one kind sorted by namespace and name, whatever order objects come and go
// in (the sorted names are kept as they change, not sorted again on every list).
// Method: create and delete ConfigMaps in a seeded random order and compare each listing with a
// sort of the names that remain.
import assert from "node:assert/strict";
import { SimApiServer } from "./api_server.ts";
import { VirtualClock } from "./clock.ts";
import { SeededRandom } from "./random.ts";
import { CONFIG_MAP, configMap } from "./_testing.ts";

Deno.test("ObjectIndex: listings stay sorted by name as objects come and go (seed 3)", () => {
  const seed = 3;
  const random = new SeededRandom(seed);
  const server = new SimApiServer(new VirtualClock(), new SeededRandom(1));
  const present = new Set<string>();
  for (let i = 0; i < 400; i++) {
    const name = `cm-${random.int(120)}`;
    if (present.has(name)) {
      server.delete(CONFIG_MAP, name, "default");
      present.delete(name);
    } else {
      server.create(configMap(name));
      present.add(name);
    }
    if (i % 40 === 0 && present.has(name)) {
      server.update({ ...server.get(CONFIG_MAP, name, "default"), data: { i: `${i}` } });
    }
    const listed = server.list(CONFIG_MAP, { namespace: "default" }).items.map((o) =>
      o.metadata.name
    );
    assert.deepEqual(listed, [...present].sort(), `seed ${seed}, step ${i}`);
  }
});

Deno.test("SimStore: committed objects are frozen deeply, so no one can change them in place", () => {
  const server = new SimApiServer(new VirtualClock(), new SeededRandom(1));
  server.create(configMap("a", { k: "v" }));
  const stored = server.peek(CONFIG_MAP, "a", "default")!;
  assert.ok(Object.isFrozen(stored) && Object.isFrozen(stored.metadata));
  assert.ok(Object.isFrozen(stored.data) && Object.isFrozen(stored.metadata.managedFields));
  assert.throws(() => {
    (stored.data as Record<string, string>).k = "changed";
  }, TypeError);
});
