// Goal: a plain kubeconfig (one file; a CA, a client certificate or a token) and the in-cluster
// service account become a connection without client-node; anything else is left to client-node
// (undefined). Method: files in a temporary directory and an injected environment; a CA and a
// certificate made with openssl where a real PEM is needed.
import assert from "node:assert/strict";
import { lightConnection } from "./_kubeconfig_light.ts";

function config(user: Record<string, unknown>, cluster: Record<string, unknown> = {}) {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    "current-context": "c",
    clusters: [{ name: "k", cluster: { server: "http://127.0.0.1:1/", ...cluster } }],
    users: [{ name: "u", user }],
    contexts: [{ name: "c", context: { cluster: "k", user: "u", namespace: "team" } }],
  });
}

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pgop-light-kubeconfig-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const noEnv = (_: string) => undefined;

Deno.test("lightConnection: a token kubeconfig gives its server, namespace and bearer token", async () => {
  await withDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/config`, config({ token: "t0k" }));
    const connection = await lightConnection({ path: `${dir}/config`, env: noEnv });
    assert.ok(connection);
    assert.equal(connection.server, "http://127.0.0.1:1");
    assert.equal(connection.namespace, "team");
    assert.deepEqual(await connection.authHeaders(), { Authorization: "Bearer t0k" });
    connection.close();
  });
});

Deno.test("lightConnection: a token file, relative to the kubeconfig, is read again after invalidateAuth", async () => {
  await withDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/token`, "first\n");
    Deno.writeTextFileSync(`${dir}/config`, config({ tokenFile: "token" }));
    const connection = await lightConnection({
      env: (name) => name === "KUBECONFIG" ? `${dir}/absent:${dir}/config` : undefined,
    });
    assert.ok(connection);
    assert.deepEqual(await connection.authHeaders(), { Authorization: "Bearer first" });
    Deno.writeTextFileSync(`${dir}/token`, "second");
    assert.deepEqual(await connection.authHeaders(), { Authorization: "Bearer first" }, "cached");
    connection.invalidateAuth();
    assert.deepEqual(await connection.authHeaders(), { Authorization: "Bearer second" });
    connection.close();
  });
});

Deno.test("lightConnection: leaves every other kubeconfig to client-node", async () => {
  await withDir(async (dir) => {
    const cases: [string, string][] = [
      ["exec plugin", config({ exec: { command: "get-token" } })],
      ["basic auth", config({ username: "a", password: "b" })],
      ["impersonation", config({ token: "t", as: "someone" })],
      ["skip TLS verify", config({ token: "t" }, { "insecure-skip-tls-verify": true })],
      ["no server", config({ token: "t" }, { server: "" })],
      ["a certificate without a key", config({ "client-certificate-data": btoa("x") })],
      ["a missing token file", config({ tokenFile: "nowhere" })],
      ["not YAML", "{ clusters: [ oops"],
      ["not a map", "just a string"],
    ];
    for (const [what, text] of cases) {
      Deno.writeTextFileSync(`${dir}/config`, text);
      assert.equal(await lightConnection({ path: `${dir}/config`, env: noEnv }), undefined, what);
    }
    Deno.writeTextFileSync(`${dir}/config`, config({ token: "t" }));
    assert.equal(
      await lightConnection({ path: `${dir}/config`, context: "other", env: noEnv }),
      undefined,
      "an unknown context",
    );
    Deno.writeTextFileSync(`${dir}/second`, config({ token: "t" }));
    const two = (name: string) => name === "KUBECONFIG" ? `${dir}/config:${dir}/second` : undefined;
    assert.equal(await lightConnection({ env: two }), undefined, "two files to merge");
    assert.equal(
      await lightConnection({ path: `${dir}/absent`, env: noEnv }),
      undefined,
      "a missing file",
    );
  });
});

const HAS_OPENSSL = (() => {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

async function selfSigned(dir: string): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "1",
      "-subj",
      "/CN=light-test",
    ],
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

Deno.test({
  name: "lightConnection: certificates inline or in files, and the in-cluster service account",
  ignore: !HAS_OPENSSL,
  async fn() {
    await withDir(async (dir) => {
      await selfSigned(dir);
      const ca = Deno.readTextFileSync(`${dir}/ca.crt`);
      const key = Deno.readTextFileSync(`${dir}/ca.key`);
      Deno.writeTextFileSync(
        `${dir}/config`,
        config(
          { "client-certificate": "ca.crt", "client-key-data": btoa(key) },
          { server: "https://127.0.0.1:1", "certificate-authority-data": btoa(ca) },
        ),
      );
      const files = await lightConnection({ path: `${dir}/config`, env: noEnv });
      assert.ok(files, "a client certificate from a file and a key inline");
      assert.deepEqual(await files.authHeaders(), {});
      files.close();

      // No kubeconfig anywhere, the service account's files and variables: in-cluster.
      const sa = `${dir}/var/run/secrets/kubernetes.io/serviceaccount`;
      Deno.mkdirSync(sa, { recursive: true });
      Deno.writeTextFileSync(`${sa}/token`, "sa-token");
      Deno.writeTextFileSync(`${sa}/ca.crt`, ca);
      Deno.writeTextFileSync(`${sa}/namespace`, "operators");
      const env = (name: string) =>
        ({ KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443", HOME: dir })[name];
      const inCluster = await lightConnection({ env, inClusterRoot: dir });
      assert.ok(inCluster);
      assert.equal(inCluster.server, "https://10.0.0.1:443");
      assert.equal(inCluster.namespace, "operators");
      assert.deepEqual(await inCluster.authHeaders(), { Authorization: "Bearer sa-token" });
      inCluster.close();
      assert.equal(
        await lightConnection({ env, inClusterRoot: dir, context: "x" }),
        undefined,
        "a context named: not the in-cluster one",
      );
    });
  },
});
