"""OHLCV commands: `bridge ohlcv load|export|coverage|sample`.

The candle source is `--dsn` (or $QUANTBOT_OHLCV_DSN), by default the lake's embedded chDB
(`chdb://<lake>/sources/chdb`); `--table` and `--column FIELD=NAME` map another table's shape.
A command opens the source only while it works, so it takes turns with a running daemon.
"""

from __future__ import annotations

import argparse
import os

from bridge.cli._common import add_common, emit_json, lake_from, print_kv, print_table, progress_job, to_plain
from bridge.errors import InvalidInput

DSN_ENV = "QUANTBOT_OHLCV_DSN"


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("ohlcv", help="OHLCV candles: load into ClickHouse/chDB, export slices, coverage")
    cmds = group.add_subparsers(dest="ohlcv_command", metavar="SUBCOMMAND")
    cmds.required = True

    p = _source_args(add_common(cmds.add_parser("load", help="load candle CSV/Parquet files into the source table")))
    p.add_argument("paths", nargs="+", metavar="FILE", help=".csv, .tsv or .parquet candle files")
    p.add_argument("--token", help="token for every row (when the file has no token column)")
    p.add_argument("--chain", help="chain for every row (when the file has no chain column)")
    p.add_argument("--interval", "--res", dest="interval", help="resolution for every row (e.g. 1m)")
    p.add_argument("--ts-unit", choices=("s", "ms", "us"), help="unit of integer epoch timestamps")
    p.set_defaults(func=cmd_load)

    p = _source_args(add_common(cmds.add_parser(
        "export", help="export (or reuse) a slice, or one slice per merged window around each alert")))
    p.add_argument("--token", help="token address (single slice)")
    p.add_argument("--chain", help="chain (single slice)")
    p.add_argument("--res", "--resolution", dest="resolution", required=True, help="resolution: 1s, 1m, 5m, 1h, 1d")
    p.add_argument("--from", dest="from_ts", help="start, inclusive (ISO-8601, Z)")
    p.add_argument("--to", dest="to_ts", help="end, exclusive (ISO-8601, Z)")
    p.add_argument("--alerts", metavar="ID", help="alerts artifact: export a window around every alert")
    p.add_argument("--before", default="1h", help="window before each alert (default 1h)")
    p.add_argument("--after", default="24h", help="window after each alert (default 24h)")
    p.add_argument("--refresh", action="store_true", help="query the source even if an active slice exists")
    p.set_defaults(func=cmd_export)

    p = _source_args(add_common(cmds.add_parser(
        "init-server", help="create the candle table on a ClickHouse server, or on a cluster with --cluster",
        description="Create the candle table. Without --cluster: one ReplacingMergeTree table on the DSN's server "
                    "(or the embedded chDB). With --cluster NAME: ON CLUSTER DDL — a ReplicatedReplacingMergeTree "
                    "table <table>_local on every shard and the Distributed table <table> over them, sharded by "
                    "token (docs/ohlcv.md). --dry-run prints the statements without connecting.")))
    p.add_argument("--cluster", default=None, metavar="NAME", help="the cluster name in the servers' remote_servers")
    p.add_argument("--dry-run", action="store_true", help="print the DDL, run nothing")
    p.set_defaults(func=cmd_init_server)

    p = add_common(cmds.add_parser("coverage", help="coverage of slices, or alert forward coverage"))
    p.add_argument("--slice", dest="slice_ids", action="append", default=[], metavar="ID",
                   help="slice artifact (repeatable)")
    p.add_argument("--alerts", metavar="ID", help="alerts artifact: forward coverage of each alert")
    p.add_argument("--horizon", default="24h", help="forward horizon after each alert (default 24h)")
    p.add_argument("--res", "--resolution", dest="resolution", default="1m", help="resolution (alerts; default 1m)")
    p.add_argument("--no-publish", action="store_true", help="compute and show only, publish nothing")
    p.add_argument("--limit", type=int, default=50, help="rows to show in tables (default 50)")
    p.set_defaults(func=cmd_coverage)

    p = add_common(cmds.add_parser("sample", help="write realistic sample candles (random walk) to a file"))
    p.add_argument("output", help="output file (.parquet or .csv)")
    p.add_argument("--tokens", required=True, help="comma-separated token addresses")
    p.add_argument("--chain", default="solana", help="chain of every token (default solana)")
    p.add_argument("--from", dest="from_ts", required=True, help="first candle, inclusive (ISO-8601, Z)")
    p.add_argument("--to", dest="to_ts", required=True, help="end, exclusive (ISO-8601, Z)")
    p.add_argument("--res", dest="resolution", default="1m", help="resolution: 1s, 1m, 5m, 1h, 1d (default 1m)")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same candles (default 0)")
    p.add_argument("--weekend-gaps", action="store_true", help="no candles on Saturdays and Sundays (UTC)")
    p.add_argument("--missing-ratio", type=float, default=0.0, help="share of single candles dropped at random")
    p.add_argument("--invalid-ratio", type=float, default=0.0, help="share of candles made invalid")
    p.set_defaults(func=cmd_sample)


def _source_args(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--dsn", default=None, help=f"candle source: chdb:///abs/path or http(s)://user:pass@host:port/db "
                                               f"(default: ${DSN_ENV}, else the lake's chDB)")
    p.add_argument("--table", default="candles", help="source table (default candles)")
    p.add_argument("--column", action="append", default=[], metavar="FIELD=NAME",
                   help="map a candle field to a source column (repeatable; NAME empty: no such column, chain only)")
    p.add_argument("--no-final", action="store_true", help="read without FINAL (the table is not a ReplacingMergeTree)")
    p.add_argument("--lock-timeout", type=float, default=120.0, help="seconds to wait for the chDB store (default 120)")
    return p


def _source(args, lake):
    from bridge.ohlcv.source import CandleSource

    columns: dict[str, str | None] = {}
    for item in args.column:
        field, sep, name = item.partition("=")
        if not sep:
            raise InvalidInput(f"--column {item!r} is not FIELD=NAME", field="--column", value=item)
        columns[field.strip()] = name.strip() or None
    return CandleSource.for_lake(lake, args.dsn or os.environ.get(DSN_ENV) or None, table=args.table,
                                 columns=columns, final=not args.no_final, lock_timeout=args.lock_timeout)


def _store(args):
    from bridge.store import Store

    return Store(lake_from(args))


def cmd_load(args) -> int:
    from bridge.ohlcv.load import load_candles

    if args.dsn or os.environ.get(DSN_ENV):  # another candle store: no lake needed
        from bridge.store.lake import Lake

        lake = Lake(args.lake)
    else:
        lake = lake_from(args)
    res = load_candles(_source(args, lake), args.paths, token=args.token, chain=args.chain, interval=args.interval,
                       ts_unit=args.ts_unit, job=progress_job(not args.json, "load"))
    if args.json:
        emit_json(res)
        return 0
    print_table([to_plain(f) for f in res.files], ("path", "rows"))
    print(f"loaded {res.rows_read:,} candles into {res.source} table {res.table}; "
          f"{res.rows_visible:,} candles in the table")
    return 0


def cmd_export(args) -> int:
    from bridge.ohlcv.slices import export_slice, export_slices_for_alerts

    store = _store(args)
    source = _source(args, store.lake)
    job = progress_job(not args.json, "export")
    if args.alerts:
        res = export_slices_for_alerts(store, source, args.alerts, args.before, args.after, args.resolution,
                                       refresh=args.refresh, job=job)
        if args.json:
            emit_json(res)
            return 0
        _slice_table(res.slices)
        print(f"{res.alerts} alerts → {res.windows} windows: {res.exported} exported, {res.reused} reused, "
              f"{res.row_count:,} candles, {res.quarantined} quarantined")
        return 0
    missing = [f for f, v in (("--token", args.token), ("--from", args.from_ts), ("--to", args.to_ts)) if not v]
    if missing:
        raise InvalidInput(f"export needs {', '.join(missing)} (or --alerts ID)", field=missing[0])
    res = export_slice(store, source, args.token, args.chain, args.resolution, args.from_ts, args.to_ts,
                       refresh=args.refresh, job=job)
    if args.json:
        emit_json(res)
        return 0
    print_kv([("artifact_id", res.artifact_id), ("logical_key", res.logical_key), ("rows", res.row_count),
              ("reused", res.reused), ("deduped", res.deduped), ("quarantined", res.quarantined),
              ("quarantine_artifact_id", res.quarantine_artifact_id)])
    return 0


def _slice_table(slices) -> None:
    print_table([to_plain(s) for s in slices],
                ("artifact_id", "token", "from_ts", "to_ts", "row_count", "quarantined", "reused"),
                headers=("SLICE", "TOKEN", "FROM", "TO", "ROWS", "QUAR", "REUSED"))


def cmd_coverage(args) -> int:
    from bridge.ohlcv.coverage import alert_forward_coverage, slice_coverage

    store = _store(args)
    job = progress_job(not args.json, "coverage")
    if args.alerts:
        cov = alert_forward_coverage(store, args.alerts, args.horizon, args.resolution,
                                     slice_ids=args.slice_ids or None, publish=not args.no_publish, job=job)
        res = cov.result(args.limit)
        if args.json:
            emit_json(res)
            return 0
        print_table(to_plain(res.rows), ("alert_id", "token", "alert_ts", "expected", "present", "coverage_ratio",
                                         "fully_covered"))
        _more(cov.table.num_rows, args.limit, cov.artifact_id)
        print_kv([*_totals(res), ("slices", len(res.slice_ids))])
        return 0
    if not args.slice_ids:
        raise InvalidInput("coverage needs --slice ID (repeatable) or --alerts ID", field="--slice")
    cov = slice_coverage(store, args.slice_ids, publish=not args.no_publish, job=job)
    res = cov.result(args.limit)
    if args.json:
        emit_json(res)
        return 0
    print_table(to_plain(res.summary), ("slice_id", "token", "resolution", "from_ts", "to_ts", "expected", "present",
                                        "missing", "duplicates", "off_grid", "coverage_ratio"),
                headers=("SLICE", "TOKEN", "RES", "FROM", "TO", "EXP", "PRESENT", "MISSING", "DUPS", "OFFGRID",
                         "RATIO"))
    _more(cov.summary.num_rows, args.limit, cov.summary_artifact_id)
    print()
    print_table(to_plain(res.gaps), ("token", "resolution", "gap_start", "gap_end", "missing_count"),
                headers=("TOKEN", "RES", "GAP START", "GAP END (EXCL)", "MISSING"))
    _more(cov.gaps.num_rows, args.limit, cov.gaps_artifact_id)
    print_kv(_totals(res))
    return 0


def _totals(res) -> list[tuple[str, object]]:
    """A coverage result's ids and totals (its fields that are not lists or the truncated flag)."""
    return [(k, v) for k, v in to_plain(res).items() if not isinstance(v, list) and k != "truncated"]


def _more(total: int, limit: int, artifact_id: str | None) -> None:
    """The rows a table left out, and how to see them (--json is cut to --limit rows too)."""
    if total > limit:
        where = f"; every row is in artifact {artifact_id}" if artifact_id else ""
        print(f"({total - limit:,} more row(s); raise --limit to show them{where})")


def cmd_init_server(args) -> int:
    from bridge.ohlcv.cluster import cluster_ddl
    from bridge.ohlcv.source import _q, table_columns

    from bridge.cli._common import backend_kwargs
    from bridge.store.lake import Lake

    # a server DSN needs no lake (the lake only locates the embedded chDB, which must exist)
    server = args.dsn or os.environ.get(DSN_ENV)
    source = _source(args, Lake(args.lake, **backend_kwargs(args)) if server else lake_from(args))
    cfg = source.config
    if args.cluster:
        statements = cluster_ddl(cfg, args.cluster)
        if cfg.info.kind != "http" and not args.dry_run:
            raise InvalidInput("ON CLUSTER DDL needs a ClickHouse server: pass --dsn http(s)://user:pass@host:port/db "
                               "(or --dry-run to print it)", field="--dsn", value=cfg.info.redacted)
    else:
        cols, key = table_columns(cfg)
        statements = [f"CREATE TABLE IF NOT EXISTS {_q(cfg.table)} ({cols}) "
                      f"ENGINE = ReplacingMergeTree ORDER BY ({key})"]
    if args.dry_run:
        if args.json:
            emit_json({"dsn": cfg.info.redacted, "cluster": args.cluster, "statements": statements})
        else:
            print(";\n\n".join(statements) + ";")
        return 0
    if args.cluster:
        with source.session() as s:
            for sql in statements:
                s.command(sql)
    else:
        source.ensure_table()
    if args.json:
        emit_json({"dsn": cfg.info.redacted, "cluster": args.cluster, "statements": statements, "applied": True})
    else:
        print(f"created the candle table on {cfg.info.redacted}" + (f" (cluster {args.cluster})" if args.cluster else ""))
    return 0


def cmd_sample(args) -> int:
    from bridge.ohlcv.sample import generate_candles, write_candles

    tokens = [t.strip() for t in args.tokens.split(",") if t.strip()]
    table = generate_candles(tokens, args.from_ts, args.to_ts, args.resolution, chain=args.chain, seed=args.seed,
                             weekend_gaps=args.weekend_gaps, missing_ratio=args.missing_ratio,
                             invalid_ratio=args.invalid_ratio)
    path = write_candles(table, args.output)
    if args.json:
        emit_json({"path": str(path.resolve()), "rows": table.num_rows, "tokens": tokens})
    else:
        print(f"wrote {table.num_rows:,} candles for {len(tokens)} token(s) to {path}")
    return 0
