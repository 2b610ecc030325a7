/**
 * The text of `--help`: every command and its options, and the exit codes.
 *
 * @module
 */

/** What `main.ts --help` prints. */
export const USAGE = `Usage: deno task <command> [options]

Commands:
  demo                         apply examples/postgresdb.yaml to a simulated cluster and show it
      --failover               three instances: the primary loses the API server, a standby
                               takes over, then a switchover back
  sim -f FILE [-f FILE ...]    apply manifests to a simulated cluster and run the operator
      --seed N                 seed of every random choice (default 1)
      --output table|json      what to print (default table)
      --max-virtual-seconds N  give up after N virtual seconds (default 600)
      --faults none|light|heavy  inject faults (API errors, lost answers, watch drops, stale
                               lists, cache lag, operator crashes) and run every checker
      --faults-file FILE       the same with a custom schedule (JSON: faults, crashRate, steps)
  start                        run the operator against the current kubeconfig (JSON logs)
      --kubeconfig PATH --context NAME --namespace NS --log-level debug|info|warn|error
      --metrics-bind-address ADDR        serve /metrics on host:port (:port = all; 0 = off, default)
      --health-probe-bind-address ADDR   serve /healthz and /readyz (may equal the metrics address)
      --max-concurrent-reconciles N      PostgresDBs reconciled at once (default 4)
      --leader-elect                     reconcile only while holding the leader Lease
      --leader-election-namespace NS     the Lease's namespace (default POD_NAMESPACE, else the
                                         kubeconfig's namespace)
      --leader-election-id NAME          the Lease's name (default postgres-operator-leader)
      --leader-election-lease-duration D, --leader-election-renew-deadline D,
      --leader-election-retry-period D   e.g. 15s, 10s, 2s (the defaults), or 1500ms
  bundle [IMG=IMAGE]           print the in-cluster install (CRDs, RBAC, Deployment) as one YAML
  manifests [--check]          write deploy/*.yaml from deploy/manifests.ts (or check them)
  image IMG=IMAGE              build the operator image here, no Docker (scripts/images)
  deploy IMG=IMAGE [kubectl apply flags]  install the operator with that image (kubectl apply)
  install-crds                 install the CRDs into the current kubeconfig's cluster
  plan -f FILE [-f FILE ...]   print what the operator would do for these PostgresDBs
      --cluster                against what the current kubeconfig's cluster holds (writes nothing)
  crds [--check]               write crds/*.yaml from crds/postgresdb.ts (or check them)

Exit codes: 0 done, 1 not converged in time, 2 bad input.`;
