#!/usr/bin/env node
/**
 * The whole research flow on the embedded default, driven from the TypeScript client:
 *
 *   sample Telegram export + sample candles → candles into chDB → ingest alerts →
 *   OHLCV slices around every alert + forward coverage → projection → experiment (backtest) →
 *   HTML report, then the lineage of the results → a parameter sweep with walk-forward validation.
 *
 *   node scripts/quickstart.mjs [--lake DIR]        (./scripts/demo.sh runs it after set-up)
 *
 * Everything it writes is inside the lake (sample inputs under <lake>/staging/quickstart-samples).
 * Run it twice: the second run publishes nothing new (every step is idempotent).
 */

import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.dirname(here);
const { ArtifactStoreClient, resolvePython } = await import(path.join(repo, "ts-client", "dist", "src", "index.js"));

const { values: args } = parseArgs({ options: { lake: { type: "string", default: "lake" } } });
const lake = path.resolve(args.lake);
const python = resolvePython().executable;

const step = (n, text) => console.log(`\n[${n}/9] ${text}`);
const num = (n) => Number(n).toLocaleString("en-US");
const fixed = (x, d = 4) => (x === null || x === undefined ? "n/a" : x.toFixed(d));
const progress = (label) => ({
  onProgress: (p) => {
    if (process.stderr.isTTY && p.total) process.stderr.write(`\r      ${label} ${p.done}/${p.total} ${p.message ?? ""}`.padEnd(78) + (p.done >= p.total ? "\n" : ""));
  },
});

step(1, "sample inputs: a Telegram Desktop export (3 chats, 3 days) and 1-minute candles");
const samples = path.join(lake, "staging", "quickstart-samples");
const made = JSON.parse(execFileSync(python, [path.join(repo, "scripts", "make_sample_data.py"), samples], { encoding: "utf8" }));
console.log(`      ${made.calls} calls of ${made.tokens} tokens in ${path.relative(process.cwd(), made.export)}`);

const store = new ArtifactStoreClient({ lake, pythonPath: python, timeoutMs: 600_000 });
try {
  const info = await store.start();
  console.log(`      daemon ${info.serverInfo.name} ${info.serverInfo.version}, lake ${info.lake.root}`);

  step(2, "load the candles into the embedded ClickHouse (chDB)");
  const loaded = await store.loadCandles({ paths: [made.candles] }, progress("loading"));
  const files = loaded.files.length === 1 ? "1 file" : `${loaded.files.length} files`;
  console.log(`      ${num(loaded.rowsRead)} candles loaded from ${files} (the ${loaded.table} table now holds ${num(loaded.rowsVisible)})`);

  step(3, "ingest the Telegram export → alerts_v1 artifacts (+ quarantine)");
  const ingest = await store.ingestTelegram({ paths: [made.export] }, progress("ingesting"));
  const chats = ingest.reports.flatMap((r) => r.chats ?? []);
  const alerts = chats.map((c) => c.alertsArtifactId).filter(Boolean);
  for (const c of chats) {
    console.log(`      ${c.chatName.padEnd(14)} alerts ${String(c.alertsFound).padStart(3)}  quarantined ${c.quarantined}  → ${c.alertsArtifactId ?? "-"}`);
  }

  step(4, "OHLCV slices around every alert (1 h before, 24 h after) and alert forward coverage");
  const slices = [];
  for (const alertsArtifactId of alerts) {
    const batch = await store.exportSlicesForAlerts({ alertsArtifactId, before: "1h", after: "24h" }, progress("slices"));
    slices.push(...batch.slices.map((s) => s.artifactId));
    const cov = await store.alertForwardCoverage({ alertsArtifactId, horizon: "24h", maxRows: 0 });
    console.log(`      ${alertsArtifactId.slice(0, 12)}…  ${batch.windows} windows, ${num(batch.rowCount)} candles; ` +
      `${cov.fullyCovered}/${cov.alerts} alerts fully covered (mean ratio ${cov.meanCoverageRatio.toFixed(3)})`);
  }

  step(5, "a DuckDB projection of alerts + candles (disposable, reused when inputs are the same)");
  const projection = await store.buildProjection({ tables: { alerts, candles: slices } }, progress("projection"));
  console.log(`      ${projection.projectionId}: ${Object.entries(projection.rowCount).map(([t, n]) => `${t} ${num(n)} rows`).join(", ")}` +
    `${projection.reused ? " (reused)" : ""}`);
  const top = await store.query({ projectionId: projection.projectionId, maxRows: 3,
    sql: "SELECT chain, count(*) AS alerts FROM alerts GROUP BY chain ORDER BY alerts DESC" });
  console.log(`      alerts by chain: ${top.rows.map((r) => `${r[0]} ${r[1]}`).join(", ")}`);

  step(6, "run the experiment: take profit 30%, stop loss 15%, trailing 10%, max hold 12 h, 30 bps fees");
  const reportPath = path.join(lake, "reports", "quickstart.html");
  const definition = {
    name: "quickstart-tp30-sl15",
    description: "Buy every call at the next candle's open; exit on TP/SL/trailing/time.",
    inputs: { alerts, ohlcv: slices },
    config: {
      strategy: { entryDelaySeconds: 60, takeProfitPct: 30, stopLossPct: 15, trailingStopPct: 10,
        maxHoldSeconds: 12 * 3600, feeBps: 30, slippageBps: 20, notional: 1000 },
      params: { source: "quickstart" },
    },
    provenance: { engineVersion: "quickstart", createdAt: "2026-01-25T00:00:00Z" },
  };
  const run = await store.runExperiment({ definition, reportPath }, progress("backtest"));
  console.log(`      run ${run.runId}: ${run.status} in ${Math.round(run.execution.duration ?? 0)} ms, ${run.newArtifacts} new artifacts`);

  step(7, "results");
  const trades = await store.getArtifact(run.outputs.trades);
  const metricRows = await store.buildProjection({ tables: { m: [run.outputs.metrics] } });
  const m = await store.query({ projectionId: metricRows.projectionId, maxRows: 20,
    sql: "SELECT metric_name, round(metric_value, 4), metric_unit FROM m ORDER BY metric_name" });
  console.log(`      ${num(trades.rowCount)} trades`);
  for (const [name, value, unit] of m.rows) console.log(`      ${String(name).padEnd(16)} ${value ?? "n/a"} ${unit ?? ""}`);

  step(8, `report: ${reportPath}\n      lineage of the trades artifact ${run.outputs.trades}:`);
  const lineage = await store.getLineage(run.outputs.trades);
  const byDepth = {};
  for (const n of lineage.nodes) (byDepth[n.depth] ??= []).push(n);
  for (const [depth, nodes] of Object.entries(byDepth)) {
    const kinds = {};
    for (const n of nodes) kinds[n.artifactType] = (kinds[n.artifactType] ?? 0) + 1;
    console.log(`      ${"  ".repeat(Number(depth) - 1)}depth ${depth}: ${Object.entries(kinds).map(([k, v]) => `${v} × ${k}`).join(", ")}`);
  }

  step(9, "a sweep of take profit × stop loss with walk-forward validation (4 folds, chosen by mean return)");
  const sweep = await store.runSweep({
    definition,
    grid: { takeProfitPct: [20, 30, 50], stopLossPct: [10, 15] },
    validation: { method: "walkForward", folds: 4, metric: "mean_return" },
  }, progress("sweep"));
  const v = sweep.validation;
  console.log(`      ${sweep.sweepId}: ${sweep.points.length} points`);
  for (const f of v.folds) {
    const p = sweep.points.find((x) => x.experimentId === f.experimentId)?.params ?? {};
    console.log(`      fold ${f.fold}: chose ${Object.entries(p).map(([k, x]) => `${k}=${x}`).join(", ")}; mean return ` +
      `in-sample ${fixed(f.inSample.mean_return)}, out-of-sample ${fixed(f.outOfSample.mean_return)}`);
  }
  const o = v.overfit;
  console.log(`      deflated Sharpe ratio ${o.dsr === null ? `n/a (${o.dsrReason})` : fixed(o.dsr)}, ` +
    `probability of backtest overfitting ${o.pbo === null ? `n/a (${o.pboReason})` : fixed(o.pbo)}`);
  console.log(`      browse it all: .venv/bin/bridge ui --lake ${path.relative(process.cwd(), lake) || "."}  (Sweeps → ${sweep.sweepId})`);
  console.log("\nRun it again: every step is reused or deduped, nothing new is published.");
} finally {
  await store.close();
}
