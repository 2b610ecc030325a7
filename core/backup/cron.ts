/**
 * Cron schedules, as a CronJob reads them: five fields (minute, hour, day of month, month, day of
 * week), each `*`, a value, a range `a-b`, a list `a,b`, and a step `x/n`; month and weekday names
 * (`jan`, `mon`); the macros `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily`
 * (`@midnight`) and `@hourly`. As in Vixie cron, when both day fields are restricted a day
 * matches either. Times are UTC: a schedule's slots are whole minutes.
 *
 * Pure: parsing returns a problem instead of throwing, and the slot searches are bounded.
 *
 * @module
 */

/** A parsed schedule: the allowed values of each field. */
export interface CronSchedule {
  /** The text it was parsed from. */
  readonly text: string;
  /** Allowed minutes, 0-59. */
  readonly minutes: ReadonlySet<number>;
  /** Allowed hours, 0-23. */
  readonly hours: ReadonlySet<number>;
  /** Allowed days of the month, 1-31. */
  readonly days: ReadonlySet<number>;
  /** Allowed months, 1-12. */
  readonly months: ReadonlySet<number>;
  /** Allowed weekdays, 0-6 (Sunday is 0; 7 is read as 0). */
  readonly weekdays: ReadonlySet<number>;
  /** Whether the day-of-month field was `*` or `?` (a step over it restricts). */
  readonly anyDay: boolean;
  /** Whether the day-of-week field was `*`. */
  readonly anyWeekday: boolean;
}

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  namesFrom?: number;
}

const FIELDS: FieldSpec[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS, namesFrom: 1 },
  { name: "day of week", min: 0, max: 7, names: WEEKDAYS, namesFrom: 0 },
];

/**
 * Parses a schedule, or says what is wrong with it.
 *
 * @example
 * ```ts
 * import { parseCron } from "./cron.ts";
 * const parsed = parseCron("*\/15 2 * * mon-fri");
 * console.assert(parsed.ok && parsed.schedule.minutes.size === 4);
 * console.assert(!parseCron("61 * * * *").ok);
 * ```
 */
export function parseCron(
  text: string,
): { ok: true; schedule: CronSchedule } | { ok: false; problem: string } {
  const trimmed = text.trim();
  const expanded = MACROS[trimmed.toLowerCase()] ?? trimmed;
  if (expanded.startsWith("@")) {
    return {
      ok: false,
      problem: `unknown macro "${trimmed}" (use @hourly, @daily, @weekly, @monthly or @yearly)`,
    };
  }
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5) {
    return {
      ok: false,
      problem:
        `"${text}" has ${parts.length} fields; a schedule has five: minute hour day-of-month month day-of-week`,
    };
  }
  const sets: Set<number>[] = [];
  for (let i = 0; i < 5; i++) {
    const field = FIELDS[i]!;
    const parsed = parseField(parts[i]!, field);
    if (typeof parsed === "string") return { ok: false, problem: parsed };
    sets.push(parsed);
  }
  const weekdays = sets[4]!;
  if (weekdays.delete(7)) weekdays.add(0);
  return {
    ok: true,
    schedule: {
      text: trimmed,
      minutes: sets[0]!,
      hours: sets[1]!,
      days: sets[2]!,
      months: sets[3]!,
      weekdays,
      anyDay: isStar(parts[2]!),
      anyWeekday: isStar(parts[4]!),
    },
  };
}

/** A day field that does not restrict (as Kubernetes' cron parser reads it: a step clears it). */
function isStar(text: string): boolean {
  return text === "*" || text === "?" || text === "*/1";
}

function parseField(text: string, field: FieldSpec): Set<number> | string {
  const out = new Set<number>();
  for (const item of text.split(",")) {
    const [rangeText, stepText, extra] = item.split("/");
    if (extra !== undefined || rangeText === undefined || rangeText === "") {
      return `invalid ${field.name} "${item}"`;
    }
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) {
        return `invalid step "${stepText}" in ${field.name} "${item}"`;
      }
      step = Number(stepText);
    }
    let low: number;
    let high: number;
    if (rangeText === "*" || rangeText === "?") {
      low = field.min;
      high = field.max === 7 ? 6 : field.max;
    } else {
      const [a, b, more] = rangeText.split("-");
      if (more !== undefined) return `invalid range "${rangeText}" in ${field.name}`;
      const from = value(a!, field);
      if (typeof from === "string") return from;
      low = from;
      if (b === undefined) high = stepText === undefined ? from : (field.max === 7 ? 6 : field.max);
      else {
        const to = value(b, field);
        if (typeof to === "string") return to;
        high = to;
      }
      if (high < low) return `range "${rangeText}" in ${field.name} goes backwards`;
    }
    for (let v = low; v <= high; v += step) out.add(v);
  }
  return out;
}

function value(text: string, field: FieldSpec): number | string {
  const lower = text.toLowerCase();
  const named = field.names?.indexOf(lower) ?? -1;
  if (named >= 0) return named + (field.namesFrom ?? 0);
  if (!/^\d+$/.test(text)) return `invalid ${field.name} "${text}"`;
  const n = Number(text);
  if (n < field.min || n > field.max) {
    return `${field.name} ${n} is out of range ${field.min}-${field.max}`;
  }
  return n;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** How far the searches look: eight years covers every schedule that has slots (29 February). */
const SEARCH_DAYS = 8 * 366;

function dayMatches(schedule: CronSchedule, dayStartMs: number): boolean {
  const date = new Date(dayStartMs);
  if (!schedule.months.has(date.getUTCMonth() + 1)) return false;
  const dom = schedule.days.has(date.getUTCDate());
  const dow = schedule.weekdays.has(date.getUTCDay());
  if (schedule.anyDay && schedule.anyWeekday) return true;
  if (schedule.anyDay) return dow;
  if (schedule.anyWeekday) return dom;
  return dom || dow;
}

/** The slots of one day (whole minutes, ascending), in epoch milliseconds. */
function daySlots(schedule: CronSchedule, dayStartMs: number): number[] {
  if (!dayMatches(schedule, dayStartMs)) return [];
  const out: number[] = [];
  const hours = [...schedule.hours].sort((a, b) => a - b);
  const minutes = [...schedule.minutes].sort((a, b) => a - b);
  for (const h of hours) for (const m of minutes) out.push(dayStartMs + (h * 60 + m) * MINUTE_MS);
  return out;
}

/**
 * The latest slot at or before `atMs`, or undefined when there is none in the eight years before.
 *
 * @example
 * ```ts
 * import { latestSlot, parseCron } from "./cron.ts";
 * const parsed = parseCron("0 2 * * *");
 * if (!parsed.ok) throw new Error(parsed.problem);
 * const at = Date.parse("2026-03-05T01:00:00Z");
 * console.assert(latestSlot(parsed.schedule, at) === Date.parse("2026-03-04T02:00:00Z"));
 * ```
 */
export function latestSlot(schedule: CronSchedule, atMs: number): number | undefined {
  let day = Math.floor(atMs / DAY_MS) * DAY_MS;
  for (let i = 0; i < SEARCH_DAYS; i++, day -= DAY_MS) {
    const slots = daySlots(schedule, day);
    for (let j = slots.length - 1; j >= 0; j--) if (slots[j]! <= atMs) return slots[j];
  }
  return undefined;
}

/** The first slot strictly after `afterMs`, or undefined when there is none in eight years. */
export function nextSlot(schedule: CronSchedule, afterMs: number): number | undefined {
  let day = Math.floor(afterMs / DAY_MS) * DAY_MS;
  for (let i = 0; i < SEARCH_DAYS; i++, day += DAY_MS) {
    for (const slot of daySlots(schedule, day)) if (slot > afterMs) return slot;
  }
  return undefined;
}

/**
 * How many slots lie strictly after `afterMs` and strictly before `beforeMs` (the slots a late
 * run skipped). Counts day by day, so a long gap costs one step per day.
 */
export function slotsBetween(schedule: CronSchedule, afterMs: number, beforeMs: number): number {
  if (beforeMs <= afterMs) return 0;
  let count = 0;
  const first = Math.floor(afterMs / DAY_MS) * DAY_MS;
  const limit = Math.min(beforeMs, first + SEARCH_DAYS * DAY_MS);
  for (let day = first; day < limit; day += DAY_MS) {
    if (day > afterMs && day + DAY_MS <= beforeMs) {
      count += dayMatches(schedule, day) ? schedule.hours.size * schedule.minutes.size : 0;
      continue;
    }
    for (const slot of daySlots(schedule, day)) if (slot > afterMs && slot < beforeMs) count++;
  }
  return count;
}
