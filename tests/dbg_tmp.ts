import { runSchedule } from "../sim/schedule.ts";
import { postgresSubject } from "./property/subject.ts";
const sched = JSON.parse(Deno.readTextFileSync(Deno.args[0] ?? "/tmp/sched.json"));
const report = await runSchedule(sched, postgresSubject(undefined));
const h = report.harness as any;
console.log(JSON.stringify(report.violations).slice(0, 300));
for (const db of h.objects().filter((o: any) => o.kind === "PostgresDB")) {
  console.log(db.metadata.name, JSON.stringify({spec: db.spec, t: db.status?.targetPrimary, term: db.status?.primaryTerm, f: db.status?.failover, ready: db.status?.ready, inst: db.status?.instances, cond: db.status?.conditions?.map((c: any) => `${c.type}=${c.status}:${c.reason}:${c.message}`)}));
}
const dp = h.cluster.dataPlane;
for (const p of h.objects().filter((o: any) => o.kind === "Pod")) { const i = dp.instanceOfPod("default", p.metadata.name); console.log(p.metadata.name, p.status?.phase, JSON.stringify(p.status?.conditions?.find((c:any)=>c.type==="Ready")?.status), p.metadata.labels?.["controller-revision-hash"], i?.process, i?.role, JSON.stringify(i?.walReceiver), i?.dataRole, i?.timeline, p.metadata.labels?.["database.thegeekyway.com/role"], p.metadata.annotations?.["database.thegeekyway.com/instance-report"]?.slice(0,300)); }
for (const s of h.objects().filter((o: any) => o.kind === "StatefulSet")) console.log(s.metadata.name, s.spec.replicas, JSON.stringify(s.status));
for (const s of h.objects().filter((o: any) => o.kind === "PersistentVolumeClaim")) console.log(s.metadata.name, s.metadata.uid, s.status?.phase);
const evs = h.objects().filter((o: any) => o.kind === "Event").sort((a:any,b:any)=>Number(a.metadata.resourceVersion)-Number(b.metadata.resourceVersion)).slice(-12);
for (const e of evs) console.log(e.reason, (e.message ?? "").slice(0, 220), e.count);
