"""Experiment commands: `bridge experiment run|ls|show|sweep|report`.

    bridge experiment run definition.json            # prints the run, its outputs and metrics
    bridge experiment run --alerts ID --ohlcv ID --strategy '{"takeProfitPct": 50}' --report r.html
    bridge experiment run --alerts ID --ohlcv ID --strategy-id STRATEGY_ARTIFACT_ID
    bridge experiment sweep definition.json --grid '{"takeProfitPct": [20, 50]}'
    bridge experiment sweep definition.json --param takeProfitPct=20,50 --param stopLossPct=10,20
    bridge experiment ls [--experiment ID] [--status S] [--sweep ID]
    bridge experiment show RUN_ID|EXPERIMENT_ID
    bridge experiment report RUN_ID|EXPERIMENT_ID [-o report.html]
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

    p = add_common(cmds.add_parser("report", help="write the self-contained HTML report of a run"))
    p.add_argument("run_id", help="run id or experiment id")
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


def _definition(args) -> dict:
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
    res = exps.sweep(_definition(args), grid, job=progress_job(not args.json, "sweep"))
    if args.json:
        emit_json(res)
        return 0
    print(f"sweep {res.sweep_id}  ({len(res.points)} points over projection {res.projection_id})\n")
    axes = list(res.grid)
    metrics = list(res.points[0].metrics) if res.points else []
    rows = [{**{a: p.params.get(a) for a in axes}, **p.metrics, "experiment_id": p.experiment_id} for p in res.points]
    print_table(rows, [*axes, *metrics, "experiment_id"], max_width=60)
    return 0


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
                                                               ("curves", o.curves), ("diagnostics", o.diagnostics))],
                ("output", "artifact_id"))
    if o.metrics:
        print("\nmetrics")
        table = exps.store.read_table(o.metrics)
        print_table(table.select(["metric_name", "metric_value", "metric_unit"]).to_pylist(),
                    ("metric_name", "metric_value", "metric_unit"))


def cmd_report(args) -> int:
    exps = _experiments(args)
    run = exps.get_run(args.run_id)
    out = args.output or str(exps.store.lake.root / "reports" / f"{run.experiment_id}.html")
    path = exps.write_report(run.run_id, out)
    if args.json:
        emit_json({"runId": run.run_id, "experimentId": run.experiment_id, "path": path})
    else:
        print(path)
    return 0
