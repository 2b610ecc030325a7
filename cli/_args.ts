/**
 * Command-line parsing shared by the commands: `parseArgs` with bad input as one
 * {@link InputError} line, and whole-number options.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { InputError } from "./input_error.ts";

/** The options a command takes, as `parseArgs` describes them. */
export type OptionSpec = Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean }
>;

/** Parses `args` strictly (no positionals); a bad flag is an {@link InputError}. */
export function parse(args: string[], options: OptionSpec): { values: Record<string, unknown> } {
  try {
    return parseArgs({
      args: withNegativeValues(args, options),
      options,
      allowPositionals: false,
      strict: true,
    });
  } catch (error) {
    throw new InputError(error instanceof Error ? error.message.split("\n")[0]! : String(error));
  }
}

/** The whole number an option holds, or `fallback` when it is absent. */
export function intOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== "string" || !/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new InputError(`${name} must be a whole number, not ${JSON.stringify(value)}`);
  }
  return n;
}

/** The files named by `-f`, at least one. */
export function fileOptions(value: unknown, command: string): string[] {
  const files = (value ?? []) as string[];
  if (files.length === 0) throw new InputError(`${command} needs at least one -f FILE`);
  return files;
}

/**
 * Joins `--name -1` into `--name=-1` for string options, so that a negative number reaches the
 * option's own check ("must be a whole number") instead of parseArgs' "argument is ambiguous".
 */
function withNegativeValues(args: string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const name = arg.startsWith("--") ? arg.slice(2) : undefined;
    if (
      name !== undefined && options[name]?.type === "string" && next !== undefined &&
      /^-[\d.]/.test(next)
    ) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}
