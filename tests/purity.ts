/**
 * The purity rule of `core/`, as a function a test can feed any text: a module of the core
 * imports only other modules of the core (no package, no URL, no relative path out of `core/`) and
 * never reaches the clock, randomness, timers, the network or `Deno` (time and randomness come in
 * as values: `nowMs`, a `Random`). Comments are not code: a doc example may say anything.
 *
 * `deno task check:pure` checks the other half: the core type-checks without Deno's types
 * (`pure.deno.json`, `lib: ["dom", "esnext"]`).
 *
 * @module
 */

/** What a core module may not mention in its code, and why. */
export const FORBIDDEN: readonly { pattern: RegExp; what: string }[] = [
  { pattern: /\bDeno\s*\./, what: "Deno (the runtime)" },
  { pattern: /\bDate\s*\.\s*now\b/, what: "Date.now (the clock)" },
  { pattern: /\bnew\s+Date\s*\(\s*\)/, what: "new Date() (the clock)" },
  { pattern: /\bMath\s*\.\s*random\b/, what: "Math.random (randomness)" },
  { pattern: /\bsetTimeout\b/, what: "setTimeout (a timer)" },
  { pattern: /\bsetInterval\b/, what: "setInterval (a timer)" },
  { pattern: /\bfetch\s*\(/, what: "fetch( (the network)" },
  { pattern: /\bcrypto\s*\./, what: "crypto. (randomness)" },
  { pattern: /\bperformance\s*\./, what: "performance. (the clock)" },
];

/**
 * The problems of one core module: `path` is its path from the repository root (`core/x.ts`),
 * `text` its source. Empty when the module is pure.
 */
export function purityProblems(path: string, text: string): string[] {
  const { code, blanked } = stripComments(text);
  const problems: string[] = [];
  for (const specifier of importSpecifiers(code)) {
    const target = resolveRelative(path, specifier);
    if (target === undefined) {
      problems.push(`${path} imports ${JSON.stringify(specifier)}: not a module of core/`);
    } else if (!target.startsWith("core/")) {
      problems.push(`${path} imports ${JSON.stringify(specifier)}: ${target} is outside core/`);
    }
  }
  for (const { pattern, what } of FORBIDDEN) {
    const match = pattern.exec(blanked);
    if (match) {
      const line = blanked.slice(0, match.index).split("\n").length;
      problems.push(`${path}:${line} uses ${what}`);
    }
  }
  return problems;
}

/** Every module specifier of static imports, re-exports and dynamic imports. */
function importSpecifiers(code: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\b[^;'"`]*?\bfrom\s*(["'])([^"']+)\1/g,
    /\bimport\s*(["'])([^"']+)\1/g,
    /\bimport\s*\(\s*(["'])([^"']+)\1/g,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) found.push(match[2]!);
  }
  // A dynamic import of a computed specifier cannot be checked: it is a problem by itself.
  if (/\bimport\s*\(\s*[^"'\s]/.test(code)) found.push("<computed>");
  return found;
}

/** `specifier` resolved against `path`, or undefined when it is not a relative path. */
function resolveRelative(path: string, specifier: string): string | undefined {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return undefined;
  const parts = path.split("/").slice(0, -1);
  for (const part of specifier.split("/")) {
    if (part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) return `../${specifier}`;
      parts.pop();
    } else parts.push(part);
  }
  return parts.join("/");
}

/**
 * The source without comments (`code`, strings kept for the import specifiers) and, in addition,
 * with string contents blanked (`blanked`, for the forbidden names); line breaks are kept so that
 * line numbers stay right. Template literals keep their `${...}` expressions as code.
 */
function stripComments(text: string): { code: string; blanked: string } {
  let code = "";
  let blanked = "";
  const emit = (c: string, inString: boolean) => {
    code += c;
    blanked += inString && c !== "\n" ? " " : c;
  };
  // A stack of template literals whose `${` expressions are open, with their brace depth.
  const templates: number[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      for (const k of text.slice(i, stop)) if (k === "\n") emit("\n", false);
      i = stop;
    } else if (c === '"' || c === "'") {
      emit(c, false);
      i++;
      while (i < text.length && text[i] !== c && text[i] !== "\n") {
        if (text[i] === "\\") emit(text[i++]!, true);
        if (i < text.length) emit(text[i++]!, true);
      }
      if (i < text.length) emit(text[i++]!, false);
    } else if (c === "`" || (c === "}" && templates.at(-1) === 0)) {
      if (c === "}") templates.pop();
      emit(c, false);
      i++;
      while (i < text.length && text[i] !== "`" && !(text[i] === "$" && text[i + 1] === "{")) {
        if (text[i] === "\\") emit(text[i++]!, true);
        if (i < text.length) emit(text[i++]!, true);
      }
      if (text[i] === "$") {
        emit("${", false);
        i += 2;
        templates.push(0);
      } else if (i < text.length) emit(text[i++]!, false);
    } else {
      if (templates.length > 0 && c === "{") templates[templates.length - 1]!++;
      if (templates.length > 0 && c === "}") templates[templates.length - 1]!--;
      emit(c, false);
      i++;
    }
  }
  return { code, blanked };
}
