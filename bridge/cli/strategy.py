"""Strategy commands: `bridge strategy import|ls|show|publish`.

    bridge strategy import scenarios.json      # the researchers' scenario format -> strategy artifacts
    bridge strategy publish '{"ladder": [{"takeProfitPct": 100, "sizePct": 50}], "stopLossPct": 30}'
    bridge strategy ls
    bridge strategy show STRATEGY_ARTIFACT_ID
    bridge experiment run --alerts A --ohlcv O --strategy-id STRATEGY_ARTIFACT_ID
"""

from __future__ import annotations

import argparse
import json

from bridge.cli._common import add_common, emit_json, lake_from, print_kv, print_table
from bridge.errors import ValidationFailed


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("strategy", help="strategies as artifacts: import, publish, ls, show")
    cmds = group.add_subparsers(dest="strategy_command", metavar="SUBCOMMAND")
    cmds.required = True

    p = add_common(cmds.add_parser(
        "import", help="turn a scenario file of the researchers' simulator into strategy artifacts",
        description="Publish one strategy artifact per scenario of FILE (one scenario, or {version, global: "
                    "{defaults}, scenarios: [...]}). Unknown fields are refused with their path; fields that "
                    "map with a different rule are listed per strategy. docs/experiments.md has the mapping."))
    p.add_argument("file", help="scenario JSON file")
    p.set_defaults(func=cmd_import)

    p = add_common(cmds.add_parser("publish", help="publish one strategy (our JSON: camelCase StrategyConfig)"))
    p.add_argument("strategy", help="strategy JSON object, or a path to a JSON file")
    p.set_defaults(func=cmd_publish)

    p = add_common(cmds.add_parser("ls", help="list strategy artifacts"))
    p.set_defaults(func=cmd_ls)

    p = add_common(cmds.add_parser("show", help="one strategy artifact: its fields and ladder"))
    p.add_argument("artifact_id", help="the strategy artifact's id (`bridge strategy ls` lists them)")
    p.set_defaults(func=cmd_show)


def _strategies(args):
    from bridge.experiments.strategies import Strategies
    from bridge.store import Store

    return Strategies(Store(lake_from(args)))


def cmd_import(args) -> int:
    res = _strategies(args).import_file(args.file)
    if args.json:
        emit_json(res)
        return 0
    print(f"{len(res.strategies)} strategies from {res.source}\n")
    print_table([{"scenario": s.scenario, "artifact_id": s.artifact_id, "new": not s.deduped,
                  "legs": _ladder_text(s.strategy)} for s in res.strategies],
                ["scenario", "artifact_id", "new", "legs"], max_width=70)
    for s in res.strategies:
        if s.notes:
            print(f"\n{s.scenario}: mapped with a different rule")
            for n in s.notes:
                print(f"  - {n}")
    return 0


def cmd_publish(args) -> int:
    from pathlib import Path

    text = args.strategy
    if not text.lstrip().startswith("{"):
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationFailed(f"cannot read {args.strategy}: {exc.strerror}", path=args.strategy) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"strategy is not JSON: {exc}", column="strategy") from None
    ref = _strategies(args).publish(data)
    if args.json:
        emit_json(ref)
        return 0
    print_kv([("artifact_id", ref.artifact_id), ("name", ref.name), ("new", not ref.deduped)])
    return 0


def cmd_ls(args) -> int:
    refs = _strategies(args).list()
    if args.json:
        emit_json({"strategies": refs})
        return 0
    if not refs:
        print("no strategies (bridge strategy import FILE, or bridge strategy publish JSON)")
        return 0
    print_table([{"name": r.name, "artifact_id": r.artifact_id, "created_at": r.created_at} for r in refs],
                ["name", "artifact_id", "created_at"])
    return 0


def cmd_show(args) -> int:
    ref = _strategies(args).ref(args.artifact_id)
    if args.json:
        emit_json(ref)
        return 0
    s = ref.strategy
    fields = {k: v for k, v in s.to_json_dict().items() if k != "ladder" and v is not None}
    print_kv([("artifact_id", ref.artifact_id), ("strategy_hash", ref.strategy_hash), *fields.items()])
    legs = s.legs()
    if legs:
        print("\nladder (targets relative to the entry fill before slippage):")
        print_table([{"leg": i, "takeProfitPct": g.take_profit_pct, "multiple": 1 + g.take_profit_pct / 100,
                      "sizePct": g.size_pct} for i, g in enumerate(legs)], ["leg", "takeProfitPct", "multiple", "sizePct"])
    return 0


def _ladder_text(s) -> str:
    return ", ".join(f"{g.size_pct:g}% @ {1 + g.take_profit_pct / 100:g}x" for g in s.legs()) or "-"
