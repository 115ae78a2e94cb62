"""`bridge ingest telegram PATH...` and `bridge migrate duckdb PATH`: alert ingestion commands.

Exit codes: 0 ingested (including "nothing new"), 2 bad input (missing file, not an export,
unusable mapping), 130 interrupted. Quarantined candidates are not an error: they are counted in
the report and published as alerts_quarantine artifacts.
"""

from __future__ import annotations

import argparse
import sys

from bridge.cli._common import add_common, emit_json, lake_from, print_kv, print_table, progress_job
from bridge.errors import InvalidInput

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("ingest", help="ingest alerts from Telegram Desktop JSON exports")
    cmds = group.add_subparsers(dest="ingest_command", metavar="SUBCOMMAND")
    cmds.required = True
    p = add_common(cmds.add_parser("telegram", help="ingest one or more result.json exports (single chat or account)"))
    p.add_argument("paths", nargs="+", metavar="PATH", help="Telegram Desktop export file(s), JSON")
    p.add_argument("--assume-tz", metavar="TZ",
                   help="zone of the local `date` for old exports without date_unixtime (UTC, +02:00, Europe/Berlin); "
                        "without it such messages' candidates are quarantined as missing_utc_time")
    p.set_defaults(func=cmd_telegram)

    group = sub.add_parser("migrate", help="migrate legacy alert stores into artifacts")
    cmds = group.add_subparsers(dest="migrate_command", metavar="SUBCOMMAND")
    cmds.required = True
    p = add_common(cmds.add_parser("duckdb", help="publish a legacy DuckDB alerts table as alerts_v1 artifacts"))
    p.add_argument("path", metavar="PATH", help="the DuckDB database file (opened read-only)")
    p.add_argument("--table", default="alerts", help="table to read (default: alerts)")
    p.add_argument("--map", action="append", default=[], metavar="TARGET=COLUMN",
                   help="take alerts_v1 column TARGET from source COLUMN (repeatable)")
    p.add_argument("--default", action="append", default=[], metavar="TARGET=VALUE",
                   help="constant for an alerts_v1 column the table lacks, e.g. chat_id=legacy (repeatable)")
    p.add_argument("--assume-tz", metavar="TZ", help="zone of naive timestamps (default UTC)")
    p.set_defaults(func=cmd_migrate)


def _store(args):
    from bridge.store import Store

    return Store(lake_from(args))


def cmd_telegram(args) -> int:
    from bridge.ingest import ingest_telegram

    store = _store(args)
    reports = [ingest_telegram(store, p, assume_tz=args.assume_tz, job=progress_job(not args.json, "ingest"))
               for p in args.paths]
    if args.json:
        emit_json({"reports": reports})
    else:
        for rep in reports:
            _print_report(rep)
            print_table([_chat_row(c) for c in rep.chats],
                        ["chat_id", "chat_name", "messages", "alerts_found", "alerts_published", "quarantined", "state"])
    return 0


def cmd_migrate(args) -> int:
    from bridge.ingest import migrate_duckdb

    rep = migrate_duckdb(_store(args), args.path, args.table, _pairs(args.map, "--map"),
                         defaults=_pairs(args.default, "--default"), assume_tz=args.assume_tz,
                         job=progress_job(not args.json, "migrate"))
    if args.json:
        emit_json(rep)
    else:
        _print_report(rep)
        print_kv([("unmapped columns", ", ".join(rep.unmapped_columns) or "-"),
                  ("logical key", ", ".join(rep.logical_keys) or "-")])
    return 0


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise InvalidInput(f"{flag} takes TARGET=VALUE, got {item!r}", field=flag, value=item)
        out[k.strip()] = v.strip()
    return out


def _counts(d: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "0"


def _print_report(rep) -> None:
    print_kv([
        ("source", f"{rep.source} {rep.path}"),
        ("sha256", rep.sha256),
        ("read", rep.messages_read),
        ("alerts published", rep.alerts),
        ("duplicates", _counts(rep.duplicates)),
        ("quarantined", _counts(rep.quarantined)),
        ("skipped", _counts(rep.skipped)),
        ("artifacts", f"{len(rep.new_artifact_ids)} new, {len(rep.artifact_ids) - len(rep.new_artifact_ids)} existing"),
    ])
    sys.stdout.flush()


def _chat_row(c) -> dict:
    state = c.skipped or ("unchanged" if c.deduped else "published")
    return {**{k: getattr(c, k) for k in ("chat_id", "chat_name", "messages", "alerts_found", "alerts_published",
                                          "quarantined")}, "state": state}
