// Goal: inClusterConnection reads the service account like client-go's InClusterConfig: server
// from the env, namespace and token from files (token re-read after invalidateAuth), one-line
// errors outside a cluster.
// Method: a temporary service account directory with a self-signed CA-shaped PEM.

import assert from "node:assert/strict";
import { inClusterConnection } from "./in_cluster.ts";
import { KubeConfigError } from "./kubeconfig.ts";

/** A self-signed certificate made with openssl, or undefined without openssl. */
async function selfSigned(): Promise<string | undefined> {
  const dir = Deno.makeTempDirSync({ prefix: "pgop-ca-" });
  try {
    const out = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        `${dir}/key.pem`,
        "-out",
        `${dir}/ca.pem`,
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success ? Deno.readTextFileSync(`${dir}/ca.pem`) : undefined;
  } catch {
    return undefined;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const CA = await selfSigned();
if (CA === undefined) console.log("SKIP part of adapters/in_cluster_test.ts: no openssl");

function serviceAccount(): string {
  const dir = Deno.makeTempDirSync({ prefix: "pgop-sa-" });
  Deno.writeTextFileSync(`${dir}/token`, "token-1\n");
  Deno.writeTextFileSync(`${dir}/namespace`, "team-a\n");
  Deno.writeTextFileSync(`${dir}/ca.crt`, CA ?? "");
  return dir;
}

const env = (values: Record<string, string>) => (name: string) => values[name];

Deno.test("inClusterConnection: outside a cluster fails with one line", () => {
  assert.throws(
    () => inClusterConnection({ env: env({}) }),
    (error) => error instanceof KubeConfigError && !error.message.includes("\n"),
  );
});

Deno.test("inClusterConnection: a missing token file is named", () => {
  const dir = serviceAccount();
  Deno.removeSync(`${dir}/token`);
  assert.throws(
    () =>
      inClusterConnection({
        directory: dir,
        env: env({ KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" }),
      }),
    (error) => error instanceof KubeConfigError && error.message.includes(`${dir}/token`),
  );
  Deno.removeSync(dir, { recursive: true });
});

Deno.test({
  name: "inClusterConnection: server, namespace and a token re-read after invalidateAuth",
  ignore: CA === undefined,
}, async () => {
  const dir = serviceAccount();
  const connection = inClusterConnection({
    directory: dir,
    env: env({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" }),
  });
  try {
    assert.equal(connection.server, "https://[fd00::1]:6443");
    assert.equal(connection.namespace, "team-a");
    assert.deepEqual(await connection.authHeaders(), { Authorization: "Bearer token-1" });
    Deno.writeTextFileSync(`${dir}/token`, "token-2\n");
    assert.deepEqual(await connection.authHeaders(), { Authorization: "Bearer token-1" });
    connection.invalidateAuth();
    assert.deepEqual(await connection.authHeaders(), { Authorization: "Bearer token-2" });
  } finally {
    connection.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
