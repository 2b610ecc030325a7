// Goal: the real node's volume provisioner (scripts/controlplane/provisioner.sh) gives each claim a
// filesystem of the claim's size, grows it online when the claim asks for more (while a file on it
// is open, keeping its content), and leaves no mount, loop device or image behind: neither when a
// claim is deleted nor when node-down.sh cleans up after a provisioner that died; it never touches
// a loop device it did not make. Against a control plane it provisions a `local` PV for a claim of
// its class and, when the claim's request grows, the PV's capacity and the claim's status capacity
// follow, with no resize condition left.
// Method: its bash functions sourced (PGOP_PROVISIONER_LIB=1) on real loop devices, as root; then
// the script itself against the kwok control plane (PGOP_KUBECONFIG) with a StorageClass of its
// own and a claim whose selected node is set by hand. No real node is needed.
import assert from "node:assert/strict";
import { KUBECONFIG, kubectl, kubectlApply, kubectlOk, waitFor } from "../integration/support.ts";

const SCRIPT = new URL("../../scripts/controlplane/provisioner.sh", import.meta.url).pathname;
const MI = 1 << 20;
const decoder = new TextDecoder();

/** Runs bash with the provisioner's functions defined; never throws for a non-zero exit. */
async function lib(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("bash", {
    args: ["-c", `source "${SCRIPT}"\n${script}`],
    env: { PGOP_PROVISIONER_LIB: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** What kind of volume this host makes (`provisioner.sh --probe`), or why it makes none. */
async function probe(): Promise<{ kind: string; reason: string }> {
  if (Deno.uid() !== 0) return { kind: "none", reason: "not root (loop devices need root)" };
  const dir = await Deno.makeTempDir({ prefix: "pgop-volprobe-" });
  try {
    const out = await new Deno.Command("bash", { args: [SCRIPT, "--probe", dir], stdout: "piped" })
      .output();
    const line = decoder.decode(out.stdout).trim();
    const space = line.indexOf(" ");
    return { kind: line.slice(0, space), reason: line.slice(space + 1) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const PROBE = await probe();
const GROWS = PROBE.kind === "xfs" || PROBE.kind === "ext4";
if (!GROWS) {
  console.log(
    `provisioner volume suites skipped: volumes here are "${PROBE.kind}" (${PROBE.reason}); they need root, loop devices and XFS (xfsprogs) or ext4 with CAP_SYS_RESOURCE`,
  );
}

/** Loop devices whose backing file is under `dir`. */
async function loopsUnder(dir: string): Promise<string[]> {
  const out = await new Deno.Command("losetup", {
    args: ["-l", "-n", "-O", "NAME,BACK-FILE"],
    stdout: "piped",
  }).output();
  return decoder.decode(out.stdout).split("\n").filter((l) => l.includes(` ${dir}/`));
}

/** Mount points under `dir`. */
async function mountsUnder(dir: string): Promise<string[]> {
  // Deno may not read /proc/self without --allow-all; a subprocess shares the mount namespace.
  const info = (await lib("cat /proc/self/mountinfo")).stdout;
  return info.split("\n").map((l) => l.split(" ")[4] ?? "").filter((m) => m.startsWith(`${dir}/`));
}

/** The size in bytes of the filesystem mounted at `path`, as df sees it. */
async function fsSize(path: string): Promise<number> {
  const out = await lib(`stat -f -c '%b %S' "${path}"`);
  const [blocks, size] = out.stdout.trim().split(" ").map(Number);
  return blocks! * size!;
}

Deno.test("provisioner: quantities are read as bytes, and what is not a size is refused", async () => {
  const cases: [string, string][] = [
    ["1Gi", "1073741824"],
    ["64Mi", "67108864"],
    ["2Ti", String(2 * 2 ** 40)],
    ["1G", "1000000000"],
    ["500M", "500000000"],
    ["3k", "3000"],
    ["1000", "1000"],
    ["007Mi", String(7 * MI)],
    ["1.5Gi", "1610612736"],
    ["0.5k", "500"],
    // Rounded up, as Kubernetes reads a quantity as an integer.
    ["1.5", "2"],
    ["4Ei", String(4n * 2n ** 60n)],
  ];
  const refused = [
    "",
    "1e9",
    "1500m",
    "-1Gi",
    " 1Gi",
    "1Gii",
    "1Xi",
    "8Ei",
    "1.0000000000000000001",
  ];
  const script = [...cases.map(([q]) => q), ...refused]
    .map((q) => `quantity_bytes '${q}' || echo refused`).join("\n");
  const out = await lib(script);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(
    out.stdout.trim().split("\n"),
    [...cases.map(([, b]) => b), ...refused.map(() => "refused")],
  );
});

Deno.test({
  name:
    "provisioner: a volume is a filesystem of its size that grows online with a file open, and removing it leaves nothing",
  ignore: !GROWS,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pgop-volumes-" });
    const path = `${dir}/pvc-grow`;
    let file: Deno.FsFile | undefined;
    try {
      let out = await lib(`volume_create ${PROBE.kind} "${path}" ${64 * MI}`);
      assert.equal(out.code, 0, out.stderr);
      // A filesystem's own metadata takes a little: df shows between 85% and 100% of the size.
      const before = await fsSize(path);
      assert.ok(before > 0.85 * 64 * MI && before <= 64 * MI, `64Mi volume is ${before} bytes`);
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o755);
      // Making it again keeps the volume and what is on it.
      file = await Deno.open(`${path}/data`, { read: true, write: true, create: true });
      await file.write(new TextEncoder().encode("kept across the resize"));
      out = await lib(`volume_create ${PROBE.kind} "${path}" ${64 * MI}`);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(await fsSize(path), before);

      out = await lib(`volume_grow "${path}" ${128 * MI}`);
      assert.equal(out.code, 0, out.stderr);
      const after = await fsSize(path);
      assert.ok(after > 0.85 * 128 * MI && after <= 128 * MI, `128Mi volume is ${after} bytes`);
      // Growing to the size it has already is a no-op that succeeds.
      out = await lib(`volume_grow "${path}" ${128 * MI}`);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(await fsSize(path), after);
      await file.seek(0, Deno.SeekMode.Start);
      const buf = new Uint8Array(64);
      const n = await file.read(buf);
      assert.equal(decoder.decode(buf.subarray(0, n ?? 0)), "kept across the resize");
      file.close();
      file = undefined;

      out = await lib(`volume_remove "${dir}" "${path}"`);
      assert.equal(out.code, 0, out.stderr);
      assert.deepEqual(await mountsUnder(dir), []);
      assert.deepEqual(await loopsUnder(dir), []);
      assert.deepEqual([...Deno.readDirSync(dir)], []);
    } finally {
      file?.close();
      await lib(`volumes_cleanup "${dir}"`);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "provisioner: a plain directory cannot grow, and saying so is one line with exit status 2",
  ignore: Deno.uid() !== 0,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pgop-volumes-" });
    try {
      const out = await lib(
        `volume_create dir "${dir}/pvc-d" ${64 * MI} && volume_grow "${dir}/pvc-d" ${128 * MI}`,
      );
      assert.equal(out.code, 2);
      assert.equal(
        out.stderr,
        `${dir}/pvc-d is a plain directory (no loop devices on this node): it cannot grow\n`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "provisioner: --cleanup unmounts every volume and detaches its loop device, even a busy one, and no other",
  ignore: !GROWS,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pgop-volumes-" });
    const other = await Deno.makeTempDir({ prefix: "pgop-not-volumes-" });
    let foreign = "";
    let file: Deno.FsFile | undefined;
    try {
      const out = await lib(
        `volume_create ${PROBE.kind} "${dir}/pvc-a" ${
          64 * MI
        } && volume_create ${PROBE.kind} "${dir}/pvc-b" ${64 * MI}`,
      );
      assert.equal(out.code, 0, out.stderr);
      // A loop device that is not the provisioner's: an image outside its directory.
      foreign = (await lib(
        `truncate -s 1M "${other}/pvc-x.img" && losetup --find --show "${other}/pvc-x.img"`,
      ))
        .stdout.trim();
      assert.match(foreign, /^\/dev\/loop\d+$/);
      // A file held open keeps one volume busy, as a pod that outlives its node would.
      file = await Deno.open(`${dir}/pvc-b/open`, { write: true, create: true });
      assert.equal((await loopsUnder(dir)).length, 2);

      const cleanup = await new Deno.Command("bash", {
        args: [SCRIPT, "--cleanup", dir],
        stderr: "piped",
      }).output();
      assert.equal(cleanup.code, 0, decoder.decode(cleanup.stderr));
      assert.deepEqual(await mountsUnder(dir), []);
      file.close();
      file = undefined;
      // The busy one detaches once its last user has gone (the kernel's autoclear).
      await waitFor(
        "the busy loop device to detach",
        async () => (await loopsUnder(dir)).length === 0,
        10_000,
      );
      assert.equal(
        (await loopsUnder(other)).length,
        1,
        "the foreign loop device is still attached",
      );
    } finally {
      file?.close();
      await lib(`volumes_cleanup "${dir}"`);
      if (foreign) await lib(`losetup -d ${foreign}`);
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(other, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "provisioner: against a control plane, a claim gets a local PV of its size, and a larger request grows the PV, the claim's capacity and the filesystem",
  ignore: !GROWS || !KUBECONFIG,
  async fn() {
    const suffix = crypto.randomUUID().slice(0, 8);
    const cls = `pgop-volexp-${suffix}`;
    const claim = `volexp-${suffix}`;
    const dir = await Deno.makeTempDir({ prefix: "pgop-volumes-" });
    const kubectlPath = Deno.env.get("PGOP_KUBECTL");
    const path = kubectlPath
      ? `${kubectlPath.slice(0, kubectlPath.lastIndexOf("/"))}:${Deno.env.get("PATH")}`
      : Deno.env.get("PATH") ?? "";
    let provisioner: Deno.ChildProcess | undefined;
    try {
      await kubectlOk("get", "node", "kwok-node-1");
      const applied = await kubectlApply(`
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: ${cls}}
provisioner: pgop.local/${cls}
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: ${claim}
  namespace: default
  annotations: {volume.kubernetes.io/selected-node: kwok-node-1}
spec:
  storageClassName: ${cls}
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
`);
      assert.equal(applied.code, 0, applied.stderr);
      provisioner = new Deno.Command("bash", {
        args: [SCRIPT, dir, cls, `pgop.local/${cls}`],
        env: { KUBECONFIG: KUBECONFIG!, PATH: path },
        stdout: "null",
        stderr: "null",
      }).spawn();

      const pvc = async () => JSON.parse(await kubectlOk("get", "pvc", claim, "-o", "json"));
      const bound = await waitFor("the claim to be bound", async () => {
        const c = await pvc();
        return c.status?.phase === "Bound" && c;
      });
      const pvName: string = bound.spec.volumeName;
      assert.equal(pvName, `pvc-${bound.metadata.uid}`);
      const pv = JSON.parse(await kubectlOk("get", "pv", pvName, "-o", "json"));
      assert.equal(pv.spec.capacity.storage, "64Mi");
      assert.equal(pv.spec.local.path, `${dir}/${pvName}`);
      assert.deepEqual(
        pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values,
        [
          "kwok-node-1",
        ],
      );
      assert.equal(bound.status.capacity.storage, "64Mi");
      assert.ok((await fsSize(`${dir}/${pvName}`)) <= 64 * MI);

      await kubectlOk(
        "patch",
        "pvc",
        claim,
        "--type=merge",
        "-p",
        '{"spec":{"resources":{"requests":{"storage":"128Mi"}}}}',
      );
      const grown = await waitFor("the claim's capacity to reach 128Mi", async () => {
        const c = await pvc();
        return c.status?.capacity?.storage === "128Mi" && c;
      });
      assert.equal(
        JSON.parse(await kubectlOk("get", "pv", pvName, "-o", "json")).spec.capacity.storage,
        "128Mi",
      );
      assert.deepEqual(grown.status.conditions ?? [], [], "no resize condition left");
      assert.equal(grown.status.allocatedResourceStatuses, undefined);
      assert.equal(grown.status.allocatedResources.storage, "128Mi");
      const size = await fsSize(`${dir}/${pvName}`);
      assert.ok(size > 0.85 * 128 * MI && size <= 128 * MI, `the filesystem is ${size} bytes`);
      // kube-controller-manager's expand controller leaves a `local` volume to an external
      // resizer (an Event, nothing else); the provisioner records its own.
      const reasons = await waitFor("both resize events", async () => {
        const events = JSON.parse(
          await kubectlOk(
            "get",
            "events",
            "--field-selector",
            `involvedObject.name=${claim}`,
            "-o",
            "json",
          ),
        );
        const seen = new Set(events.items.map((e: { reason: string }) => e.reason));
        return seen.has("ExternalExpanding") && seen.has("VolumeResizeSuccessful") && seen;
      });
      assert.ok(!reasons.has("VolumeResizeFailed"));

      // Deleting the claim deletes the volume, then the PV.
      await kubectlOk("delete", "pvc", claim, "--wait=false");
      await waitFor(
        "the PV to be deleted",
        async () => (await kubectl("get", "pv", pvName)).code !== 0,
      );
      assert.deepEqual(await mountsUnder(dir), []);
      assert.deepEqual(await loopsUnder(dir), []);
      assert.deepEqual([...Deno.readDirSync(dir)], []);
    } finally {
      if (provisioner) {
        provisioner.kill("SIGTERM");
        await provisioner.status;
      }
      await kubectl("delete", "pvc", claim, "--ignore-not-found", "--wait=false");
      const pvs = await kubectl(
        "get",
        "pv",
        "-o",
        `jsonpath={range .items[?(@.spec.storageClassName=="${cls}")]}{.metadata.name} {end}`,
      );
      for (const name of pvs.stdout.split(" ").filter(Boolean)) {
        await kubectl("delete", "pv", name, "--ignore-not-found", "--wait=false");
      }
      await kubectl("delete", "storageclass", cls, "--ignore-not-found");
      await lib(`volumes_cleanup "${dir}"`);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
