// Goal: the parsers read what PostgreSQL's tools print as the numbers core/agent expects (LSNs in
// bytes, timelines, histories), and the configuration writers keep other lines.
// Method: fixed samples of pg_controldata, .history and psql -At output.

import assert from "node:assert/strict";
import {
  hbaConf,
  historyFileName,
  parseControlData,
  parseHistory,
  parseLsn,
  parseObservationRow,
  parseSynchronousStandbyNames,
  readSetting,
  synchronousStandbyNames,
  withPrimaryConninfo,
  withSetting,
} from "./pg_text.ts";
import { agentConfig } from "./main.ts";

Deno.test("parseLsn: X/Y is X * 2^32 + Y, bad text is a RangeError", () => {
  assert.equal(parseLsn("0/0"), 0);
  assert.equal(parseLsn("16/B374D848"), 0x16 * 2 ** 32 + 0xB374D848);
  assert.throws(() => parseLsn("12345"), RangeError);
});

Deno.test("parseControlData: system, state, the later timeline and position", () => {
  const text = [
    "Database system identifier:           7351234567890123456",
    "Database cluster state:               shut down in recovery",
    "Latest checkpoint location:           0/3000060",
    "Latest checkpoint's TimeLineID:       1",
    "Minimum recovery ending location:     0/3000110",
    "Min recovery ending loc's timeline:   2",
  ].join("\n");
  assert.deepEqual(parseControlData(text), {
    systemId: "7351234567890123456",
    state: "shut down in recovery",
    timeline: 2,
    flushLsn: 0x3000110,
  });
  assert.throws(() => parseControlData("nothing"), RangeError);
});

Deno.test("parseHistory: one entry per ancestor, oldest first", () => {
  assert.deepEqual(
    parseHistory("1\t0/3000148\tno recovery target specified\n\n2\t0/5000000\tx\n"),
    [
      { timeline: 1, endLsn: 0x3000148 },
      { timeline: 2, endLsn: 0x5000000 },
    ],
  );
  assert.equal(historyFileName(10), "0000000A.history");
});

Deno.test("parseObservationRow: a streaming standby and a primary", () => {
  assert.deepEqual(parseObservationRow("t|735|0/5000000|0/4FFFFF0|streaming|127.0.0.1|2|1\n"), {
    inRecovery: true,
    systemId: "735",
    receivedLsn: 0x5000000,
    replayLsn: 0x4FFFFF0,
    receiverStatus: "streaming",
    senderHost: "127.0.0.1",
    timeline: 2,
  });
  assert.deepEqual(parseObservationRow("f|735|0/6000000|0/6000000||||3"), {
    inRecovery: false,
    systemId: "735",
    receivedLsn: 0x6000000,
    replayLsn: 0x6000000,
    timeline: 3,
  });
  assert.throws(() => parseObservationRow("f|1"), RangeError);
});

Deno.test("parseObservationRow: a restarted receiver's segment start is not the end of the WAL replayed", () => {
  // Seen on the real node: a fenced former primary restarted as a standby reported 0/4000000
  // received but had replayed 0/40445F8, past the new timeline's fork at 0/4044548.
  const row = parseObservationRow("t|735|0/4000000|0/40445F8|waiting|fo-0|4|4");
  assert.equal(row.receivedLsn, 0x40445F8);
  assert.equal(row.replayLsn, 0x40445F8);
});

Deno.test("withPrimaryConninfo: replaces or removes the setting, keeps the rest", () => {
  const auto = "# Do not edit\nwork_mem = '8MB'\nprimary_conninfo = 'host=a'\n";
  assert.equal(
    withPrimaryConninfo(auto, "host=b"),
    "# Do not edit\nwork_mem = '8MB'\nprimary_conninfo = 'host=b'\n",
  );
  assert.equal(withPrimaryConninfo(auto, undefined), "# Do not edit\nwork_mem = '8MB'\n");
});

Deno.test("hbaConf: replication only for the replication user, SCRAM on every network", () => {
  const lines = hbaConf("replicator", ["10.0.0.0/8"]).split("\n");
  assert.ok(lines.includes("host replication replicator 10.0.0.0/8 scram-sha-256"));
  assert.ok(
    lines.every((l) =>
      l.startsWith("#") || l === "" || l.startsWith("local ") || l.endsWith("scram-sha-256")
    ),
  );
  assert.ok(lines.includes("local all all trust"), "the socket, inside the container only");
});

Deno.test("agentConfig: defaults, and one line naming a missing or bad variable", () => {
  const base: Record<string, string> = {
    POD_NAME: "db-1",
    POD_NAMESPACE: "default",
    PGOP_DATABASE: "db",
    PGDATA: "/var/lib/postgresql/data/pgdata",
    PGOP_MAJOR: "16",
    POSTGRES_PASSWORD: "p",
    PGOP_REPLICATION_PASSWORD: "r",
  };
  const config = agentConfig((name) => base[name]);
  assert.equal(config.bin, "/usr/lib/postgresql/16/bin");
  assert.equal(config.httpPort, 8008);
  assert.equal(config.superuser, "postgres");
  assert.equal(config.appDatabase, "postgres");
  assert.throws(
    () => agentConfig((name) => name === "POD_NAME" ? undefined : base[name]),
    /^AgentConfigError: Missing environment variable POD_NAME$/,
  );
  assert.throws(
    () => agentConfig((name) => name === "PGOP_AGENT_PORT" ? "http" : base[name]),
    /Invalid PGOP_AGENT_PORT "http"/,
  );
});

Deno.test("socketDirectory: the first writable candidate, else /tmp", async () => {
  const { socketDirectory } = await import("./main.ts");
  const dir = Deno.makeTempDirSync();
  try {
    assert.equal(socketDirectory(["/nonexistent-pgop", dir]), dir);
    assert.equal(socketDirectory(["/nonexistent-pgop"]), "/tmp");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("synchronousStandbyNames() quotes each name; parseSynchronousStandbyNames() reads it back", () => {
  const sync = { number: 1, standbys: ["db-1", 'we"ird'] };
  const value = synchronousStandbyNames(sync);
  assert.equal(value, 'ANY 1 ("db-1", "we""ird")');
  assert.deepEqual(parseSynchronousStandbyNames(value), sync);
  assert.equal(synchronousStandbyNames(undefined), "");
  assert.equal(synchronousStandbyNames({ number: 0, standbys: ["db-1"] }), "");
  assert.equal(parseSynchronousStandbyNames(""), undefined);
  assert.equal(parseSynchronousStandbyNames(undefined), undefined);
  // A value the agent did not write never equals a quorum it wants.
  assert.deepEqual(parseSynchronousStandbyNames("FIRST 1 (a)"), {
    number: 0,
    standbys: ["FIRST 1 (a)"],
  });
  assert.deepEqual(parseSynchronousStandbyNames("ANY 2 (a, b)"), {
    number: 2,
    standbys: ["a", "b"],
  });
});

Deno.test("withSetting() replaces one setting and readSetting() reads the last assignment, unquoted", () => {
  const conf = withSetting(
    "primary_conninfo = 'host=x'\nsynchronous_standby_names = 'old'\n",
    "synchronous_standby_names",
    'ANY 1 ("it\'s")',
  );
  assert.equal(
    conf,
    "primary_conninfo = 'host=x'\nsynchronous_standby_names = 'ANY 1 (\"it''s\")'\n",
  );
  assert.equal(readSetting(conf, "synchronous_standby_names"), 'ANY 1 ("it\'s")');
  assert.equal(readSetting(conf, "primary_conninfo"), "host=x");
  assert.equal(readSetting(conf, "port"), undefined);
  assert.equal(
    withSetting(conf, "synchronous_standby_names", undefined),
    "primary_conninfo = 'host=x'\n",
  );
});
