/**
 * Structured logging: one JSON object per line in production, nothing in simulations unless
 * asked. Kept to an interface so a caller can plug in its own (LogTape, pino).
 *
 * @module
 */

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** A structured logger. */
export interface Logger {
  /** Records one message at `level` with structured fields. */
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger that drops everything. */
export const silentLogger: Logger = { log() {} };

/** Options of {@link jsonLogger}. */
export interface JsonLoggerOptions {
  /** The lowest level written. @default "info" */
  level?: LogLevel;
  /** Where lines go. @default console.error */
  write?: (line: string) => void;
  /** The time source for the `ts` field. @default the system clock */
  nowMs?: () => number;
}

/** A logger writing one JSON object per line: `{"ts","level","msg",...fields}`. */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const write = options.write ?? ((line: string) => console.error(line));
  const nowMs = options.nowMs ?? (() => Date.now());
  return {
    log(level, message, fields) {
      if (ORDER[level] < min) return;
      write(JSON.stringify({
        ts: new Date(nowMs()).toISOString(),
        level,
        msg: message,
        ...fields,
      }));
    },
  };
}

/** A logger that keeps lines in memory, for tests. */
export function memoryLogger(): Logger & { lines: { level: LogLevel; message: string }[] } {
  const lines: { level: LogLevel; message: string }[] = [];
  return {
    lines,
    log(level, message) {
      lines.push({ level, message });
    },
  };
}

/** The message of an unknown thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
