/**
 * Every method of the contract through the client against the REAL daemon, as one research
 * workflow on a temporary lake: publish, projections and queries (incl. a large reply),
 * experiments, store maintenance, Telegram and DuckDB ingestion, OHLCV slices and coverage.
 * The last test fails if a method of the generated contract was not called.
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import {
  ArtifactStoreClient,
  InvalidInputError,
  METHOD_NAMES,
  ReadOnlyViolationError,
  type Artifact,
  type Progress,
} from "../src/index.js";
import { REPO_PYTHON, tempDir } from "./helpers.js";

const tmp = tempDir("qb-methods-");
const lake = path.join(tmp.dir, "lake");
const called = new Set<string>();
let client: ArtifactStoreClient;

const T0 = Date.UTC(2024, 2, 1, 9, 0, 0); // 2024-03-01T09:00:00Z
const BONK = "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263";
const iso = (ms: number): string => new Date(ms).toISOString();

/** 1-minute candles from T0: flat at 1.0, then rising 10% a minute (so take-profit fires). */
function candles(token: string, minutes: number): Record<string, unknown>[] {
  return Array.from({ length: minutes }, (_, i) => {
    const open = i < 2 ? 1 : 1.1 ** (i - 2);
    const close = i < 1 ? 1 : 1.1 ** (i - 1);
    return {
      token,
      resolution: "1m",
      ts: iso(T0 + i * 60_000),
      open,
      high: Math.max(open, close) * 1.01,
      low: Math.min(open, close) * 0.99,
      close,
      volume: 100 + i,
    };
  });
}

const common = { writerName: "ts-methods-test", writerVersion: "0.1.0", gitCommit: "abc", gitDirty: false };

before(async () => {
  client = new ArtifactStoreClient({ lake, timeoutMs: 120_000 });
  const original = client.requestUntyped.bind(client);
  client.requestUntyped = (method: string, params?: unknown, options?: object) => {
    called.add(method);
    return original(method, params, options);
  };
  await client.start();
});

after(async () => {
  await client.close();
  tmp.cleanup();
});

describe("every method against the real daemon", () => {
  let alerts: Artifact;
  let ohlcv: Artifact;
  let projectionId: string;
  let runId: string;
  let telegramAlertsId: string;

  it("listArtifactTypes, publishDataFrame, getProvenance", async () => {
    const types = await client.listArtifactTypes();
    assert.ok(types.some((t) => t.artifactType === "ohlcv_slice" && t.schemaVersion === 2));
    const a = await client.publishDataFrame({
      ...common,
      artifactType: "alerts",
      schemaVersion: 1,
      logicalKey: "methods/alerts",
      dataFrame: [
        { alert_id: "a", alert_ts: iso(T0), token_address: "A", chain: "solana" },
        { alert_id: "b", alert_ts: iso(T0), token_address: "B", chain: "solana" },
      ],
    });
    const c = await client.publishDataFrame({
      ...common,
      artifactType: "ohlcv_slice",
      schemaVersion: 2,
      logicalKey: "methods/candles",
      dataFrame: [...candles("A", 12), ...candles("B", 12)],
    });
    alerts = a.artifact;
    ohlcv = c.artifact;
    assert.equal(ohlcv.rowCount, 24);
    const prov = await client.getProvenance({ artifactId: alerts.artifactId });
    assert.equal(prov.writerName, "ts-methods-test");
    assert.equal(prov.gitCommit, "abc");
  });

  it("projections: build, query (incl. a large reply), get, list, extend, rebuild; read-only enforced", async () => {
    const built = await client.buildProjection({ tables: { alerts: [alerts.artifactId], candles: [ohlcv.artifactId] } });
    projectionId = built.projectionId;
    assert.deepEqual([...built.tables].sort(), ["alerts", "candles"]);
    const q = await client.query({ projectionId, sql: "SELECT count(*) AS n FROM candles WHERE token = ?", params: ["A"] });
    assert.deepEqual(q.rows, [[12]]);
    // ~5 MB of JSON in one reply
    const big = await client.query({
      projectionId,
      sql: "SELECT i, repeat('x', 500) AS pad FROM range(10000) t(i)",
      maxRows: 10_000,
    });
    assert.equal(big.rows.length, 10_000);
    assert.equal((big.rows[9999] as [number, string])[1].length, 500);
    const denied = await client.query({ projectionId, sql: "DROP TABLE alerts" }).catch((e: unknown) => e);
    assert.ok(denied instanceof ReadOnlyViolationError, String(denied));
    // many readers of one projection at once: every query answered with its own rows
    const many = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        client.query({ projectionId, sql: "SELECT count(*) + ? AS n FROM candles, alerts", params: [i] }),
      ),
    );
    assert.deepEqual(
      many.map((r) => r.rows),
      Array.from({ length: 12 }, (_, i) => [[48 + i]]),
    );
    // an inline result over the daemon's byte cap is an error naming output, not a 300 MB reply
    const huge = await client
      .query({ projectionId, sql: "SELECT repeat('x', 30000) FROM range(10000)", maxRows: 10_000 })
      .catch((e: unknown) => e);
    assert.ok(huge instanceof InvalidInputError, String(huge));
    assert.equal((huge.data as { field?: string }).field, "output");
    assert.equal((await client.getProjection({ projectionId })).projectionId, projectionId);
    assert.ok((await client.listProjections({})).projections.some((p) => p.projectionId === projectionId));
    const more = await client.publishDataFrame({
      ...common,
      artifactType: "alerts",
      schemaVersion: 1,
      logicalKey: "methods/alerts-2",
      dataFrame: [{ alert_id: "z", alert_ts: iso(T0), token_address: "A", chain: "solana" }],
    });
    const extended = await client.extendProjection({ projectionId, tables: { alerts: [more.artifactId] } });
    assert.equal(extended.rowCount.alerts, 3);
    const rebuilt = await client.rebuildProjection({ projectionId: extended.projectionId });
    assert.equal(rebuilt.rowCount.alerts, 3);
    projectionId = rebuilt.projectionId;
  });

  it("experiments: runExperiment with progress, listRuns, getRun, writeReport, runSweep", async () => {
    const progress: Progress[] = [];
    const definition = {
      name: "ts client test",
      experimentId: "exp-ts",
      inputs: { alerts: [alerts.artifactId], ohlcv: [ohlcv.artifactId] },
      config: { strategy: { takeProfitPct: 20, stopLossPct: 10, notional: 100, initialCapital: 1000 } },
      provenance: { gitCommit: "abc", gitDirty: false },
    };
    const run = await client.runExperiment({ definition }, { onProgress: (p) => progress.push(p) });
    assert.equal(run.status, "completed");
    assert.ok(progress.length > 0, "progress notifications arrived");
    runId = run.runId;
    const trades = await client.getArtifact(run.outputs.trades!);
    const strategyId = run.inputs!.find((i) => i.role === "strategies")!.artifactId;
    assert.deepEqual([...trades.inputArtifactIds!].sort(), [alerts.artifactId, ohlcv.artifactId, strategyId].sort());
    assert.equal((await client.getArtifact(run.outputs.fills!)).artifactType, "experiment_fills");
    assert.ok((await client.listRuns({ experimentId: "exp-ts" })).runs.some((r) => r.runId === runId));
    assert.equal((await client.getRun({ runId })).runId, runId);
    const report = await client.writeReport({ runId, path: path.join(tmp.dir, "report.html") });
    assert.ok(existsSync(report.path));
    const sweep = await client.runSweep({ definition, grid: { takeProfitPct: [20, 40] } });
    assert.equal(sweep.points.length, 2);
    // portfolio mode (mark-to-market equity v2 + breakdown) and an out-of-sample sweep with its report
    const pf = await client.runExperiment({
      definition: {
        ...definition,
        experimentId: "exp-ts-pf",
        config: { ...definition.config, portfolio: { sizing: "fraction", fraction: 0.5, maxPositions: 1 } },
      },
    });
    assert.equal(pf.status, "completed");
    assert.equal((await client.getArtifact(pf.outputs.curves!)).schemaVersion, 2);
    assert.equal((await client.getArtifact(pf.outputs.breakdown!)).artifactType, "experiment_breakdown");
    const oos = await client.runSweep({
      definition,
      grid: { takeProfitPct: [20, 40] },
      validation: { method: "split", inSampleFraction: 0.5, metric: "mean_return", cscvBlocks: 2 },
    });
    assert.equal(oos.validation!.folds.length, 1);
    assert.equal(oos.validation!.overfit.trials, 2);
    assert.ok(oos.validation!.overfit.pbo !== null || typeof oos.validation!.overfit.pboReason === "string");
    const sweepReport = await client.writeSweepReport({ sweepId: oos.sweepId, path: path.join(tmp.dir, "sweep.html") });
    assert.ok(existsSync(sweepReport.path));
  });

  it("strategies: importStrategies, publishStrategy, listStrategies, getStrategy, a run by strategy id", async () => {
    const imported = await client.importStrategies({
      scenarios: {
        version: "1",
        global: { defaults: { stopLoss: { initial: -0.3, trailing: 0.5 }, costs: { takerFeeBps: 25 } } },
        scenarios: [{ name: "ladder-ts", strategy: [{ target: 1.1, percent: 0.5 }, { target: 1.3, percent: 0.5 }] }],
      },
    });
    assert.equal(imported.strategies.length, 1);
    const s = imported.strategies[0]!;
    assert.deepEqual(s.strategy.ladder, [{ takeProfitPct: 10, sizePct: 50 }, { takeProfitPct: 30, sizePct: 50 }]);
    assert.equal(s.strategy.breakEvenTriggerPct, 50);
    const again = await client.publishStrategy({ strategy: s.strategy });
    assert.equal(again.artifactId, s.artifactId);
    assert.ok(again.deduped);
    assert.ok((await client.listStrategies({})).strategies.some((r) => r.artifactId === s.artifactId));
    assert.equal((await client.getStrategy({ artifactId: s.artifactId })).strategy!.name, "ladder-ts");
    const run = await client.runExperiment({
      definition: {
        name: "ts strategy id",
        inputs: { alerts: [alerts.artifactId], ohlcv: [ohlcv.artifactId], strategies: [s.artifactId] },
        config: {},
        provenance: { gitCommit: "abc", gitDirty: false },
      },
    });
    assert.equal(run.status, "completed");
    assert.ok(run.inputs!.some((i) => i.role === "strategies" && i.artifactId === s.artifactId));
  });

  it("store maintenance: tombstone, listStale, verify, gc", async () => {
    const scratch = await client.publishDataFrame({
      ...common,
      artifactType: "alerts",
      schemaVersion: 1,
      logicalKey: "methods/scratch",
      dataFrame: [{ alert_id: "s", alert_ts: iso(T0), token_address: "S", chain: "solana" }],
    });
    const derived = await client.publishDataFrame({
      ...common,
      artifactType: "alerts",
      schemaVersion: 1,
      logicalKey: "methods/derived",
      dataFrame: [{ alert_id: "d", alert_ts: iso(T0), token_address: "D", chain: "solana" }],
      inputArtifactIds: [scratch.artifactId],
    });
    // the PRD's query and lineage methods, once more here so this file covers the whole contract
    assert.equal((await client.listArtifacts({ logicalKeyPrefix: "methods/scratch" })).length, 1);
    assert.equal((await client.findByLogicalKey("alerts", "methods/derived"))[0]!.artifactId, derived.artifactId);
    assert.equal((await client.getLineage(derived.artifactId)).nodes[0]!.artifactId, scratch.artifactId);
    assert.deepEqual((await client.getDownstream(scratch.artifactId)).map((a) => a.artifactId), [derived.artifactId]);
    const replacement = await client.publishDataFrame({
      ...common,
      artifactType: "alerts",
      schemaVersion: 1,
      logicalKey: "methods/scratch",
      dataFrame: [{ alert_id: "s2", alert_ts: iso(T0), token_address: "S", chain: "solana" }],
    });
    await client.supersede(replacement.artifactId, scratch.artifactId);
    const tomb = await client.tombstone({ artifactId: scratch.artifactId, reason: "test" });
    assert.equal(tomb.status, "tombstoned");
    const stale = await client.listStale({});
    assert.ok(stale.some((s) => s.artifactId === derived.artifactId));
    const report = await client.verify({});
    assert.equal(report.ok, true, JSON.stringify(report.issues));
    const gc = await client.gc({ dryRun: true });
    assert.equal(gc.dryRun, true);
  });

  it("ingestion: ingestTelegram and migrateDuckdb", async () => {
    const exportPath = path.join(tmp.dir, "result.json");
    const text = `new call ${BONK} sending`;
    const at = T0 + 60_000;
    writeFileSync(
      exportPath,
      JSON.stringify({
        name: "Alpha Calls",
        type: "public_channel",
        id: 777,
        messages: [
          {
            id: 1,
            type: "message",
            date: new Date(at).toISOString().slice(0, 19),
            date_unixtime: String(at / 1000),
            from: "Alpha Calls",
            from_id: "channel777",
            author: "Max",
            text,
            text_entities: [{ type: "plain", text }],
          },
        ],
      }),
    );
    const ingested = await client.ingestTelegram({ paths: [exportPath] });
    const rep = ingested.reports[0]!;
    assert.equal(rep.alerts, 1);
    const ids = rep.artifactIds ?? [];
    const types = await Promise.all(ids.map(async (id) => [id, (await client.getArtifact(id)).artifactType] as const));
    telegramAlertsId = types.find(([, t]) => t === "alerts_v1")![0];

    const db = path.join(tmp.dir, "legacy.duckdb");
    execFileSync(REPO_PYTHON, [
      "-c",
      [
        "import sys, duckdb",
        "con = duckdb.connect(sys.argv[1])",
        "con.execute(\"CREATE TABLE alerts (channel_id BIGINT, channel VARCHAR, msg_id BIGINT, caller VARCHAR, mint VARCHAR, network VARCHAR, created_at TIMESTAMP, message VARCHAR)\")",
        `con.execute("INSERT INTO alerts VALUES (777, 'Alpha Calls', 1, 'Max', '${BONK}', 'solana', TIMESTAMP '2024-03-01 09:01:00', 'bonk')")`,
        "con.close()",
      ].join("\n"),
      db,
    ]);
    const migrated = await client.migrateDuckdb({ path: db });
    assert.equal(migrated.messagesRead, 1, JSON.stringify(migrated));
    assert.ok((migrated.artifactIds ?? []).length > 0, JSON.stringify(migrated));
  });

  it("OHLCV: loadCandles, exportSlice, sliceCoverage, exportSlicesForAlerts, alertForwardCoverage", async () => {
    const csv = path.join(tmp.dir, "candles.csv");
    const rows = candles(BONK, 30);
    writeFileSync(
      csv,
      "token,chain,interval,ts,open,high,low,close,volume\n" +
        rows.map((r) => [r.token, "solana", "1m", r.ts, r.open, r.high, r.low, r.close, r.volume].join(",")).join("\n") +
        "\n",
    );
    const loaded = await client.loadCandles({ paths: [csv] });
    assert.equal(loaded.rowsRead, 30);
    const slice = await client.exportSlice({ token: BONK, resolution: "1m", from: iso(T0), to: iso(T0 + 10 * 60_000), chain: "solana" });
    assert.equal(slice.rowCount, 10);
    const cov = await client.sliceCoverage({ sliceIds: [slice.artifactId] });
    assert.ok(cov);
    const batch = await client.exportSlicesForAlerts({ alertsArtifactId: telegramAlertsId, resolution: "1m", before: "1m", after: "5m" });
    assert.ok(batch);
    const fwd = await client.alertForwardCoverage({ alertsArtifactId: telegramAlertsId, horizon: "5m", resolution: "1m" });
    assert.ok(fwd);
  });

  it("disposeProjection", async () => {
    const res = await client.disposeProjection({ projectionId });
    assert.ok(res);
  });

  it("openUi: the daemon serves the read-only web UI and returns its URL with the token", async () => {
    const url = await client.openUi();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/);
    const base = url.slice(0, url.indexOf("?"));
    const token = url.slice(url.indexOf("token=") + 6);
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    assert.equal((await fetch(base + "api/types")).status, 403); // no token
    const types = await fetch(base + "api/types", { headers: { authorization: `token ${token}` } });
    assert.equal(types.status, 200);
    const body = (await types.json()) as { types: { artifactType: string }[] };
    assert.ok(body.types.some((t) => t.artifactType === "ohlcv_slice"));
    assert.equal(await client.openUi({ port: 1 }), url); // one UI per daemon
  });

  it("every method of the generated contract was called", () => {
    const missing = METHOD_NAMES.filter((m) => !called.has(m));
    assert.deepEqual(missing, [], `not exercised: ${missing.join(", ")}`);
  });
});
