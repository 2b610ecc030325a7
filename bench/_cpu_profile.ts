/**
 * A CPU profile of a Deno process started with `--inspect=127.0.0.1:PORT`, taken through the V8
 * inspector protocol (Deno has no `--cpu-prof`): {@link CpuProfiler.start} and
 * {@link CpuProfiler.stop}, then {@link summarize} ranks self time by function and by file.
 *
 * @module
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** The profile V8 returns (`Profiler.stop`). */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** A connection to one process's inspector. */
export class CpuProfiler {
  #socket: WebSocket;
  #next = 1;
  #pending = new Map<number, (result: unknown) => void>();

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (e) => {
      const message = JSON.parse(String(e.data));
      const resolve = this.#pending.get(message.id);
      if (resolve) {
        this.#pending.delete(message.id);
        resolve(message.result ?? message.error);
      }
    };
  }

  /** Connects to the inspector on 127.0.0.1:`port` (retrying for up to 10 s). */
  static async connect(port: number): Promise<CpuProfiler> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
        const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
        await new Promise((resolve, reject) => {
          socket.onopen = resolve;
          socket.onerror = reject;
        });
        return new CpuProfiler(socket);
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  #send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#next++;
    this.#socket.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve) => this.#pending.set(id, resolve));
  }

  /** Starts sampling every `intervalUs` microseconds. */
  async start(intervalUs = 1000): Promise<void> {
    await this.#send("Profiler.enable");
    await this.#send("Profiler.setSamplingInterval", { interval: intervalUs });
    await this.#send("Profiler.start");
  }

  /** Stops sampling and returns the profile; closes the connection. */
  async stop(): Promise<CpuProfile> {
    const result = await this.#send("Profiler.stop") as { profile: CpuProfile };
    this.#socket.close();
    return result.profile;
  }
}

/** Self time by function and by file, the top `top` of each, as printable lines. */
export function summarize(profile: CpuProfile, top = 20): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    const file = frame.url === "" ? `(${frame.functionName || "native"})` : shortUrl(frame.url);
    const fn = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  const rank = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) =>
      `  ${(100 * us / total).toFixed(1).padStart(5)} %  ${
        (us / 1000).toFixed(0).padStart(6)
      } ms  ${k}`
    );
  return [
    `CPU profile: ${(total / 1e6).toFixed(2)} s sampled`,
    "self time by file:",
    ...rank(byFile),
    "self time by function:",
    ...rank(byFunction),
  ];
}

function shortUrl(url: string): string {
  const root = new URL("../", import.meta.url).href;
  if (url.startsWith(root)) return url.slice(root.length);
  const npm = /\/npm\/registry\.npmjs\.org\/(.+)$/.exec(url);
  if (npm) return `npm:${npm[1]}`;
  return url.replace(/^ext:/, "ext:");
}
