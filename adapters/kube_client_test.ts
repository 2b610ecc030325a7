// Unit tests of the real-cluster adapter that need no cluster: error mapping from Status bodies,
// discovery and path building, watch line parsing, and the client's requests and watches over a
// fake connection that answers like an API server.

import assert from "node:assert/strict";
import { ApiError, type WatchEvent } from "../core/cluster.ts";
import type { KubeObject } from "../core/object.ts";
import { Discovery, groupVersionPath, parseResourceList, resourcePath } from "./_discovery.ts";
import { errorFromNetwork, errorFromResponse, errorFromStatus } from "./_status.ts";
import { LineSplitter, parseWatchLine, readWatchStream } from "./_watch_stream.ts";
import { KubeClusterClient, labelSelector } from "./kube_client.ts";
import type { KubeConnection } from "./kubeconfig.ts";

const CONFIGMAP = { apiVersion: "v1", kind: "ConfigMap" };
const STATEFULSET = { apiVersion: "apps/v1", kind: "StatefulSet" };
const POSTGRESDB = { apiVersion: "database.thegeekyway.com/v1alpha1", kind: "PostgresDB" };

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message };
}

// ---------------------------------------------------------------------------- error mapping

Deno.test("errorFromStatus() keeps the server's reason, code and message", () => {
  const cases: [number, string, string][] = [
    [404, "NotFound", "NotFound"],
    [409, "AlreadyExists", "AlreadyExists"],
    [409, "Conflict", "Conflict"],
    [410, "Expired", "Expired"],
    [410, "Gone", "Expired"],
    [422, "Invalid", "Invalid"],
    [400, "BadRequest", "BadRequest"],
    [403, "Forbidden", "Forbidden"],
    [401, "Unauthorized", "Forbidden"],
    [429, "TooManyRequests", "TooManyRequests"],
    [500, "InternalError", "InternalError"],
    [504, "Timeout", "Timeout"],
    [500, "ServerTimeout", "Timeout"],
    [503, "ServiceUnavailable", "ServiceUnavailable"],
    [409, "", "Conflict"],
    [415, "UnsupportedMediaType", "BadRequest"],
  ];
  for (const [code, reason, expected] of cases) {
    const error = errorFromStatus(status(code, reason, `msg ${code} ${reason}`));
    assert.equal(error.reason, expected, `${code} ${reason}`);
    assert.equal(error.code, code, `${code} ${reason}`);
    assert.equal(error.message, `msg ${code} ${reason}`);
    assert.ok(error instanceof ApiError);
  }
});

Deno.test("errorFromResponse() uses the Status body, or the code for a body without one", () => {
  const fromStatus = errorFromResponse(
    404,
    JSON.stringify(status(404, "NotFound", 'configmaps "x" not found')),
    "GET /api/v1/namespaces/default/configmaps/x",
  );
  assert.equal(fromStatus.reason, "NotFound");
  assert.equal(fromStatus.message, 'configmaps "x" not found');

  const plain = errorFromResponse(502, "<html>bad gateway</html>\n", "GET /api/v1/pods");
  assert.equal(plain.reason, "InternalError");
  assert.equal(plain.code, 502);
  assert.equal(plain.message, "GET /api/v1/pods answered 502: <html>bad gateway</html>");
  assert.equal(errorFromResponse(429, "", "GET /x").reason, "TooManyRequests");
  assert.equal(errorFromResponse(503, "", "GET /x").reason, "ServiceUnavailable");
});

Deno.test("errorFromNetwork() makes refused connections ServiceUnavailable and deadlines Timeout", () => {
  const refused = new TypeError("error sending request for url (https://127.0.0.1:1/api/v1)", {
    cause: new Error("tcp connect error: Connection refused (os error 111)"),
  });
  const error = errorFromNetwork(refused, "GET /api/v1");
  assert.equal(error.reason, "ServiceUnavailable");
  assert.equal(error.code, 503);
  assert.match(error.message, /Connection refused/);
  const timeout = errorFromNetwork(
    new DOMException("no answer within 5ms", "TimeoutError"),
    "GET /x",
  );
  assert.equal(timeout.reason, "Timeout");
  assert.equal(timeout.code, 504);
  const same = new ApiError("Conflict", "x");
  assert.equal(errorFromNetwork(same, "GET /x"), same);
});

// ------------------------------------------------------------------ discovery and paths

Deno.test("resourcePath() builds core, group, namespaced, cluster-scoped and subresource paths", () => {
  const cm = { plural: "configmaps", namespaced: true };
  const ns = { plural: "namespaces", namespaced: false };
  assert.equal(groupVersionPath("v1"), "/api/v1");
  assert.equal(groupVersionPath("apps/v1"), "/apis/apps/v1");
  assert.equal(resourcePath("v1", cm, {}), "/api/v1/configmaps");
  assert.equal(resourcePath("v1", cm, { namespace: "ns1" }), "/api/v1/namespaces/ns1/configmaps");
  assert.equal(
    resourcePath("v1", cm, { namespace: "ns1", name: "a b" }),
    "/api/v1/namespaces/ns1/configmaps/a%20b",
  );
  assert.equal(resourcePath("v1", ns, { namespace: "ignored", name: "x" }), "/api/v1/namespaces/x");
  assert.equal(
    resourcePath(POSTGRESDB.apiVersion, { plural: "postgresdbs", namespaced: true }, {
      namespace: "default",
      name: "db",
      subresource: "status",
    }),
    "/apis/database.thegeekyway.com/v1alpha1/namespaces/default/postgresdbs/db/status",
  );
  assert.throws(
    () => groupVersionPath("a/b/c"),
    (e) => e instanceof ApiError && e.reason === "BadRequest",
  );
  assert.throws(() => resourcePath("v1", cm, { name: "" }), ApiError);
});

Deno.test("parseResourceList() maps kinds to plurals and skips subresources", () => {
  const kinds = parseResourceList({
    kind: "APIResourceList",
    resources: [
      { name: "pods", kind: "Pod", namespaced: true },
      { name: "pods/status", kind: "Pod", namespaced: true },
      { name: "nodes", kind: "Node", namespaced: false },
    ],
  });
  assert.deepEqual(kinds.get("Pod"), { plural: "pods", namespaced: true });
  assert.deepEqual(kinds.get("Node"), { plural: "nodes", namespaced: false });
  assert.equal(kinds.size, 2);
});

Deno.test("Discovery caches, refreshes on a miss, and names unknown kinds", async () => {
  const asked: string[] = [];
  let crdInstalled = false;
  const discovery = new Discovery((path) => {
    asked.push(path);
    if (path === "/apis/database.thegeekyway.com/v1alpha1") {
      return Promise.resolve(
        crdInstalled
          ? { resources: [{ name: "postgresdbs", kind: "PostgresDB", namespaced: true }] }
          : undefined,
      );
    }
    return Promise.resolve({
      resources: [{ name: "configmaps", kind: "ConfigMap", namespaced: true }],
    });
  });
  const [a, b] = await Promise.all([discovery.resolve(CONFIGMAP), discovery.resolve(CONFIGMAP)]);
  assert.equal(a, b);
  await discovery.resolve(CONFIGMAP);
  assert.deepEqual(asked, ["/api/v1"], "concurrent and later lookups share one request");

  await assert.rejects(discovery.resolve(POSTGRESDB), (error) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.reason, "NotFound");
    assert.equal(
      error.message,
      'the server could not find the requested resource (kind "PostgresDB" in "database.thegeekyway.com/v1alpha1")',
    );
    return true;
  });
  crdInstalled = true;
  assert.deepEqual(await discovery.resolve(POSTGRESDB), {
    plural: "postgresdbs",
    namespaced: true,
  });
  await assert.rejects(
    discovery.resolve({ apiVersion: "v1", kind: "Nope" }),
    /kind "Nope" in "v1"/,
  );
  assert.equal(
    asked.filter((p) => p === "/api/v1").length,
    2,
    "a miss refreshes the group version",
  );
});

// ------------------------------------------------------------------------ watch lines

Deno.test("LineSplitter joins lines split across chunks", () => {
  const splitter = new LineSplitter();
  assert.deepEqual(splitter.push('{"a":'), []);
  assert.deepEqual(splitter.push('1}\n{"b"'), ['{"a":1}']);
  assert.deepEqual(splitter.push(":2}\n\n"), ['{"b":2}', ""]);
  assert.deepEqual(splitter.push('{"c":3}'), []);
  assert.deepEqual(splitter.flush(), ['{"c":3}']);
  assert.deepEqual(splitter.flush(), []);
});

Deno.test("parseWatchLine() parses events, bookmarks, ERROR 410 and garbage", () => {
  const added = parseWatchLine(
    JSON.stringify({ type: "ADDED", object: { metadata: { name: "a", resourceVersion: "5" } } }),
    CONFIGMAP,
  );
  assert.deepEqual(added, {
    event: {
      type: "ADDED",
      object: {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "a", resourceVersion: "5" },
      },
    },
  });
  const bookmark = parseWatchLine(
    JSON.stringify({
      type: "BOOKMARK",
      object: { kind: "ConfigMap", metadata: { resourceVersion: "9" } },
    }),
    CONFIGMAP,
  );
  assert.deepEqual(bookmark, { event: { type: "BOOKMARK", resourceVersion: "9" } });
  const gone = parseWatchLine(
    JSON.stringify({
      type: "ERROR",
      object: status(410, "Expired", "too old resource version: 1 (243)"),
    }),
    CONFIGMAP,
  );
  assert.ok(gone && "error" in gone);
  assert.equal(gone.error.reason, "Expired");
  assert.equal(gone.error.code, 410);
  assert.equal(gone.error.message, "too old resource version: 1 (243)");
  assert.equal(parseWatchLine("   ", CONFIGMAP), undefined);
  const garbage = parseWatchLine("{not json", CONFIGMAP);
  assert.ok(garbage && "error" in garbage);
  assert.equal(garbage.error.reason, "InternalError");
});

function textStream(chunks: string[], failAtEnd?: Error): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[index++];
      if (chunk !== undefined) controller.enqueue(encoder.encode(chunk));
      else if (failAtEnd) controller.error(failAtEnd);
      else controller.close();
    },
  });
}

function line(type: string, object: Record<string, unknown>): string {
  return JSON.stringify({ type, object }) + "\n";
}

function cm(name: string, rv: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "default", resourceVersion: rv },
  };
}

Deno.test("readWatchStream() delivers events in order and stops at an ERROR line", async () => {
  const body = line("ADDED", cm("a", "1")) + line("MODIFIED", cm("a", "2")) +
    line("ERROR", status(410, "Expired", "too old")) + line("DELETED", cm("a", "3"));
  // Chunk boundaries in awkward places: mid-line and mid-UTF-8 are both possible on the wire.
  const chunks = [body.slice(0, 7), body.slice(7, 60), body.slice(60)];
  const seen: string[] = [];
  const result = await readWatchStream(textStream(chunks), CONFIGMAP, (event) => {
    seen.push(
      event.type === "BOOKMARK"
        ? "BOOKMARK"
        : `${event.type} ${event.object.metadata.resourceVersion}`,
    );
  });
  assert.deepEqual(seen, ["ADDED 1", "MODIFIED 2"]);
  assert.equal(result?.reason, "Expired");
});

Deno.test("readWatchStream() resolves undefined at a normal end and rejects on a read error", async () => {
  const ok = await readWatchStream(textStream([line("ADDED", cm("a", "1"))]), CONFIGMAP, () => {});
  assert.equal(ok, undefined);
  await assert.rejects(
    readWatchStream(
      textStream([line("ADDED", cm("a", "1"))], new TypeError("connection reset")),
      CONFIGMAP,
      () => {},
    ),
    /connection reset/,
  );
});

// -------------------------------------------------------------- the client, over a fake server

interface Recorded {
  method: string;
  url: URL;
  headers: Headers;
  body: string | undefined;
}

type Handler = (request: Recorded, signal: AbortSignal | undefined) => Response | Promise<Response>;

const DISCOVERY: Record<string, unknown> = {
  "/api/v1": {
    resources: [
      { name: "configmaps", kind: "ConfigMap", namespaced: true },
      { name: "events", kind: "Event", namespaced: true },
      { name: "namespaces", kind: "Namespace", namespaced: false },
    ],
  },
  "/apis/apps/v1": { resources: [{ name: "statefulsets", kind: "StatefulSet", namespaced: true }] },
  "/apis/database.thegeekyway.com/v1alpha1": {
    resources: [
      { name: "postgresdbs", kind: "PostgresDB", namespaced: true },
      { name: "postgresdbs/status", kind: "PostgresDB", namespaced: true },
    ],
  },
};

function json(value: unknown, code = 200): Response {
  return new Response(JSON.stringify(value), {
    status: code,
    headers: { "Content-Type": "application/json" },
  });
}

/** A connection whose server answers discovery itself and everything else with `handler`. */
function fakeConnection(
  handler: Handler,
): KubeConnection & { requests: Recorded[]; invalidated: number } {
  const requests: Recorded[] = [];
  const connection = {
    server: "https://127.0.0.1:6443",
    namespace: "team-a",
    requests,
    invalidated: 0,
    async fetch(url: string, init: RequestInit): Promise<Response> {
      const recorded: Recorded = {
        method: init.method ?? "GET",
        url: new URL(url),
        headers: new Headers(init.headers),
        body: typeof init.body === "string" ? init.body : undefined,
      };
      const discovery = DISCOVERY[recorded.url.pathname];
      if (discovery !== undefined) return json(discovery);
      if (recorded.url.pathname.startsWith("/apis/")) {
        const gv = recorded.url.pathname.split("/").slice(0, 4).join("/");
        if (recorded.url.pathname === gv) return json(status(404, "NotFound", "not found"), 404);
      }
      requests.push(recorded);
      return await handler(recorded, init.signal ?? undefined);
    },
    authHeaders: () => Promise.resolve({ Authorization: "Bearer t0ken" }),
    invalidateAuth() {
      connection.invalidated++;
    },
    close() {},
  };
  return connection;
}

Deno.test("KubeClusterClient.get() resolves the path, authenticates and fills in the type", async () => {
  const connection = fakeConnection(() => json({ metadata: { name: "db", namespace: "team-a" } }));
  const client = new KubeClusterClient(connection);
  const object = await client.get(STATEFULSET, "db");
  assert.equal(object.kind, "StatefulSet");
  assert.equal(object.apiVersion, "apps/v1");
  const [request] = connection.requests;
  assert.equal(request?.url.pathname, "/apis/apps/v1/namespaces/team-a/statefulsets/db");
  assert.equal(request?.headers.get("authorization"), "Bearer t0ken");
  assert.equal(request?.headers.get("accept"), "application/json");
  assert.deepEqual(client.stats, { requests: 2, writes: 0, byVerb: { discovery: 1, get: 1 } });
});

Deno.test("KubeClusterClient.list() follows continue tokens and keeps the first page's version", async () => {
  const connection = fakeConnection((request) => {
    const token = request.url.searchParams.get("continue");
    if (token === null) {
      return json({
        metadata: { resourceVersion: "100", continue: "page2" },
        items: [cm("a", "7")],
      });
    }
    return json({ metadata: { resourceVersion: "100" }, items: [{ metadata: { name: "b" } }] });
  });
  const client = new KubeClusterClient(connection, { listPageSize: 1 });
  const result = await client.list(CONFIGMAP, {
    namespace: "ns1",
    labelSelector: { app: "db", tier: "x" },
  });
  assert.equal(result.resourceVersion, "100");
  assert.deepEqual(result.items.map((item) => `${item.kind}/${item.metadata.name}`), [
    "ConfigMap/a",
    "ConfigMap/b",
  ]);
  const first = connection.requests[0]!;
  assert.equal(first.url.pathname, "/api/v1/namespaces/ns1/configmaps");
  assert.equal(first.url.searchParams.get("labelSelector"), "app=db,tier=x");
  assert.equal(first.url.searchParams.get("limit"), "1");
  assert.equal(connection.requests[1]?.url.searchParams.get("continue"), "page2");
  assert.equal(labelSelector({}), "");
});

Deno.test("KubeClusterClient.apply() sends an apply patch with the field manager", async () => {
  const connection = fakeConnection((request) => json(JSON.parse(request.body ?? "{}")));
  const client = new KubeClusterClient(connection);
  const object: KubeObject = {
    ...CONFIGMAP,
    metadata: { name: "a", namespace: "ns1", managedFields: [{ manager: "x" }] },
    data: { k: "v" },
  };
  await client.apply(object, { fieldManager: "pgop", force: true });
  const request = connection.requests[0]!;
  assert.equal(request.method, "PATCH");
  assert.equal(request.url.pathname, "/api/v1/namespaces/ns1/configmaps/a");
  assert.equal(request.url.searchParams.get("fieldManager"), "pgop");
  assert.equal(request.url.searchParams.get("force"), "true");
  assert.equal(request.headers.get("content-type"), "application/apply-patch+yaml");
  assert.deepEqual(JSON.parse(request.body!), {
    ...CONFIGMAP,
    metadata: { name: "a", namespace: "ns1" },
    data: { k: "v" },
  });
  assert.equal(
    object.metadata.managedFields !== undefined,
    true,
    "the caller's object is not changed",
  );
  await client.apply(object, { fieldManager: "pgop" });
  assert.equal(connection.requests[1]?.url.searchParams.has("force"), false);
  assert.equal(client.stats.writes, 2);
  assert.equal(client.stats.byVerb.apply, 2);
});

Deno.test("KubeClusterClient.patchStatus() merge-patches /status with a version precondition", async () => {
  const connection = fakeConnection(() => json({ ...POSTGRESDB, metadata: { name: "db" } }));
  const client = new KubeClusterClient(connection);
  await client.patchStatus(
    { ...POSTGRESDB, name: "db", namespace: "default" },
    { phase: "Ready" },
    {
      resourceVersion: "42",
    },
  );
  await client.patchStatus({ ...POSTGRESDB, name: "db" }, { phase: "Ready" });
  const [withVersion, without] = connection.requests;
  assert.equal(
    withVersion?.url.pathname,
    "/apis/database.thegeekyway.com/v1alpha1/namespaces/default/postgresdbs/db/status",
  );
  assert.equal(withVersion?.headers.get("content-type"), "application/merge-patch+json");
  assert.deepEqual(JSON.parse(withVersion!.body!), {
    status: { phase: "Ready" },
    metadata: { resourceVersion: "42" },
  });
  assert.equal(
    without?.url.pathname,
    "/apis/database.thegeekyway.com/v1alpha1/namespaces/team-a/postgresdbs/db/status",
  );
  assert.deepEqual(JSON.parse(without!.body!), { status: { phase: "Ready" } });
});

Deno.test("KubeClusterClient.delete() sends preconditions and the propagation policy", async () => {
  const connection = fakeConnection(() => json(status(200, "", "")));
  const client = new KubeClusterClient(connection);
  await client.delete(STATEFULSET, "db", "ns1", {
    uid: "u1",
    resourceVersion: "9",
    propagationPolicy: "Foreground",
  });
  await client.delete(STATEFULSET, "db", undefined);
  const [first, second] = connection.requests;
  assert.equal(first?.method, "DELETE");
  assert.deepEqual(JSON.parse(first!.body!), {
    apiVersion: "v1",
    kind: "DeleteOptions",
    propagationPolicy: "Foreground",
    preconditions: { uid: "u1", resourceVersion: "9" },
  });
  assert.equal(second?.url.pathname, "/apis/apps/v1/namespaces/team-a/statefulsets/db");
  assert.deepEqual(JSON.parse(second!.body!), {
    apiVersion: "v1",
    kind: "DeleteOptions",
    propagationPolicy: "Background",
  });
});

Deno.test("KubeClusterClient maps error answers and failures to ApiError", async () => {
  let answer: () => Response | Promise<Response> = () =>
    json(status(409, "AlreadyExists", 'configmaps "a" already exists'), 409);
  const connection = fakeConnection(() => answer());
  const client = new KubeClusterClient(connection, { requestTimeoutMs: 5 });
  await assert.rejects(client.create({ ...CONFIGMAP, metadata: { name: "a" } }), (error) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.reason, "AlreadyExists");
    assert.equal(error.code, 409);
    assert.equal(error.message, 'configmaps "a" already exists');
    return true;
  });
  assert.equal(connection.requests[0]?.url.pathname, "/api/v1/namespaces/team-a/configmaps");

  answer = () => json(status(401, "Unauthorized", "Unauthorized"), 401);
  await assert.rejects(client.get(CONFIGMAP, "a"), (e) => e instanceof ApiError && e.code === 401);
  assert.equal(connection.invalidated, 1, "a 401 drops cached credentials");

  answer = () =>
    Promise.reject(new TypeError("error sending request: Connection refused (os error 111)"));
  await assert.rejects(
    client.get(CONFIGMAP, "a"),
    (e) => e instanceof ApiError && e.reason === "ServiceUnavailable",
  );

  await assert.rejects(
    client.get({ apiVersion: "nope.example.com/v1", kind: "Thing" }, "a"),
    (e) => {
      return e instanceof ApiError && e.reason === "NotFound" &&
        /kind "Thing" in "nope.example.com\/v1"/.test(e.message);
    },
  );
});

Deno.test("KubeClusterClient turns a request that outlives its deadline into Timeout", async () => {
  const connection: KubeConnection = {
    ...fakeConnection(() => json({})),
    fetch: (_url, init) =>
      new Promise<Response>((_resolve, reject) => {
        init.signal?.addEventListener("abort", () => reject(init.signal?.reason));
      }),
  };
  const client = new KubeClusterClient(connection, { requestTimeoutMs: 5 });
  await assert.rejects(
    client.list(CONFIGMAP),
    (e) => e instanceof ApiError && e.reason === "Timeout",
  );
});

Deno.test("KubeClusterClient.createEvent() posts a core/v1 Event and counts it as a write", async () => {
  const connection = fakeConnection((request) => json(JSON.parse(request.body ?? "{}"), 201));
  const client = new KubeClusterClient(connection);
  await client.createEvent({
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: "e1", namespace: "ns1" },
  });
  assert.equal(connection.requests[0]?.url.pathname, "/api/v1/namespaces/ns1/events");
  assert.equal(connection.requests[0]?.method, "POST");
  assert.equal(client.stats.byVerb.createEvent, 1);
  assert.equal(client.stats.writes, 1);
});

// ------------------------------------------------------------------------------ watches

/** A watch answer whose body the test feeds line by line. */
function controlledStream(): {
  stream: ReadableStream<Uint8Array>;
  send(text: string): void;
  end(): void;
  fail(e: Error): void;
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  const encoder = new TextEncoder();
  return {
    stream,
    send: (text) => controller.enqueue(encoder.encode(text)),
    end: () => controller.close(),
    fail: (e) => controller.error(e),
  };
}

function recorder(): {
  events: string[];
  done: Promise<Error | undefined>;
  onEvent(event: WatchEvent): void;
  onDone(error?: Error): void;
  doneCalls: number;
} {
  let resolve!: (error: Error | undefined) => void;
  const r = {
    events: [] as string[],
    done: new Promise<Error | undefined>((res) => resolve = res),
    doneCalls: 0,
    onEvent(event: WatchEvent) {
      r.events.push(
        event.type === "BOOKMARK"
          ? `BOOKMARK ${event.resourceVersion}`
          : `${event.type} ${event.object.metadata.name}`,
      );
    },
    onDone(error?: Error) {
      r.doneCalls++;
      resolve(error);
    },
  };
  return r;
}

Deno.test("KubeClusterClient.watch() streams events in order, then reports 410 as Expired", async () => {
  const body = controlledStream();
  const connection = fakeConnection((_request, signal) => {
    signal?.addEventListener("abort", () => body.fail(new DOMException("aborted", "AbortError")));
    return new Response(body.stream, { status: 200 });
  });
  const client = new KubeClusterClient(connection, { watchTimeoutSeconds: 30 });
  const r = recorder();
  await client.watch(CONFIGMAP, {
    namespace: "ns1",
    resourceVersion: "5",
    allowBookmarks: true,
    ...r,
  });
  const url = connection.requests[0]!.url;
  assert.equal(url.pathname, "/api/v1/namespaces/ns1/configmaps");
  assert.equal(url.searchParams.get("watch"), "1");
  assert.equal(url.searchParams.get("resourceVersion"), "5");
  assert.equal(url.searchParams.get("allowWatchBookmarks"), "true");
  assert.equal(url.searchParams.get("timeoutSeconds"), "30");
  body.send(line("ADDED", cm("a", "6")) + line("MODIFIED", cm("a", "7")).slice(0, 10));
  body.send(
    line("MODIFIED", cm("a", "7")).slice(10) +
      line("BOOKMARK", { kind: "ConfigMap", metadata: { resourceVersion: "8" } }),
  );
  body.send(
    line("DELETED", cm("a", "9")) +
      line("ERROR", status(410, "Expired", "too old resource version: 5 (8)")),
  );
  const error = await r.done;
  assert.deepEqual(r.events, ["ADDED a", "MODIFIED a", "BOOKMARK 8", "DELETED a"]);
  assert.ok(error instanceof ApiError);
  assert.equal(error.reason, "Expired");
  assert.equal(r.doneCalls, 1);
});

Deno.test("KubeClusterClient.watch() reports a normal end without an error and a reset as ServiceUnavailable", async () => {
  let body = controlledStream();
  const connection = fakeConnection(() => new Response(body.stream, { status: 200 }));
  const client = new KubeClusterClient(connection);
  const normal = recorder();
  await client.watch(CONFIGMAP, { resourceVersion: "", ...normal });
  assert.equal(connection.requests[0]?.url.searchParams.has("resourceVersion"), false);
  assert.equal(connection.requests[0]?.url.pathname, "/api/v1/configmaps");
  body.send(line("ADDED", cm("a", "1")));
  body.end();
  assert.equal(await normal.done, undefined);
  assert.deepEqual(normal.events, ["ADDED a"]);

  body = controlledStream();
  const reset = recorder();
  await client.watch(CONFIGMAP, { resourceVersion: "1", ...reset });
  body.fail(new TypeError("error reading a body from connection: connection reset"));
  const error = await reset.done;
  assert.ok(error instanceof ApiError);
  assert.equal(error.reason, "ServiceUnavailable");
  assert.match(error.message, /connection reset/);
});

Deno.test("KubeClusterClient.watch() never calls onDone after stop()", async () => {
  const body = controlledStream();
  let aborted = false;
  const connection = fakeConnection((_request, signal) => {
    signal?.addEventListener("abort", () => {
      aborted = true;
      body.fail(new DOMException("aborted", "AbortError"));
    });
    return new Response(body.stream, { status: 200 });
  });
  const client = new KubeClusterClient(connection);
  const r = recorder();
  const handle = await client.watch(CONFIGMAP, { resourceVersion: "1", ...r });
  body.send(line("ADDED", cm("a", "2")));
  // Let the event through before stopping.
  for (let i = 0; i < 20 && r.events.length === 0; i++) await Promise.resolve();
  handle.stop();
  handle.stop();
  for (let i = 0; i < 20; i++) await Promise.resolve();
  assert.ok(aborted, "stop() aborts the request");
  assert.deepEqual(r.events, ["ADDED a"]);
  assert.equal(r.doneCalls, 0);
});

Deno.test("KubeClusterClient.watch() answers HTTP 410 through onDone and rejects other refusals", async () => {
  let code = 410;
  const connection = fakeConnection(() =>
    json(status(code, code === 410 ? "Gone" : "Forbidden", "no"), code)
  );
  const client = new KubeClusterClient(connection);
  const r = recorder();
  await client.watch(CONFIGMAP, { resourceVersion: "1", ...r });
  const error = await r.done;
  assert.ok(error instanceof ApiError && error.reason === "Expired");
  code = 403;
  await assert.rejects(
    client.watch(CONFIGMAP, { resourceVersion: "1", ...recorder() }),
    (e) => e instanceof ApiError && e.reason === "Forbidden",
  );
});

Deno.test("KubeClusterClient reports a refused connection as ServiceUnavailable", async () => {
  // Port 1 on the loopback address: nothing listens there, so the connection is refused at once.
  const connection: KubeConnection = {
    server: "http://127.0.0.1:1",
    namespace: "default",
    fetch: (url, init) => fetch(url, init),
    authHeaders: () => Promise.resolve({}),
    invalidateAuth() {},
    close() {},
  };
  const client = new KubeClusterClient(connection, { requestTimeoutMs: 5000 });
  await assert.rejects(client.get(CONFIGMAP, "a"), (error) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.reason, "ServiceUnavailable");
    assert.equal(error.code, 503);
    assert.match(error.message, /^Cannot reach the API server: GET \/api\/v1: /);
    return true;
  });
  assert.deepEqual(client.stats.byVerb, { discovery: 1 });
});

Deno.test("KubeClusterClient with stripManagedFields: lists and watch events come without managedFields, gets keep them", async () => {
  const fields = [{ manager: "kubectl", operation: "Apply" }];
  const withFields = (name: string, rv: string) => {
    const o = cm(name, rv);
    (o.metadata as Record<string, unknown>).managedFields = fields;
    return o;
  };
  const body = controlledStream();
  const connection = fakeConnection((request) => {
    if (request.url.searchParams.get("watch") === "1") return new Response(body.stream);
    if (request.url.pathname.endsWith("/a")) return json(withFields("a", "1"));
    return json({ metadata: { resourceVersion: "2" }, items: [withFields("a", "1")] });
  });
  const stripping = new KubeClusterClient(connection, { stripManagedFields: true });
  const listed = await stripping.list(CONFIGMAP, { namespace: "default" });
  assert.equal(listed.items[0]?.metadata.managedFields, undefined);
  assert.deepEqual((await stripping.get(CONFIGMAP, "a", "default")).metadata.managedFields, fields);
  const seen: WatchEvent[] = [];
  const r = recorder();
  await stripping.watch(CONFIGMAP, {
    resourceVersion: "2",
    allowBookmarks: true,
    onEvent: (event) => seen.push(event),
    onDone: r.onDone,
  });
  body.send(
    line("MODIFIED", withFields("a", "3")) +
      line("BOOKMARK", { kind: "ConfigMap", metadata: { resourceVersion: "4" } }),
  );
  body.end();
  await r.done;
  assert.equal(seen.length, 2);
  assert.ok(seen[0]?.type === "MODIFIED");
  assert.equal(seen[0].object.metadata.managedFields, undefined);
  assert.equal(seen[0].object.metadata.resourceVersion, "3");

  const keeping = new KubeClusterClient(connection);
  const kept = await keeping.list(CONFIGMAP, { namespace: "default" });
  assert.deepEqual(kept.items[0]?.metadata.managedFields, fields, "off by default");
});
