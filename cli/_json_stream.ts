/**
 * Writes a JSON value piecewise, byte for byte as `JSON.stringify(value, null, 2)` would, without
 * building the whole text: the outer objects and arrays are written member by member and each
 * deeper value is stringified on its own, so a report of a large cluster never becomes one string.
 *
 * @module
 */

/** Where the pieces go, in order. */
export type JsonSink = (piece: string) => void;

/** How deep the writer walks before it stringifies a member whole. */
const STREAMED_DEPTH = 2;

/**
 * Writes `value` to `sink` as `JSON.stringify(value, null, 2)` (no trailing newline). Values
 * without a JSON form (`undefined`, functions) at the top write nothing, as `JSON.stringify` gives
 * undefined for them.
 */
export function writeJson(value: unknown, sink: JsonSink): void {
  write(value, "", 0, sink);
}

function write(value: unknown, indent: string, depth: number, sink: JsonSink): boolean {
  if (depth >= STREAMED_DEPTH || !isContainer(value)) {
    const text = JSON.stringify(value, null, 2);
    if (text === undefined) return false;
    sink(indent === "" ? text : text.replaceAll("\n", `\n${indent}`));
    return true;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) {
      sink("[]");
      return true;
    }
    sink("[");
    for (let i = 0; i < value.length; i++) {
      sink(i === 0 ? `\n${inner}` : `,\n${inner}`);
      if (!write(value[i], inner, depth + 1, sink)) sink("null");
    }
    sink(`\n${indent}]`);
    return true;
  }
  let first = true;
  for (const [key, member] of Object.entries(value)) {
    if (!hasJsonForm(member)) continue;
    sink(`${first ? "{" : ","}\n${inner}${JSON.stringify(key)}: `);
    first = false;
    write(member, inner, depth + 1, sink);
  }
  sink(first ? "{}" : `\n${indent}}`);
  return true;
}

/** A plain array or object without `toJSON`, which the writer may walk member by member. */
function isContainer(value: unknown): value is unknown[] | Record<string, unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as { toJSON?: unknown }).toJSON !== "function";
}

function hasJsonForm(value: unknown): boolean {
  return value !== undefined && typeof value !== "function" && typeof value !== "symbol";
}

/**
 * A sink that gathers pieces into chunks of about `chunkBytes` characters and hands each full
 * chunk to `flush`; call the returned `end` to hand over the rest.
 */
export function chunkedSink(
  flush: (chunk: string) => void,
  chunkBytes = 1 << 16,
): { sink: JsonSink; end: () => void } {
  let pieces: string[] = [];
  let size = 0;
  const drain = () => {
    if (pieces.length === 0) return;
    flush(pieces.join(""));
    pieces = [];
    size = 0;
  };
  return {
    sink: (piece) => {
      pieces.push(piece);
      size += piece.length;
      if (size >= chunkBytes) drain();
    },
    end: drain,
  };
}

/** Writes `value` to standard output as `console.log(JSON.stringify(value, null, 2))` does. */
export function printJson(value: unknown): void {
  const encoder = new TextEncoder();
  const out = (text: string) => {
    const bytes = encoder.encode(text);
    let written = 0;
    while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
  };
  const { sink, end } = chunkedSink(out);
  writeJson(value, sink);
  sink("\n");
  end();
}
