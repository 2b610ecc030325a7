// Goal: `sim --output json` streams its report piecewise and prints exactly what one
// JSON.stringify(report, null, 2) printed before. Method: compare the pieces, joined, with
// JSON.stringify on edge-case values and on a real simulated report; run the command and compare
// its parsed output with the old shape built in-process from the same seed.
import assert from "node:assert/strict";
import { chunkedSink, writeJson } from "./_json_stream.ts";
import { readManifests } from "./manifests.ts";
import { simulate } from "./simulate.ts";

function streamed(value: unknown): { text: string; pieces: number } {
  const pieces: string[] = [];
  writeJson(value, (piece) => pieces.push(piece));
  return { text: pieces.join(""), pieces: pieces.length };
}

Deno.test("writeJson: writes what JSON.stringify(value, null, 2) writes, for edge cases", () => {
  const values: unknown[] = [
    {},
    [],
    { a: [], b: {}, c: [{}, []], d: null },
    { skipped: undefined, kept: 1, fn: () => 1, nested: { skipped: undefined, deep: [1, [2]] } },
    [undefined, () => 1, { a: undefined }, 'text\nwith "quotes"'],
    { date: new Date(0), list: [new Date(1)], 'key "quoted"': { "ü": "ü" } },
    { objects: [{ metadata: { name: "a", labels: { x: "y" } }, spec: { n: [1, 2, { z: 3 }] } }] },
    "plain",
    42,
    null,
  ];
  for (const value of values) {
    assert.equal(streamed(value).text, JSON.stringify(value, null, 2), JSON.stringify(value));
  }
});

Deno.test("writeJson: a simulated report comes out byte for byte, in many pieces", async () => {
  const manifests = await readManifests(["examples/postgresdb.yaml"]);
  const report = await simulate(manifests, { seed: 9 });
  const { converged, virtualSeconds, reconciles, apiWrites, objects, events } = report;
  const json = { converged, virtualSeconds, reconciles, apiWrites, objects, events };
  const { text, pieces } = streamed(json);
  assert.equal(text, JSON.stringify(json, null, 2));
  assert.ok(pieces > objects.length, `${pieces} pieces for ${objects.length} objects`);
});

Deno.test("chunkedSink: hands over chunks of about the asked size, in order, then the rest", () => {
  const chunks: string[] = [];
  const { sink, end } = chunkedSink((chunk) => chunks.push(chunk), 10);
  for (const piece of ["abcd", "efgh", "ijkl", "mn", "o"]) sink(piece);
  assert.deepEqual(chunks, ["abcdefghijkl"]);
  end();
  assert.deepEqual(chunks, ["abcdefghijkl", "mno"]);
  end();
  assert.equal(chunks.length, 2);
});

Deno.test("sim --output json: the streamed output parses to the old report for the same seed", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env",
      "main.ts",
      "sim",
      "-f",
      "examples/postgresdb.yaml",
      "--output",
      "json",
      "--seed",
      "5",
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const report = await simulate(await readManifests(["examples/postgresdb.yaml"]), { seed: 5 });
  const { converged, virtualSeconds, reconciles, apiWrites, objects, events } = report;
  const old = JSON.stringify(
    { converged, virtualSeconds, reconciles, apiWrites, objects, events },
    null,
    2,
  );
  const stdout = new TextDecoder().decode(out.stdout);
  assert.deepEqual(JSON.parse(stdout), JSON.parse(old));
  assert.equal(stdout, `${old}\n`);
});
