/**
 * The client against the REAL daemon: `<repo>/.venv/bin/python -m bridge serve --lake <tmp>`.
 * Every store method, 1,000 interleaved concurrent calls, abort and timeout with the daemon still
 * usable, close with calls pending, a large request and a large reply.
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import {
  ArtifactNotFoundError,
  ArtifactStoreClient,
  ClientClosedError,
  InvalidParamsError,
  MethodNotFoundError,
  METHOD_NAMES,
  PROTOCOL_VERSION,
  RequestAbortedError,
  RequestTimeoutError,
  RequestCancelledError,
  RpcError,
  DaemonExitedError,
  ProtocolVersionError,
  RequestTooLargeError,
  type Artifact,
  type MethodName,
} from "../src/index.js";
import { REPO_PYTHON, processExists, tempDir, waitFor, within } from "./helpers.js";

const tmp = tempDir("qb-daemon-");
const lake = path.join(tmp.dir, "lake");
const called = new Set<string>();
let client: ArtifactStoreClient;

function newClient(extra: ConstructorParameters<typeof ArtifactStoreClient>[0] = {}): ArtifactStoreClient {
  const c = new ArtifactStoreClient({ lake, timeoutMs: 30_000, ...extra });
  // Record which contract methods the tests exercise (the coverage test at the end checks all).
  const original = c.requestUntyped.bind(c);
  c.requestUntyped = (method: string, params?: unknown, options?: object) => {
    called.add(method);
    return original(method, params, options);
  };
  return c;
}

function alertRows(n: number, prefix = "a", offset = 0): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, k) => {
    const i = k + offset;
    return {
      alert_id: `${prefix}-${i}`,
      alert_ts: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      token_address: `So1anaToken${i % 97}`,
      chain: "solana",
      caller: `caller-${i % 7}`,
      source: "ts-test",
      text: `alert number ${i}`,
    };
  });
}

function publishAlerts(logicalKey: string, rows: Record<string, unknown>[] | string, inputs: string[] = []) {
  return client.publishDataFrame({
    artifactType: "alerts",
    schemaVersion: 1,
    logicalKey,
    dataFrame: rows,
    tags: { source: "ts-test" },
    inputArtifactIds: inputs,
    writerName: "ts-client-test",
    writerVersion: "0.1.0",
    gitCommit: "0123456789abcdef",
    gitDirty: false,
  });
}

/** A CSV big enough that publishing it takes a while (written once). */
let slowCsvPath: string | undefined;
function slowCsv(): string {
  if (!slowCsvPath) {
    const rows = alertRows(200_000, "slow");
    const cols = Object.keys(rows[0]!);
    slowCsvPath = path.join(tmp.dir, "slow.csv");
    writeFileSync(slowCsvPath, [cols.join(","), ...rows.map((r) => cols.map((k) => String(r[k])).join(","))].join("\n") + "\n");
  }
  return slowCsvPath;
}

function publishWith(c: ArtifactStoreClient, logicalKey: string, rows: Record<string, unknown>[]) {
  return c.publishDataFrame({ artifactType: "alerts", schemaVersion: 1, logicalKey, dataFrame: rows, writerName: "t", writerVersion: "1" });
}

function slowPublish(c: ArtifactStoreClient, logicalKey: string, options: object = {}) {
  return c.publishDataFrame(
    { artifactType: "alerts", schemaVersion: 1, logicalKey, dataFrame: slowCsv(), writerName: "t", writerVersion: "1", gitCommit: "x", gitDirty: false },
    options,
  );
}

async function firstId(c: ArtifactStoreClient): Promise<string> {
  return (await c.listArtifactsPage({ limit: 1 })).items[0]!.artifactId;
}

before(async () => {
  client = newClient();
  await client.start();
});

after(async () => {
  await client.close();
  tmp.cleanup();
});

describe("real daemon", () => {
  let first: Artifact;

  it("initializes with the supported protocol version and lists every generated method", async () => {
    const info = client.serverInfo!;
    assert.equal(info.protocolVersion, PROTOCOL_VERSION);
    assert.equal(client.pythonExecutable.executable, REPO_PYTHON);
    const offered = new Set(info.capabilities.methods);
    assert.equal(info.lake.root, lake);
    const missing = METHOD_NAMES.filter((m) => !offered.has(m));
    assert.deepEqual(missing, [], "every method in the generated contract is served by the daemon");
  });

  it("publishes inline rows, dedupes a re-publish, and gets the artifact back", async () => {
    const res = await publishAlerts("ts/first", alertRows(20));
    assert.equal(res.deduped, false);
    first = await client.getArtifact(res.artifactId);
    assert.equal(first.artifactId, res.artifactId);
    assert.equal(first.artifactType, "alerts");
    assert.equal(first.rowCount, 20);
    assert.equal(first.status, "active");
    assert.match(first.minTs ?? "", /^2026-01-01T00:00:00(\.0+)?Z$/);
    const again = await publishAlerts("ts/first", alertRows(20).reverse());
    assert.equal(again.deduped, true, "same rows in another order are the same artifact");
    assert.equal(again.artifactId, res.artifactId);
  });

  it("publishes from CSV and Parquet file paths", async () => {
    const csv = path.join(tmp.dir, "alerts.csv");
    const rows = alertRows(5, "csv");
    const cols = Object.keys(rows[0]!);
    writeFileSync(csv, [cols.join(","), ...rows.map((r) => cols.map((c) => String(r[c])).join(","))].join("\n") + "\n");
    const fromCsv = await publishAlerts("ts/csv", csv);
    assert.equal((await client.getArtifact(fromCsv.artifactId)).rowCount, 5);
    const inline = await publishAlerts("ts/csv-inline", rows);
    assert.equal(
      (await client.getArtifact(inline.artifactId)).contentHash,
      (await client.getArtifact(fromCsv.artifactId)).contentHash,
      "same rows from CSV and from objects hash the same",
    );
    const fromParquet = await publishAlerts("ts/parquet", first.pathParquet);
    const p = await client.getArtifact(fromParquet.artifactId);
    assert.equal(p.contentHash, first.contentHash);
    assert.notEqual(p.artifactId, first.artifactId, "another logical key is another artifact");
  });

  it("publishes from an Arrow IPC file", async () => {
    const arrow = path.join(tmp.dir, "alerts.arrow");
    execFileSync(REPO_PYTHON, [
      "-c",
      "import sys, pyarrow.parquet as pq, pyarrow.feather as f; f.write_feather(pq.read_table(sys.argv[1]), sys.argv[2])",
      first.pathParquet,
      arrow,
    ]);
    const res = await publishAlerts("ts/arrow", arrow);
    assert.equal((await client.getArtifact(res.artifactId)).contentHash, first.contentHash);
  });

  it("unknown artifact: ArtifactNotFoundError with data; bad params: InvalidParamsError", async () => {
    const err = await client.getArtifact("does-not-exist").catch((e: unknown) => e);
    assert.ok(err instanceof ArtifactNotFoundError, String(err));
    assert.ok(err instanceof RpcError);
    assert.equal(typeof err.code, "number");
    assert.match(JSON.stringify(err.data), /does-not-exist/);
    const bad = await client.request("getArtifact", { artifactId: 42 } as never).catch((e: unknown) => e);
    assert.ok(bad instanceof InvalidParamsError, String(bad));
    const none = await client.requestUntyped("noSuchMethod", {}).catch((e: unknown) => e);
    assert.ok(none instanceof MethodNotFoundError, String(none));
  });

  it("lists with filters and pages; finds by logical key", async () => {
    for (let i = 0; i < 5; i++) await publishAlerts(`ts/list/${i}`, alertRows(2, `l${i}`));
    const all = await client.listArtifacts({ artifactType: "alerts", logicalKeyPrefix: "ts/list/" });
    assert.equal(all.length, 5);
    const page = await client.listArtifactsPage({ artifactType: "alerts", logicalKeyPrefix: "ts/list/", limit: 2 });
    assert.equal(page.items.length, 2);
    assert.ok(page.nextCursor, "a cursor to the next page");
    const capped = await client.listArtifacts({ artifactType: "alerts", logicalKeyPrefix: "ts/list/", limit: 3 });
    assert.equal(capped.length, 3);
    const found = await client.findByLogicalKey("alerts", "ts/first");
    assert.deepEqual(found.map((a) => a.artifactId), [first.artifactId]);
    assert.deepEqual(await client.findByLogicalKey("alerts", "ts/none"), []);
  });

  it("lineage up and down, and supersede", async () => {
    const child = await publishAlerts("ts/child", alertRows(3, "child"), [first.artifactId]);
    const grandchild = await publishAlerts("ts/grandchild", alertRows(3, "gc"), [child.artifactId]);
    const lineage = await client.getLineage(grandchild.artifactId);
    const upIds = (lineage as { nodes: { artifactId: string }[] }).nodes.map((n) => n.artifactId);
    assert.ok(upIds.includes(child.artifactId) && upIds.includes(first.artifactId), JSON.stringify(lineage));
    const down = await client.getDownstream(first.artifactId);
    assert.deepEqual(down.map((a) => a.artifactId), [child.artifactId, grandchild.artifactId]);
    assert.ok(down.every((a) => typeof a.contentHash === "string"), "full artifacts");
    const v2 = await publishAlerts("ts/child", alertRows(4, "child"), [first.artifactId]);
    assert.equal(await client.supersede(v2.artifactId, child.artifactId), undefined);
    assert.equal((await client.getArtifact(child.artifactId)).status, "superseded");
    const badSupersede = await client.supersede(child.artifactId, child.artifactId).catch((e: unknown) => e);
    assert.ok(badSupersede instanceof RpcError, String(badSupersede));
  });

  it("1,000 interleaved concurrent calls each get their own reply", async () => {
    const ids = (await client.listArtifacts({ artifactType: "alerts" })).map((a) => a.artifactId);
    const calls = Array.from({ length: 1000 }, (_, i) => {
      if (i % 10 === 9) {
        return client.getArtifact(`missing-${i}`).then(
          () => assert.fail("missing artifact resolved"),
          (e: unknown) => {
            assert.ok(e instanceof ArtifactNotFoundError);
            assert.match(JSON.stringify(e.data), new RegExp(`missing-${i}`));
          },
        );
      }
      const id = ids[i % ids.length]!;
      return client.getArtifact(id).then((a) => assert.equal(a.artifactId, id));
    });
    await within(Promise.all(calls), 30_000, "1,000 calls");
    assert.equal(client.pendingCount, 0);
  });

  it("a large request (20,000 inline rows) goes through the pipe with backpressure", async () => {
    const res = await publishAlerts("ts/large-request", alertRows(20_000, "big"));
    assert.equal((await client.getArtifact(res.artifactId)).rowCount, 20_000);
  });
});

describe("real daemon: abort, timeout, close", () => {
  it("timeout and abort reject at once, the daemon confirms -32800, and stays usable", async () => {
    const debug: string[] = [];
    const c = newClient({ logger: { debug: (m: string) => debug.push(m) } });
    try {
      await c.start();
      slowCsv();
      const t0 = Date.now();
      const timedOut = await slowPublish(c, "ts/timeout", { timeoutMs: 30 }).catch((e: unknown) => e);
      assert.ok(timedOut instanceof RequestTimeoutError, String(timedOut));
      assert.ok(Date.now() - t0 < 1000, "rejected at the timeout, not when the work ended");
      const controller = new AbortController();
      const progress: number[] = [];
      const aborted = slowPublish(c, "ts/abort", { signal: controller.signal, timeoutMs: 0, onProgress: (p: { done: number }) => progress.push(p.done) });
      setTimeout(() => controller.abort(), 50);
      const abortErr = await aborted.catch((e: unknown) => e);
      assert.ok(abortErr instanceof RequestAbortedError, String(abortErr));
      // the daemon answers both cancelled requests with -32800 (logged as late replies)
      for (const id of [timedOut.requestId, abortErr.requestId]) {
        await waitFor(() => debug.some((m) => m.startsWith(`reply for id ${id} `) && m.includes("-32800")), 10_000, `-32800 for id ${id}`);
      }
      // still usable, and the cancelled publishes registered nothing
      assert.equal((await c.getArtifact(await firstId(c))).status, "active");
      assert.deepEqual(await c.findByLogicalKey("alerts", "ts/abort"), []);
      assert.deepEqual(await c.findByLogicalKey("alerts", "ts/timeout"), []);
    } finally {
      await c.close();
    }
  });

  it("close with calls pending settles every call and leaves no process", async () => {
    const c = newClient();
    await c.start();
    const pid = c.pid!;
    slowCsv();
    const outcome = (e: unknown): string =>
      e instanceof ArtifactNotFoundError
        ? "answered"
        : e instanceof ClientClosedError
          ? "closed"
          : e instanceof RequestCancelledError
            ? "cancelled"
            : String(e);
    const calls = [
      ...Array.from({ length: 3 }, (_, i) => slowPublish(c, `ts/closing/${i}`).then(() => "resolved", outcome)),
      ...Array.from({ length: 50 }, (_, i) => c.getArtifact(`pending-${i}`).then(() => "resolved", outcome)),
    ];
    assert.equal(c.pendingCount, 53);
    await within(c.close(), 12_000, "close");
    const outcomes = await within(Promise.all(calls), 1000, "pending calls to settle");
    // the daemon stops long work on shutdown and answers it with -32800; nothing is left unanswered
    assert.ok(outcomes.slice(0, 3).every((o) => ["resolved", "cancelled", "closed"].includes(o)), outcomes.join(","));
    assert.ok(outcomes.slice(3).every((o) => o === "answered" || o === "closed"), outcomes.join(","));
    assert.ok(!processExists(pid), "daemon gone");
    await assert.rejects(c.getArtifact("x"), ClientClosedError);
  });
});

describe("real daemon: protocol version, crash, restart", () => {
  it("refuses a protocol version the daemon does not speak, with the daemon's versions", async () => {
    const c = newClient({ protocolVersion: "0.9" });
    const err = await c.start().catch((e: unknown) => e);
    assert.ok(err instanceof ProtocolVersionError, String(err));
    assert.equal(err.offered, PROTOCOL_VERSION);
    assert.match(err.message, /0\.9/);
    assert.equal(c.pid, undefined, "the daemon was stopped");
  });

  it("a daemon killed with SIGKILL fails every pending call at once", async () => {
    const c = newClient();
    try {
      await c.start();
      slowCsv();
      const pid = c.pid!;
      const calls = Array.from({ length: 10 }, (_, i) => slowPublish(c, `ts/killed/${i}`).catch((e: unknown) => e));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(c.pendingCount, 10);
      process.kill(pid, "SIGKILL");
      const errors = await within(Promise.all(calls), 3000, "pending calls to fail");
      for (const e of errors) {
        assert.ok(e instanceof DaemonExitedError, String(e));
        assert.equal(e.signal, "SIGKILL");
      }
      assert.equal(c.state, "exited");
    } finally {
      await c.close();
    }
  });

  it("autoRestart brings a killed daemon back; calls made meanwhile wait for it", async () => {
    const c = newClient({ autoRestart: { maxRestarts: 2, initialDelayMs: 50 } });
    try {
      await c.start();
      const id = await firstId(c);
      const pid = c.pid!;
      const restarted = new Promise((resolve) => c.once("restart", resolve));
      process.kill(pid, "SIGKILL");
      await waitFor(() => c.state !== "running", 3000, "exit noticed");
      const artifact = await within(c.getArtifact(id), 15_000, "call after restart");
      assert.equal(artifact.artifactId, id);
      await restarted;
      assert.notEqual(c.pid, pid);
    } finally {
      await c.close();
    }
  });
});

describe("real daemon: line limit", () => {
  it("a request over the daemon's maxLineBytes is refused locally with RequestTooLargeError", async () => {
    const c = newClient({ serverArgs: ["-m", "bridge", "serve", "--max-line-bytes", "4096"] });
    try {
      const info = await c.start();
      assert.equal(info.limits.maxLineBytes, 4096);
      const err = await publishWith(c, "ts/too-large", alertRows(200, "tl")).catch((e: unknown) => e);
      assert.ok(err instanceof RequestTooLargeError, String(err));
      assert.equal(err.limit, 4096);
      const ok = await publishWith(c, "ts/small-enough", alertRows(2, "se"));
      assert.equal(ok.deduped, false);
    } finally {
      await c.close();
    }
  });
});

describe("coverage", () => {
  it("every store method of the contract was exercised", () => {
    const store: MethodName[] = METHOD_NAMES.filter((m) =>
      ["getArtifact", "listArtifacts", "findByLogicalKey", "publishDataFrame", "getLineage", "getDownstream", "supersede"].includes(m),
    );
    const missing = store.filter((m) => !called.has(m));
    assert.deepEqual(missing, []);
  });
});
