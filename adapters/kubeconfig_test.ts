// Unit tests of kubeconfig loading: where the configuration comes from, the one-line errors for
// user mistakes, and the credentials a connection sends. Files live in a temporary directory and
// the environment is injected, so nothing of the machine's own kubeconfig is read.

import assert from "node:assert/strict";
import { connectionFromKubeConfig, KubeConfigError, loadKubeConfig } from "./kubeconfig.ts";

function kubeconfig(
  name: string,
  options: { server?: string; token?: string; namespace?: string } = {},
): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    "current-context": name,
    clusters: [{ name, cluster: { server: options.server ?? "http://127.0.0.1:1" } }],
    users: [{ name, user: { token: options.token ?? `token-${name}` } }],
    contexts: [{
      name,
      context: {
        cluster: name,
        user: name,
        ...(options.namespace ? { namespace: options.namespace } : {}),
      },
    }],
  });
}

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pgop-kubeconfig-test-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function envOf(values: Record<string, string>): (name: string) => string | undefined {
  return (name) => values[name];
}

async function rejectsWith(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof KubeConfigError, `a KubeConfigError, got ${error}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    assert.ok(!error.message.includes("\n"), "one line");
    return true;
  });
}

Deno.test("loadKubeConfig() says how to fix a missing kubeconfig", async () => {
  await withDir(async (dir) => {
    await rejectsWith(
      loadKubeConfig({ env: envOf({ HOME: dir }) }),
      "No kubeconfig found: set KUBECONFIG, create ~/.kube/config, or run inside a cluster",
    );
    await rejectsWith(
      loadKubeConfig({ env: envOf({ HOME: dir, KUBECONFIG: `${dir}/a:${dir}/b` }) }),
      `No kubeconfig found: KUBECONFIG names "${dir}/a", "${dir}/b", and none exists`,
    );
    await rejectsWith(
      loadKubeConfig({ path: `${dir}/x` }),
      `Cannot read kubeconfig "${dir}/x": no such file`,
    );
  });
});

Deno.test("loadKubeConfig() reports unparsable files and unknown contexts in one line", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bad`, "clusters: [\n  - {name: x\n");
    await rejectsWith(
      loadKubeConfig({ path: `${dir}/bad` }),
      new RegExp(`^Cannot parse kubeconfig "${dir}/bad": `),
    );
    await Deno.writeTextFile(`${dir}/empty`, "");
    await rejectsWith(
      loadKubeConfig({ path: `${dir}/empty` }),
      new RegExp(`^Cannot parse kubeconfig "${dir}/empty": `),
    );
    await Deno.writeTextFile(`${dir}/good`, kubeconfig("one"));
    await rejectsWith(
      loadKubeConfig({ path: `${dir}/good`, context: "two" }),
      'Kubeconfig has no context "two": known contexts are one',
    );
  });
});

Deno.test("loadKubeConfig() reads KUBECONFIG, then ~/.kube/config, merging lists first-wins", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/.kube`);
    await Deno.writeTextFile(`${dir}/.kube/config`, kubeconfig("home"));
    await Deno.writeTextFile(`${dir}/a`, kubeconfig("a"));
    await Deno.writeTextFile(`${dir}/b`, kubeconfig("b"));
    const home = await loadKubeConfig({ env: envOf({ HOME: dir }) });
    assert.equal(home.getCurrentContext(), "home");
    const merged = await loadKubeConfig({
      env: envOf({ HOME: dir, KUBECONFIG: `${dir}/a:${dir}/missing:${dir}/b` }),
    });
    assert.equal(merged.getCurrentContext(), "a");
    assert.deepEqual(merged.getContexts().map((c) => c.name), ["a", "b"]);
    const chosen = await loadKubeConfig({
      env: envOf({ HOME: dir, KUBECONFIG: `${dir}/a:${dir}/b` }),
      context: "b",
    });
    assert.equal(chosen.getCurrentCluster()?.name, "b");
  });
});

Deno.test("loadKubeConfig() falls back to the in-cluster service account", async () => {
  await withDir(async (dir) => {
    const sa = `${dir}/var/run/secrets/kubernetes.io/serviceaccount`;
    await Deno.mkdir(sa, { recursive: true });
    await Deno.writeTextFile(`${sa}/token`, "sa-token");
    await Deno.writeTextFile(`${sa}/namespace`, "operators\n");
    const kc = await loadKubeConfig({
      env: envOf({
        HOME: dir,
        KUBERNETES_SERVICE_HOST: "10.96.0.1",
        KUBERNETES_SERVICE_PORT: "443",
      }),
      inClusterRoot: dir,
    });
    assert.equal(kc.getCurrentCluster()?.server, "https://10.96.0.1:443");
    assert.equal(kc.getCurrentCluster()?.caFile, `${sa}/ca.crt`);
    assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, "operators");
  });
});

Deno.test("connectionFromKubeConfig() sends the token and uses the context's namespace", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/c`,
      kubeconfig("c", { server: "https://127.0.0.1:1/", token: "abc", namespace: "ns9" }),
    );
    const kc = await loadKubeConfig({ path: `${dir}/c` });
    const connection = await connectionFromKubeConfig(kc);
    try {
      assert.equal(connection.server, "https://127.0.0.1:1");
      assert.equal(connection.namespace, "ns9");
      assert.deepEqual(await connection.authHeaders(), { Authorization: "Bearer abc" });
      connection.invalidateAuth();
      assert.deepEqual(await connection.authHeaders(), { Authorization: "Bearer abc" });
    } finally {
      connection.close();
    }
  });
});

Deno.test("connectionFromKubeConfig() reports an unreadable client certificate in one line", async () => {
  await withDir(async (dir) => {
    const config = JSON.parse(kubeconfig("c", { server: "https://127.0.0.1:1" }));
    config.users[0].user = {
      "client-certificate": `${dir}/nope.crt`,
      "client-key": `${dir}/nope.key`,
    };
    await Deno.writeTextFile(`${dir}/c`, JSON.stringify(config));
    const kc = await loadKubeConfig({ path: `${dir}/c` });
    await rejectsWith(
      connectionFromKubeConfig(kc),
      /^Cannot get credentials of context "c": .*nope\.crt/,
    );
  });
});

function hasOpenssl(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const result = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!result.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(result.stderr)}`);
  }
}

Deno.test({
  name: "connectionFromKubeConfig() verifies the cluster CA and negotiates HTTP/1.1 only",
  ignore: !hasOpenssl(),
  async fn() {
    // Goal: a server that offers h2 and http/1.1 gets http/1.1 from us (HTTP/2 GOAWAY aborts
    // Deno). Method: a local TLS listener with a CA-signed certificate for 127.0.0.1 records the
    // ALPN protocol each handshake settled on.
    await withDir(async (dir) => {
      await openssl(dir, [
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
        "/CN=test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
      ]);
      await openssl(dir, [
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
      ]);
      await Deno.writeTextFile(
        `${dir}/ext`,
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
      );
      await openssl(dir, [
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "1",
        "-extfile",
        "ext",
      ]);
      const listener = Deno.listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert: await Deno.readTextFile(`${dir}/server.crt`),
        key: await Deno.readTextFile(`${dir}/server.key`),
        alpnProtocols: ["h2", "http/1.1"],
      });
      const port = (listener.addr as Deno.NetAddr).port;
      const accepted = (async () => {
        const conn = await listener.accept();
        const { alpnProtocol } = await conn.handshake();
        await conn.write(
          new TextEncoder().encode(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
          ),
        );
        conn.close();
        return alpnProtocol;
      })();
      const config = JSON.parse(kubeconfig("tls", { server: `https://127.0.0.1:${port}` }));
      config.clusters[0].cluster["certificate-authority"] = `${dir}/ca.crt`;
      await Deno.writeTextFile(`${dir}/config`, JSON.stringify(config));
      const connection = await connectionFromKubeConfig(
        await loadKubeConfig({ path: `${dir}/config` }),
      );
      try {
        const response = await connection.fetch(`${connection.server}/api`, {});
        assert.equal(await response.text(), "{}");
        assert.equal(await accepted, "http/1.1");
      } finally {
        connection.close();
        listener.close();
      }
    });
  },
});
