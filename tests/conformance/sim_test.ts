// The API-semantics conformance suite on the simulated cluster: every case of cases.ts on a fresh
// SimCluster. The same cases run against a real kube-apiserver in real_test.ts; a case that passes
// on one and fails on the other is a fidelity bug (or a documented difference, skipped by name).

import { CASES, statusFor } from "./cases.ts";
import { freshSimEnv } from "./env.ts";

for (const c of CASES) {
  const { ignore, name } = statusFor(c, "sim");
  Deno.test({
    name: `conformance (sim): ${name}`,
    ignore,
    async fn() {
      await c.run(await freshSimEnv());
    },
  });
}
