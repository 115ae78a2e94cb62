"""Experiment commands: `bridge experiment run|ls|show|sweep|report`.

    bridge experiment run definition.json            # prints the run, its outputs and metrics
    bridge experiment run --alerts ID --ohlcv ID --strategy '{"takeProfitPct": 50}' --report r.html
    bridge experiment run --alerts ID --ohlcv ID --strategy-id STRATEGY_ARTIFACT_ID
    bridge experiment sweep definition.json --grid '{"takeProfitPct": [20, 50]}'
    bridge experiment sweep definition.json --param takeProfitPct=20,50 --param stopLossPct=10,20
    bridge experiment ls [--experiment ID] [--status S] [--sweep ID]
    bridge experiment show RUN_ID|EXPERIMENT_ID
    bridge experiment report RUN_ID|EXPERIMENT_ID|SWEEP_ID [-o report.html]
    bridge experiment run definition.json --capital 10000 --fraction 0.05 --max-positions 10
    bridge experiment sweep definition.json --param takeProfitPct=20,50 --walk-forward 5 --select-metric mean_return
"""

from __future__ import annotations

import argparse
import json

from bridge.cli._common import add_common, emit_json, lake_from, print_kv, print_table, progress_job, to_plain
from bridge.errors import ValidationFailed

RUN_COLUMNS = ("run_id", "experiment_id", "status", "created_at", "duration_ms", "new", "error")


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("experiment", help="backtest experiments over frozen artifacts: run, ls, show, sweep, report")
    cmds = group.add_subparsers(dest="experiment_command", metavar="SUBCOMMAND")
    cmds.required = True

    p = add_common(cmds.add_parser("run", help="run an experiment definition (JSON file) and publish its results"))
    p.add_argument("definition", nargs="?", help="ExperimentDefinition JSON file (or build one with the flags below)")
    _inline_definition_args(p)
    p.add_argument("--allow-superseded", action="store_true", help="accept superseded inputs (else refused)")
    p.add_argument("--report", metavar="HTML", help="also write the HTML report here")
    p.set_defaults(func=cmd_run)

    p = add_common(cmds.add_parser("sweep", help="run a grid of strategy parameters over one projection"))
    p.add_argument("definition", nargs="?", help="ExperimentDefinition JSON file (the base point), or the flags below")
    _inline_definition_args(p)
    p.add_argument("--grid", help='JSON object or file: {"takeProfitPct": [20, 50], ...}')
    p.add_argument("--param", action="append", default=[], metavar="NAME=V1,V2",
                   help="one grid axis (repeatable); numbers, true/false, null")
    v = p.add_argument_group("out-of-sample validation (docs/experiments.md, 'Out-of-sample sweeps')")
    v.add_argument("--split", metavar="FRACTION|TS", default=None,
                   help="in-sample share of the alerts (e.g. 0.7) or the cut time (ISO-8601)")
    v.add_argument("--walk-forward", type=int, metavar="K", default=None, help="anchored walk-forward over K folds")
    v.add_argument("--select-metric", default=None, metavar="NAME",
                   help="per-trade metric that picks the in-sample best point (default mean_return)")
    v.add_argument("--cscv-blocks", type=int, default=None, metavar="S", help="CSCV blocks for the PBO (even, default 16)")
    p.set_defaults(func=cmd_sweep)

    p = add_common(cmds.add_parser("ls", help="list runs, newest first"))
    p.add_argument("--experiment", dest="experiment_id", help="only runs of this experiment id")
    p.add_argument("--status", choices=("pending", "running", "completed", "failed"), help="only runs in this state")
    p.add_argument("--sweep", dest="sweep_id", help="only runs of this sweep")
    p.add_argument("--limit", type=int, default=50, help="at most this many runs, newest first (default 50)")
    p.set_defaults(func=cmd_ls)

    p = add_common(cmds.add_parser("show", help="one run (or an experiment's latest run): inputs, outputs, metrics"))
    p.add_argument("run_id", help="run id or experiment id")
    p.set_defaults(func=cmd_show)

    p = add_common(cmds.add_parser("report", help="write the self-contained HTML report of a run or a sweep"))
    p.add_argument("run_id", help="run id, experiment id or sweep id (sweep-...)")
    p.add_argument("-o", "--output", default=None, help="HTML path (default: <lake>/reports/<experiment>.html)")
    p.set_defaults(func=cmd_report)


def _inline_definition_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("definition without a file")
    g.add_argument("--alerts", action="append", default=[], metavar="ID", help="alerts artifact id (repeatable)")
    g.add_argument("--ohlcv", action="append", default=[], metavar="ID", help="ohlcv_slice artifact id (repeatable)")
    g.add_argument("--strategy", default=None, metavar="JSON", help='strategy object, e.g. \'{"takeProfitPct": 50}\'')
    g.add_argument("--strategy-id", default=None, metavar="ID",
                   help="a strategy artifact id (bridge strategy ls) instead of --strategy")
    g.add_argument("--name", default=None, help="experiment name (default: cli)")
    g.add_argument("--id", dest="experiment_id", default=None, help="experiment id (default: derived)")
    g.add_argument("--from", dest="date_from", default=None, metavar="TS", help="alerts from (inclusive)")
    g.add_argument("--to", dest="date_to", default=None, metavar="TS", help="alerts to (exclusive)")
    pf = p.add_argument_group("portfolio mode and breakdown (set or override the definition's sections)")
    pf.add_argument("--portfolio", metavar="JSON", default=None, help='portfolio object, e.g. \'{"maxPositions": 10}\'')
    pf.add_argument("--capital", type=float, default=None, help="portfolio: initial capital")
    pf.add_argument("--notional", type=float, default=None, help="portfolio: fixed size per position")
    pf.add_argument("--fraction", type=float, default=None, help="portfolio: size = this share of book equity")
    pf.add_argument("--max-positions", type=int, default=None, help="portfolio: open positions at once")
    pf.add_argument("--max-token-exposure-pct", type=float, default=None,
                    help="portfolio: cost of open positions in one token, percent of book equity")
    pf.add_argument("--equity-step", type=float, default=None, metavar="SECONDS",
                    help="portfolio: mark-to-market grid step (default: the candle resolution)")
    pf.add_argument("--breakdown-column", action="append", default=[], metavar="COL",
                    help="also break results down by this alert column (repeatable)")
    pf.add_argument("--min-count", type=int, default=None, help="breakdown: minimum trades to rank a group")
    pf.add_argument("--bootstrap", type=int, default=None, metavar="N", help="breakdown: bootstrap resamples")


def _definition(args) -> dict:
    return _with_options(_base_definition(args), args)


def _with_options(d, args):
    """The portfolio and analysis flags, set over the definition's own sections."""
    if not isinstance(d, dict) or not isinstance(d.get("config"), dict):
        return d
    cfg = d["config"]
    pf = dict(cfg.get("portfolio") or {})
    if args.portfolio:
        try:
            extra = json.loads(args.portfolio)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"--portfolio is not JSON: {exc}", column="portfolio") from None
        if not isinstance(extra, dict):
            raise ValidationFailed("--portfolio must be a JSON object", column="portfolio")
        pf.update(extra)
    for flag, key in (("capital", "initialCapital"), ("notional", "notional"), ("fraction", "fraction"),
                      ("max_positions", "maxPositions"), ("max_token_exposure_pct", "maxTokenExposurePct"),
                      ("equity_step", "equityStepSeconds")):
        if getattr(args, flag) is not None:
            pf[key] = getattr(args, flag)
    if args.fraction is not None:
        pf["sizing"] = "fraction"
    if pf:
        cfg["portfolio"] = pf
    an = dict(cfg.get("analysis") or {})
    if args.breakdown_column:
        an["breakdownColumns"] = list(args.breakdown_column)
    if args.min_count is not None:
        an["minCount"] = args.min_count
    if args.bootstrap is not None:
        an["bootstrapResamples"] = args.bootstrap
    if an:
        cfg["analysis"] = an
    return d


def _base_definition(args) -> dict:
    if args.definition:
        if args.alerts or args.ohlcv:
            raise ValidationFailed("give a definition file or --alerts/--ohlcv, not both", column="definition")
        return _load(args.definition, getattr(args, "allow_superseded", False))
    if not args.alerts or not args.ohlcv:
        raise ValidationFailed("give a definition file, or at least one --alerts and one --ohlcv id", column="definition")
    if args.strategy is not None and args.strategy_id:
        raise ValidationFailed("give --strategy or --strategy-id, not both", column="strategy")
    d: dict = {"name": args.name or "cli", "inputs": {"alerts": args.alerts, "ohlcv": args.ohlcv}, "config": {}}
    if args.strategy_id:
        d["inputs"]["strategies"] = [args.strategy_id]
    else:
        try:
            d["config"]["strategy"] = json.loads(args.strategy or "{}")
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"--strategy is not JSON: {exc}", column="strategy") from None
    if args.experiment_id:
        d["experimentId"] = args.experiment_id
    if args.date_from or args.date_to:
        d["config"]["dateRange"] = {"from": args.date_from, "to": args.date_to}
    if getattr(args, "allow_superseded", False):
        d["allowSuperseded"] = True
    return d


def _experiments(args):
    from bridge.experiments import Experiments
    from bridge.store import Store

    return Experiments(Store(lake_from(args)))


def _load(path: str, allow_superseded: bool):
    from pathlib import Path

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationFailed(f"cannot read {path}: {exc.strerror}", path=path) from None
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"{path} is not JSON: {exc}", path=path) from None
    if allow_superseded and isinstance(data, dict):
        data["allowSuperseded"] = True
    return data


def cmd_run(args) -> int:
    exps = _experiments(args)
    res = exps.run(_definition(args), job=progress_job(not args.json, "experiment"))
    report = exps.write_report(res.run_id, args.report) if args.report else None
    if args.json:
        emit_json({**to_plain(res), "report": report})
        return 0
    _print_run(exps, res)
    if report:
        print(f"\nreport: {report}")
    return 0


def cmd_sweep(args) -> int:
    grid = _grid(args)
    exps = _experiments(args)
    res = exps.sweep(_definition(args), grid, job=progress_job(not args.json, "sweep"), validation=_validation(args))
    if args.json:
        emit_json(res)
        return 0
    print(f"sweep {res.sweep_id}  ({len(res.points)} points over projection {res.projection_id})\n")
    axes = list(res.grid)
    metrics = list(res.points[0].metrics) if res.points else []
    rows = [{**{a: p.params.get(a) for a in axes}, **p.metrics, "experiment_id": p.experiment_id} for p in res.points]
    print_table(rows, [*axes, *metrics, "experiment_id"], max_width=60)
    v = res.validation
    if v is not None:
        m = v.settings.metric
        print(f"\nout of sample ({v.settings.method}, best point chosen in-sample by {m})")
        print_table([{"fold": f.fold, "experiment_id": f.experiment_id, f"is_{m}": f.in_sample.get(m),
                      f"oos_{m}": f.out_of_sample.get(m), "is_trades": f.in_sample.get("trade_count"),
                      "oos_trades": f.out_of_sample.get("trade_count"), "oos_from": f.out_of_sample_from}
                     for f in v.folds],
                    ("fold", "experiment_id", f"is_{m}", f"oos_{m}", "is_trades", "oos_trades", "oos_from"))
        o = v.overfit
        print_kv([("deflated Sharpe", o.dsr if o.dsr is not None else f"null ({o.dsr_reason})"),
                  ("  of", o.dsr_experiment_id), ("  Sharpe / expected max", f"{o.sr} / {o.sr0}"),
                  ("PBO", o.pbo if o.pbo is not None else f"null ({o.pbo_reason})"),
                  ("  combinations", o.pbo_combinations), ("validation artifact", v.artifact_id)])
    return 0


def _validation(args) -> dict | None:
    if args.split is None and args.walk_forward is None:
        if args.select_metric or args.cscv_blocks:
            raise ValidationFailed("--select-metric/--cscv-blocks need --split or --walk-forward", column="validation")
        return None
    if args.split is not None and args.walk_forward is not None:
        raise ValidationFailed("give --split or --walk-forward, not both", column="validation")
    v: dict = {}
    if args.walk_forward is not None:
        v.update(method="walkForward", folds=args.walk_forward)
    else:
        v["method"] = "split"
        try:
            v["inSampleFraction"] = float(args.split)
        except ValueError:
            v["splitAt"] = args.split
    if args.select_metric:
        v["metric"] = args.select_metric
    if args.cscv_blocks:
        v["cscvBlocks"] = args.cscv_blocks
    return v


def _grid(args) -> dict:
    from pathlib import Path

    grid: dict = {}
    if args.grid:
        text = args.grid
        if not text.lstrip().startswith("{"):
            text = Path(text).read_text(encoding="utf-8")
        try:
            grid.update(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"--grid is not a JSON object: {exc}", column="grid") from None
    for item in args.param:
        name, sep, values = item.partition("=")
        if not sep or not values:
            raise ValidationFailed(f"--param {item!r}: expected NAME=V1,V2,...", column="param")
        grid[name.strip()] = [_value(v.strip()) for v in values.split(",")]
    if not grid:
        raise ValidationFailed("a sweep needs --grid or at least one --param", column="grid")
    return grid


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def cmd_ls(args) -> int:
    runs = _experiments(args).list_runs(experiment_id=args.experiment_id, status=args.status, sweep_id=args.sweep_id,
                                        limit=args.limit)
    if args.json:
        emit_json(runs)
        return 0
    print_table([_row(r) for r in runs], RUN_COLUMNS)
    return 0


def _row(r) -> dict:
    return {"run_id": r.run_id, "experiment_id": r.experiment_id, "status": r.status, "created_at": r.created_at,
            "duration_ms": r.execution.duration, "new": r.new_artifacts, "error": r.execution.error}


def cmd_show(args) -> int:
    exps = _experiments(args)
    res = exps.get_run(args.run_id)
    if args.json:
        emit_json(res)
        return 0
    _print_run(exps, res)
    return 0


def _print_run(exps, res) -> None:
    print_kv([("run", res.run_id), ("experiment", res.experiment_id), ("name", res.name), ("status", res.status),
              ("sweep", res.sweep_id), ("projection", res.projection_id), ("started", res.execution.started_at),
              ("completed", res.execution.completed_at), ("duration_ms", res.execution.duration),
              ("new artifacts", res.new_artifacts), ("error", res.execution.error)])
    print("\ninputs (frozen)")
    print_table([to_plain(i) for i in res.inputs], ("role", "artifact_id", "artifact_type", "status", "content_hash"))
    print("\noutputs")
    o = res.outputs
    print_table([{"output": k, "artifact_id": v} for k, v in (("trades", o.trades), ("metrics", o.metrics),
                                                               ("curves", o.curves), ("diagnostics", o.diagnostics),
                                                               ("breakdown", o.breakdown))],
                ("output", "artifact_id"))
    if o.metrics:
        print("\nmetrics")
        table = exps.store.read_table(o.metrics)
        print_table(table.select(["metric_name", "metric_value", "metric_unit"]).to_pylist(),
                    ("metric_name", "metric_value", "metric_unit"))


def cmd_report(args) -> int:
    exps = _experiments(args)
    if args.run_id.startswith("sweep-"):
        out = args.output or str(exps.store.lake.root / "reports" / f"{args.run_id}.html")
        path = exps.write_sweep_report(args.run_id, out)
        if args.json:
            emit_json({"sweepId": args.run_id, "path": path})
        else:
            print(path)
        return 0
    run = exps.get_run(args.run_id)
    out = args.output or str(exps.store.lake.root / "reports" / f"{run.experiment_id}.html")
    path = exps.write_report(run.run_id, out)
    if args.json:
        emit_json({"runId": run.run_id, "experimentId": run.experiment_id, "path": path})
    else:
        print(path)
    return 0
