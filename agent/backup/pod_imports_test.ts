import assert from "node:assert/strict";
import { RUNNER_IMPORT_MAP } from "../../core/backup/runner_env.ts";
import { AGENT_MOUNT } from "../../core/postgres/statefulset.ts";

const map = JSON.parse(Deno.readTextFileSync(new URL("./pod_imports.json", import.meta.url)));
/** Where `deno install` puts aws4fetch's ESM build (nodeModulesDir auto), here and in the image. */
const ESM = new URL("../../node_modules/aws4fetch/dist/aws4fetch.esm.mjs", import.meta.url);

Deno.test("pod_imports.json: maps aws4fetch to the copy under the agent mount's vendor/", () => {
  assert.deepEqual(Object.keys(map.imports), ["aws4fetch"]);
  const resolved = new URL(map.imports.aws4fetch, `file://${RUNNER_IMPORT_MAP}`);
  assert.equal(resolved.pathname, `${AGENT_MOUNT}/app/vendor/aws4fetch.esm.mjs`);
});

Deno.test("pod_imports.json: the ESM file copied into the pod imports nothing of its own", () => {
  const source = Deno.readTextFileSync(ESM);
  assert.doesNotMatch(
    source,
    /^\s*import[\s{*"']|\bimport\s*\(|^\s*export\s[^;]*\bfrom\b|\brequire\s*\(/m,
  );
  assert.match(source, /export \{ AwsClient, AwsV4Signer \};/);
});
