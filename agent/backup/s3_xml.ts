/**
 * The little XML the S3 API answers with, read without an XML library: the text of named
 * elements, entities and CDATA decoded. Enough for S3's flat, well-known answers (listings,
 * upload ids, errors); not a general parser.
 *
 * @module
 */

const ENTITIES: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

/**
 * The raw content of every `<name>` element in `xml`, in document order (`""` for `<name/>`).
 * Elements of one name must not nest (true of every element S3 answers with that is read here).
 */
export function xmlElements(xml: string, name: string): string[] {
  const pattern = new RegExp(`<${name}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${name}\\s*>)`, "g");
  return [...xml.matchAll(pattern)].map((match) => match[1] ?? "");
}

/** The decoded text of the first `<name>` element in `xml`, or undefined when there is none. */
export function xmlText(xml: string, name: string): string | undefined {
  const raw = xmlElements(xml, name)[0];
  return raw === undefined ? undefined : xmlDecode(raw);
}

/** Decodes character data: CDATA sections kept as they are, entities and character references. */
export function xmlDecode(text: string): string {
  return text.split(/(<!\[CDATA\[[\s\S]*?\]\]>)/).map((part) =>
    part.startsWith("<![CDATA[") ? part.slice(9, -3) : part.replace(
      /&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g,
      (whole, entity: string) => {
        if (entity.startsWith("#x")) return codePoint(whole, Number.parseInt(entity.slice(2), 16));
        if (entity.startsWith("#")) return codePoint(whole, Number.parseInt(entity.slice(1), 10));
        return ENTITIES[entity] ?? whole;
      },
    )
  ).join("");
}

/** Escapes text for an element's content. */
export function xmlEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

function codePoint(whole: string, value: number): string {
  return Number.isInteger(value) && value >= 0 && value <= 0x10ffff
    ? String.fromCodePoint(value)
    : whole;
}
