// The API-semantics conformance suite against a real kube-apiserver: every case of cases.ts, each
// in a namespace of its own (`conf-<run>-<n>`, deleted afterwards). Skipped unless
// PGOP_KUBECONFIG names a kubeconfig, e.g. the one scripts/controlplane/up.sh prints.

import { CASES, statusFor } from "./cases.ts";
import { withRealEnv } from "./env.ts";

const KUBECONFIG = Deno.env.get("PGOP_KUBECONFIG");
if (!KUBECONFIG) {
  console.log(
    "tests/conformance/real_test.ts: skipped, PGOP_KUBECONFIG is not set; run it with " +
      "PGOP_KUBECONFIG=... deno task test tests/conformance/ " +
      "(scripts/controlplane/up.sh starts a control plane and prints its kubeconfig)",
  );
}

const RUN = crypto.randomUUID().slice(0, 8);

CASES.forEach((c, index) => {
  const { ignore, name } = statusFor(c, "real");
  Deno.test({
    name: `conformance (real): ${name}`,
    ignore: ignore || !KUBECONFIG,
    async fn() {
      await withRealEnv(KUBECONFIG!, `conf-${RUN}-${index}`, (env) => c.run(env));
    },
  });
});
