"""Projection commands: `bridge project build|extend|ls|show|query|rebuild|dispose`.

Tables are given as `--table NAME=ID[,ID...]` (repeatable). Query output is a table for people
or, with --json, the QueryResult; `--output FILE` writes the whole result to a Parquet, Arrow
IPC or CSV file instead.
"""

from __future__ import annotations

import argparse
import json
import sys

from bridge.cli._common import (
    add_common,
    emit_json,
    lake_from,
    print_kv,
    print_table,
    progress_job,
    run_interruptibly,
)
from bridge.errors import InvalidInput


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("project", help="DuckDB projections: build, list, query, rebuild, dispose")
    cmds = group.add_subparsers(dest="project_command", metavar="SUBCOMMAND")
    cmds.required = True

    p = add_common(cmds.add_parser("build", help="build (or reuse) a projection of artifacts"))
    _table_arg(p, required=True)
    p.add_argument("--id", dest="projection_id", help="projection id (default: derived from the inputs)")
    p.add_argument("--mode", choices=("table", "view"), default="table",
                   help="table: materialised tables (default); view: views over the Parquet files")
    p.set_defaults(func=cmd_build)

    p = add_common(cmds.add_parser("extend", help="add artifacts to a projection's tables (or new tables)"))
    p.add_argument("projection_id", help="the projection's id (`bridge project ls` lists them)")
    _table_arg(p, required=True)
    p.set_defaults(func=cmd_extend)

    p = add_common(cmds.add_parser("ls", help="list projections, with a stale flag"))
    p.set_defaults(func=cmd_ls)

    p = add_common(cmds.add_parser("show", help="one projection: inputs, row counts, staleness"))
    p.add_argument("projection_id", help="the projection's id (`bridge project ls` lists them)")
    p.set_defaults(func=cmd_show)

    p = add_common(cmds.add_parser("query", help="run one read-only SQL statement against a projection"))
    p.add_argument("projection_id", help="the projection's id (`bridge project ls` lists them)")
    p.add_argument("sql", help="one SELECT statement ('-' reads it from stdin)")
    p.add_argument("--param", action="append", default=[], metavar="VALUE",
                   help="positional parameter for ? / $1 (repeatable; parsed as JSON when it parses, else text)")
    p.add_argument("--named", action="append", default=[], metavar="NAME=VALUE",
                   help="named parameter for $NAME (repeatable; value parsed like --param)")
    p.add_argument("--max-rows", type=int, default=10_000, help="rows to return inline (default 10000)")
    p.add_argument("--output", metavar="FILE",
                   help="write the whole result to FILE instead: a path outside the lake or in <lake>/cache/exports/")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists (default: refuse)")
    p.add_argument("--format", choices=("parquet", "arrow", "csv"), default=None,
                   help="output file format (default: from the file extension, else parquet)")
    p.set_defaults(func=cmd_query)

    p = add_common(cmds.add_parser("rebuild", help="rebuild a projection from its recorded inputs"))
    p.add_argument("projection_id", help="the projection's id (`bridge project ls` lists them)")
    p.set_defaults(func=cmd_rebuild)

    p = add_common(cmds.add_parser("dispose", help="delete a projection and its files"))
    p.add_argument("projection_id", help="the projection's id (`bridge project ls` lists them)")
    p.set_defaults(func=cmd_dispose)


def _table_arg(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--table", action="append", default=[], required=required, metavar="NAME=ID[,ID...]",
                   help="a table and its artifact ids (repeatable; the same NAME again adds ids)")


def _projections(args):
    from bridge.projections import Projections
    from bridge.store import Store

    return Projections(Store(lake_from(args)))


def _tables(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        name, sep, ids = item.partition("=")
        parts = [i.strip() for i in ids.split(",") if i.strip()]
        if not sep or not name or not parts:
            raise InvalidInput(f"--table takes NAME=ID[,ID...], got {item!r}", field="--table", value=item)
        out.setdefault(name.strip(), []).extend(parts)
    return out


def _value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _print_info(info, *, verb: str | None = None) -> None:
    if verb:
        print(f"{verb} {info.projection_id}")
    print_kv([
        ("projection", info.projection_id),
        ("mode", info.mode),
        ("file", info.duckdb_path + ("" if info.file_present else "  (missing: rebuild it)")),
        ("fingerprint", info.fingerprint),
        ("built at", info.built_at),
        ("stale", "yes" if info.stale else "no"),
    ])
    rows = [{"table": t, "type": f"{info.table_types[t].artifact_type} v{info.table_types[t].schema_version}",
             "artifacts": len(info.inputs[t]), "rows": info.row_count[t]} for t in info.tables]
    print()
    print_table(rows, ("table", "type", "artifacts", "rows"))
    for r in info.stale_reasons:
        print(f"stale: table {r.table}: {r.reason}")


def cmd_build(args) -> int:
    info = _projections(args).build(_tables(args.table), projection_id=args.projection_id, mode=args.mode,
                                    job=progress_job(not args.json, "build"))
    if args.json:
        emit_json(info)
    else:
        _print_info(info, verb="reused" if info.reused else "built")
    return 0


def cmd_extend(args) -> int:
    info = _projections(args).extend(args.projection_id, _tables(args.table), job=progress_job(not args.json, "extend"))
    if args.json:
        emit_json(info)
    else:
        _print_info(info, verb="unchanged" if info.reused else "extended")
    return 0


def cmd_rebuild(args) -> int:
    info = _projections(args).rebuild(args.projection_id, job=progress_job(not args.json, "rebuild"))
    if args.json:
        emit_json(info)
    else:
        _print_info(info, verb="rebuilt")
    return 0


def cmd_ls(args) -> int:
    infos = _projections(args).list()
    if args.json:
        emit_json(infos)
        return 0
    rows = [{"projection_id": i.projection_id, "mode": i.mode, "tables": ",".join(i.tables),
             "artifacts": i.artifact_count, "rows": sum(i.row_count.values()),
             "stale": i.stale, "built_at": i.built_at} for i in infos]
    print_table(rows, ("projection_id", "mode", "tables", "artifacts", "rows", "stale", "built_at"))
    return 0


def cmd_show(args) -> int:
    info = _projections(args).get(args.projection_id)
    if args.json:
        emit_json(info)
    else:
        _print_info(info)
    return 0


def cmd_dispose(args) -> int:
    _projections(args).dispose(args.projection_id)
    if args.json:
        emit_json({"projection_id": args.projection_id, "disposed": True})
    else:
        print(f"disposed {args.projection_id}")
    return 0


def cmd_query(args) -> int:
    sql = sys.stdin.read() if args.sql == "-" else args.sql
    if args.param and args.named:
        raise InvalidInput("use either --param (positional) or --named parameters, not both", field="--param")
    params = [_value(v) for v in args.param] or None
    if args.named:
        params = {}
        for item in args.named:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise InvalidInput(f"--named takes NAME=VALUE, got {item!r}", field="--named", value=item)
            params[name] = _value(value)
    output = None
    if args.output:
        fmt = args.format or {"csv": "csv", "arrow": "arrow", "ipc": "arrow", "feather": "arrow"}.get(
            args.output.rsplit(".", 1)[-1].lower(), "parquet")
        output = {"path": args.output, "format": fmt, "overwrite": args.overwrite}
    res = run_interruptibly(lambda job: _projections(args).query(args.projection_id, sql, params=params,
                                                                 max_rows=args.max_rows, output=output, job=job))
    if args.json:
        emit_json(res)
    elif res.output_path:
        print(f"wrote {res.row_count} rows to {res.output_path} ({res.output_format})")
    else:
        keys = [str(i) for i in range(len(res.columns))]
        rows = [dict(zip(keys, r)) for r in res.rows]
        print_table(rows, keys, headers=[c.name for c in res.columns])
        more = " (truncated: raise --max-rows or use --output)" if res.truncated else ""
        print(f"{res.row_count} row(s){more}", file=sys.stderr)
    return 0
