// Goal: watches of the simulated API server deliver ordered events on virtual time, replay from a
// recent version, answer 410 Gone for an expired one, send initial events and rare bookmarks.
// Method: open watches on a bare SimApiServer, commit changes, drain the VirtualClock and
// compare the delivered events.

import assert from "node:assert/strict";
import { isApiError, type WatchEvent } from "../core/cluster.ts";
import { CONFIG_MAP, configMap, drain, newServer, statefulSet } from "./_testing.ts";

Deno.test("SimApiServer: watch delivers ordered events after watchDelayMs, DELETED with the last state", () => {
  const { clock, server } = newServer({ watchDelayMs: 5 });
  const events: WatchEvent[] = [];
  server.watch(CONFIG_MAP, {
    namespace: "default",
    resourceVersion: server.resourceVersion,
    onEvent: (event) => events.push(event),
    onDone: () => assert.fail("watch ended"),
  });
  const start = clock.nowMs();
  const a = server.create(configMap("a"));
  server.create({ ...configMap("other"), metadata: { name: "other", namespace: "kube-system" } });
  server.create(statefulSet("not-a-config-map"));
  server.update({ ...a, data: { v: "2" } });
  server.delete(CONFIG_MAP, "a", "default");
  assert.equal(events.length, 0, "delivery is asynchronous");
  clock.runNext();
  assert.equal(clock.nowMs() - start, 5);
  assert.deepEqual(events.map((e) => e.type), ["ADDED", "MODIFIED", "DELETED"]);
  const versions = events.map((e) =>
    Number(e.type === "BOOKMARK" ? e.resourceVersion : e.object.metadata.resourceVersion)
  );
  assert.deepEqual([...versions].sort((x, y) => x - y), versions);
  const deleted = events[2]!;
  assert.ok(deleted.type === "DELETED");
  assert.deepEqual(deleted.object.data, { v: "2" });
  assert.equal(deleted.object.metadata.resourceVersion, server.resourceVersion);
});

Deno.test("SimApiServer: watch from an expired version fails with Expired and a relist recovers", () => {
  const { clock, server } = newServer({ watchHistoryEvents: 5 });
  const old = server.resourceVersion;
  for (let i = 0; i < 20; i++) server.create(configMap(`c${i}`));
  const ended: { error?: Error | undefined } = {};
  const events: WatchEvent[] = [];
  server.watch(CONFIG_MAP, {
    resourceVersion: old,
    onEvent: (e) => events.push(e),
    onDone: (e) => ended.error = e,
  });
  assert.equal(ended.error, undefined, "the error is delivered asynchronously");
  drain(clock);
  const done: unknown = ended.error;
  assert.ok(isApiError(done, "Expired"));
  assert.equal(done.code, 410);
  assert.match(done.message, new RegExp(`^too old resource version: ${old} \\(\\d+\\)$`));
  assert.equal(events.length, 0);
  const list = server.list(CONFIG_MAP);
  assert.equal(list.items.length, 20);
  server.watch(CONFIG_MAP, {
    resourceVersion: list.resourceVersion,
    onEvent: (e) => events.push(e),
    onDone: (e) => ended.error = e,
  });
  server.create(configMap("after"));
  drain(clock);
  assert.deepEqual(events.map((e) => e.type === "BOOKMARK" ? "B" : e.object.metadata.name), [
    "after",
  ]);
});

Deno.test("SimApiServer: watch from a recent version replays what followed it", () => {
  const { clock, server } = newServer();
  server.create(configMap("a"));
  const from = server.resourceVersion;
  server.create(configMap("b"));
  server.delete(CONFIG_MAP, "a", "default");
  const events: WatchEvent[] = [];
  server.watch(CONFIG_MAP, {
    resourceVersion: from,
    onEvent: (e) => events.push(e),
    onDone: () => {},
  });
  drain(clock);
  assert.deepEqual(
    events.map((e) => e.type === "BOOKMARK" ? "B" : `${e.type} ${e.object.metadata.name}`),
    [
      "ADDED b",
      "DELETED a",
    ],
  );
});

Deno.test('SimApiServer: watch from "0" sends ADDED for current objects first, then follows', () => {
  const { clock, server } = newServer();
  server.create(configMap("b"));
  server.create(configMap("a"));
  const events: WatchEvent[] = [];
  const handle = server.watch(CONFIG_MAP, {
    resourceVersion: "0",
    onEvent: (e) => events.push(e),
    onDone: () => {},
  });
  server.create(configMap("c"));
  drain(clock);
  assert.deepEqual(
    events.map((e) => e.type === "BOOKMARK" ? "B" : `${e.type} ${e.object.metadata.name}`),
    [
      "ADDED a",
      "ADDED b",
      "ADDED c",
    ],
  );
  handle.stop();
  server.create(configMap("d"));
  drain(clock);
  assert.equal(events.length, 3, "no event after stop()");
  assert.equal(server.openWatches, 0);
});

Deno.test("SimApiServer: bookmarks come only after the interval and only when the version moved", () => {
  const { clock, server } = newServer({ bookmarkIntervalMs: 1000 });
  const events: WatchEvent[] = [];
  server.watch(CONFIG_MAP, {
    resourceVersion: server.resourceVersion,
    allowBookmarks: true,
    onEvent: (e) => events.push(e),
    onDone: () => {},
  });
  server.create(statefulSet("s1"));
  drain(clock);
  assert.equal(events.length, 0, "no bookmark before the interval");
  clock.advanceTo(clock.nowMs() + 5000);
  assert.equal(clock.pending, 0, "an idle cluster keeps no timer");
  server.create(statefulSet("s2"));
  server.create(statefulSet("s3"));
  drain(clock);
  assert.equal(events.length, 1, "one bookmark per interval");
  const bookmark = events[0]!;
  assert.ok(bookmark.type === "BOOKMARK");
  assert.equal(Number(bookmark.resourceVersion), Number(server.resourceVersion) - 1);
});
