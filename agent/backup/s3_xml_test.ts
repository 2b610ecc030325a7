import assert from "node:assert/strict";
import { xmlDecode, xmlElements, xmlEscape, xmlText } from "./s3_xml.ts";

const LISTING = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix>
<KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>
<Contents><Key>p/a &amp; b&lt;1&gt;</Key><Size>3</Size></Contents>
<Contents><Key><![CDATA[p/<raw>&amp;]]></Key><Size>0</Size><Owner><ID>x</ID></Owner></Contents>
<NextContinuationToken>tok/+=</NextContinuationToken><StartAfter/></ListBucketResult>`;

Deno.test("xmlElements: every element of a name, not those whose name only starts alike", () => {
  const contents = xmlElements(LISTING, "Contents");
  assert.equal(contents.length, 2);
  assert.deepEqual(contents.map((c) => xmlText(c, "Key")), ["p/a & b<1>", "p/<raw>&amp;"]);
  assert.equal(xmlText(LISTING, "Key"), "p/a & b<1>");
  assert.equal(xmlText(LISTING, "KeyCount"), "2");
  assert.equal(xmlText(LISTING, "StartAfter"), "");
  assert.equal(xmlText(LISTING, "NextContinuationToken"), "tok/+=");
  assert.equal(xmlText(LISTING, "Missing"), undefined);
});

Deno.test("xmlDecode: character references decoded, unknown or invalid ones kept", () => {
  assert.equal(xmlDecode("&#65;&#x42;&quot;&apos;&nbsp;&#x110000;"), `AB"'&nbsp;&#x110000;`);
});

Deno.test("xmlEscape: what xmlDecode reads back", () => {
  const text = `"etag" <&> 'x'`;
  assert.equal(xmlDecode(xmlEscape(text)), text);
  assert.equal(xmlEscape(text), "&quot;etag&quot; &lt;&amp;&gt; &apos;x&apos;");
});
