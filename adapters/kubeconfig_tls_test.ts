// Goal: with a CA in the kubeconfig, the client trusts exactly that CA: a server whose certificate
// another CA signed is refused before any request is sent, so the bearer token never leaves,
// even when that other CA is in the root store Deno would otherwise use (DENO_CERT, or the
// system store through DENO_TLS_CA_STORE=system and SSL_CERT_FILE).
// Method: two CAs made with openssl in a temporary directory; a TLS server on 127.0.0.1 with a
// certificate of the second CA, recording the Authorization headers it receives; each client in
// a fresh Deno process (the root store is built once per process) with its own environment.
import assert from "node:assert/strict";

const HAS_OPENSSL = (() => {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
}

async function makePki(dir: string): Promise<void> {
  for (const ca of ["ca1", "ca2"]) {
    await openssl(
      dir,
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${ca}.key`,
      "-out",
      `${ca}.pem`,
      "-days",
      "1",
      "-subj",
      `/CN=${ca}`,
    );
  }
  await openssl(
    dir,
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
  );
  await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=IP:127.0.0.1\n");
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca2.pem",
    "-CAkey",
    "ca2.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  );
}

const CLIENT = `
import { connectionFromKubeConfig, loadKubeConfig } from ${
  JSON.stringify(new URL("./kubeconfig.ts", import.meta.url).href)
};
const connection = await connectionFromKubeConfig(await loadKubeConfig({ path: Deno.args[0] }));
try {
  const response = await connection.fetch(connection.server + "/version", { headers: await connection.authHeaders() });
  console.log("answered " + response.status);
  await response.body?.cancel();
} catch (error) {
  console.log("refused " + String(error?.cause ?? error).split("\\n")[0]);
}
`;

function kubeconfig(server: string, caPem: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    "current-context": "c",
    clusters: [{ name: "c", cluster: { server, "certificate-authority-data": btoa(caPem) } }],
    users: [{ name: "c", user: { token: "the-bearer-token" } }],
    contexts: [{ name: "c", context: { cluster: "c", user: "c" } }],
  });
}

Deno.test({
  name:
    "connectionFromKubeConfig() trusts only the kubeconfig's CA: another CA's server never gets the token",
  ignore: !HAS_OPENSSL,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pgop-tls-test-" });
    await makePki(dir);
    const received: (string | null)[] = [];
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(`${dir}/server.pem`),
      key: await Deno.readTextFile(`${dir}/server.key`),
      onListen() {},
    }, (request) => {
      received.push(request.headers.get("authorization"));
      return Response.json({ major: "1" });
    });
    try {
      const url = `https://127.0.0.1:${server.addr.port}`;
      await Deno.writeTextFile(`${dir}/client.ts`, CLIENT);
      const ca1 = await Deno.readTextFile(`${dir}/ca1.pem`);
      const ca2 = await Deno.readTextFile(`${dir}/ca2.pem`);
      await Deno.writeTextFile(`${dir}/ca1.kubeconfig`, kubeconfig(url, ca1));
      await Deno.writeTextFile(`${dir}/ca2.kubeconfig`, kubeconfig(url, ca2));
      const client = async (config: string, env: Record<string, string>) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--allow-read",
            "--allow-env",
            "--allow-net=127.0.0.1",
            "--allow-sys",
            "--config",
            new URL("../deno.json", import.meta.url).pathname,
            `${dir}/client.ts`,
            `${dir}/${config}`,
          ],
          env: { NO_COLOR: "1", ...env },
          clearEnv: false,
          stdout: "piped",
          stderr: "piped",
        }).output();
        return new TextDecoder().decode(out.stdout).trim() +
          new TextDecoder().decode(out.stderr).trim();
      };
      // The kubeconfig names CA 1; the server's certificate is CA 2's.
      const cases: [string, Record<string, string>][] = [
        ["the default (Mozilla) roots", {}],
        ["CA 2 added through DENO_CERT", { DENO_CERT: `${dir}/ca2.pem` }],
        ["CA 2 in the system store", {
          DENO_TLS_CA_STORE: "system",
          SSL_CERT_FILE: `${dir}/ca2.pem`,
        }],
      ];
      for (const [what, env] of cases) {
        const answer = await client("ca1.kubeconfig", env);
        assert.match(answer, /^refused .*(UnknownIssuer|certificate)/i, `${what}: ${answer}`);
      }
      assert.deepEqual(received, [], "no request reached the server");
      // The control: with CA 2 in the kubeconfig the same server is trusted.
      assert.match(await client("ca2.kubeconfig", {}), /^answered 200/);
      assert.deepEqual(received, ["Bearer the-bearer-token"]);
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
