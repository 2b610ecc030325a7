/**
 * Running PostgreSQL's tools: each command is the prefix (e.g. `setpriv --reuid=999 ...`, empty
 * in a pod that already runs as the postgres user) followed by the tool's path and arguments, in
 * the C locale, with a deadline.
 *
 * @module
 */

/** How to run a tool. */
export interface ToolRunner {
  /** The directory of PostgreSQL's binaries. */
  bin: string;
  /** A command that runs the rest as PostgreSQL's user (it must `exec`, as `setpriv` does). */
  commandPrefix: readonly string[];
}

/** What a finished tool said. */
export interface ToolResult {
  /** The exit code (-1 when it was killed at its deadline). */
  code: number;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
}

/** The command line of `tool` with `args`, prefix included. */
export function toolCommand(runner: ToolRunner, tool: string, args: readonly string[]): string[] {
  return [...runner.commandPrefix, `${runner.bin}/${tool}`, ...args];
}

/** Runs `tool` to its end, or kills it after `timeoutMs`. */
export async function runTool(
  runner: ToolRunner,
  tool: string,
  args: readonly string[],
  options: { env?: Record<string, string>; stdin?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<ToolResult> {
  const [command, ...rest] = toolCommand(runner, tool, args);
  const child = new Deno.Command(command!, {
    args: rest,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: { LC_ALL: "C", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }, options.timeoutMs ?? 60_000);
  try {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    }
    const output = await child.output();
    const decoder = new TextDecoder();
    return {
      code: output.signal === null ? output.code : -1,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** The last line of a tool's error output, for a one-line message. */
export function lastLine(text: string): string {
  const lines = text.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  return lines.at(-1) ?? "no output";
}
