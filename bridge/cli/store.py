"""Artifact store commands: init, publish-csv (the PRD appendix's flags), publish, ls, show,
lineage, stale, supersede, tombstone, verify, gc, types."""

from __future__ import annotations

import argparse
import json
import sys

from bridge.cli._common import (
    EXIT_PROBLEM,
    add_common,
    emit_json,
    print_kv,
    print_table,
    progress_job,
    to_plain,
)
from bridge.errors import ValidationFailed

ARTIFACT_COLUMNS = ("artifact_id", "artifact_type", "schema_version", "status", "row_count", "min_ts", "max_ts", "logical_key")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="create a lake and its manifest (idempotent)")
    _lake_args(p)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("publish-csv", help="publish a CSV as an artifact (PRD appendix flags)")
    _lake_args(p)
    _publish_args(p)
    p.add_argument("--csv", required=True, help="CSV file to publish")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("publish", help="publish a CSV, TSV, Parquet or Arrow IPC file as an artifact")
    _lake_args(p)
    _publish_args(p)
    p.add_argument("path", help="input file (.csv, .tsv, .parquet, .arrow/.ipc/.feather)")
    p.set_defaults(func=cmd_publish)

    p = add_common(sub.add_parser("ls", help="list artifacts"))
    p.add_argument("--type", dest="artifact_type", help="artifact type")
    p.add_argument("--status", choices=("active", "superseded", "tombstoned"), help="only artifacts in this state")
    p.add_argument("--key-prefix", dest="logical_key_prefix", help="logical key prefix")
    p.add_argument("--tag", action="append", default=[], metavar="K=V", help="tag filter (repeatable, all must match)")
    p.add_argument("--from", dest="ts_from", metavar="TS", help="overlaps [from, to): max_ts >= from")
    p.add_argument("--to", dest="ts_to", metavar="TS", help="min_ts < to")
    p.add_argument("--limit", type=int, default=100, help="page size, 1-10000 (default 100)")
    p.add_argument("--cursor", help="next page (from a previous --json listing's next_cursor)")
    p.set_defaults(func=cmd_ls)

    p = add_common(sub.add_parser("show", help="one artifact: manifest row, tags, inputs, provenance"))
    p.add_argument("artifact_id", help="the artifact's id (32 hex characters)")
    p.set_defaults(func=cmd_show)

    p = add_common(sub.add_parser("lineage", help="upstream (default) or downstream lineage of an artifact"))
    p.add_argument("artifact_id", help="the artifact's id")
    p.add_argument("--downstream", action="store_true", help="what was made from it, instead of what it was made from")
    p.add_argument("--depth", type=int, default=None, help="1 = direct only (default: all)")
    p.set_defaults(func=cmd_lineage)

    p = add_common(sub.add_parser("stale", help="active artifacts whose inputs were superseded or tombstoned"))
    p.set_defaults(func=cmd_stale)

    p = add_common(sub.add_parser("supersede", help="mark OLD superseded by NEW (same type; idempotent)"))
    p.add_argument("new_artifact_id", help="the artifact that replaces OLD")
    p.add_argument("old_artifact_id", help="the artifact being replaced")
    p.set_defaults(func=cmd_supersede)

    p = add_common(sub.add_parser("tombstone", help="mark an artifact tombstoned (its files go at the next gc --apply)"))
    p.add_argument("artifact_id", help="the artifact to tombstone")
    p.add_argument("--reason", default="", help="why (kept in the artifact's history)")
    p.set_defaults(func=cmd_tombstone)

    p = add_common(sub.add_parser("verify", help="check files against the manifest: missing, truncated, corrupt, orphan"))
    depth = p.add_mutually_exclusive_group()
    depth.add_argument("--quick", action="store_true", help="existence, size and mode only (reads no file)")
    depth.add_argument("--incremental", action="store_true",
                       help="re-hash only what was published or modified since the last clean full verify")
    depth.add_argument("--since", metavar="ISO", help="re-hash only what was published or modified since this instant")
    depth.add_argument("--deep", action="store_true", help="also re-hash every artifact's content, not only its bytes")
    p.add_argument("--workers", type=int, metavar="N",
                   help="re-hash on N processes, this one and N-1 workers (a bucket: N threads; under 2,000 "
                        "artifacts: this process alone); default: one per usable CPU")
    p.set_defaults(func=cmd_verify)

    p = add_common(sub.add_parser("gc", help="remove files of tombstoned artifacts nothing active depends on (dry run unless --apply)"))
    p.add_argument("--apply", action="store_true", help="really delete (default: only say what would go)")
    p.add_argument("--include-superseded", action="store_true", help="also superseded artifacts")
    p.set_defaults(func=cmd_gc)

    p = add_common(sub.add_parser("types", help="the artifact types and their columns"))
    p.set_defaults(func=cmd_types)


def _lake_args(p: argparse.ArgumentParser) -> None:
    add_common(p)
    p.add_argument("--manifest-db", help="manifest SQLite path (default: <lake>/manifest/manifest.sqlite)")
    p.add_argument("--manifest-sql", help="schema v1 SQL to initialise with (default: the shipped manifest_v1.sql)")
    p.add_argument("--artifacts-root", help="artifacts directory; the lake root is its parent")


def _publish_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--artifact-type", required=True, help="artifact type (`bridge types` lists them)")
    p.add_argument("--schema-version", type=int, required=True, help="the type's schema version")
    p.add_argument("--logical-key", required=True,
                   help="what the data is, e.g. token=ABC/res=1m/from=.../to=... (at most 1024 characters)")
    p.add_argument("--writer-name", required=True, help="the program that made the data")
    p.add_argument("--writer-version", required=True, help="its version")
    p.add_argument("--git-commit", default=None,
                   help="the writer's git commit (default: detected from the working directory, else recorded unknown)")
    p.add_argument("--git-dirty", nargs="?", const="true", default=None, metavar="BOOL",
                   help="the writer's tree had uncommitted changes (flag, or true/false; default false with "
                        "--git-commit, else detected)")
    p.add_argument("--revive", action="store_true",
                   help="the data is a tombstoned artifact's: make it active again (restoring gc'd files)")
    p.add_argument("--params-json", default="{}", help="writer parameters as a JSON object")
    p.add_argument("--tag", action="append", default=[], metavar="K=V", help="tag (repeatable)")
    p.add_argument("--input-artifact-id", action="append", default=[], metavar="ID", help="lineage input (repeatable)")


def _open_store(args, *, create: bool = False):
    """The named lake's store. Only `init` creates a lake (and `--manifest-sql`, the PRD's way of
    saying "initialise with this schema"); everything else refuses a path with no lake."""
    from bridge.store import Lake, Store

    root = args.lake
    if getattr(args, "artifacts_root", None):
        from pathlib import Path

        artifacts = Path(args.artifacts_root).resolve()
        if artifacts.name != "artifacts":
            raise ValidationFailed("--artifacts-root must be a folder named 'artifacts' (the lake root is its parent)",
                                   field="--artifacts-root", value=str(artifacts))
        if root and Path(root).resolve() != artifacts.parent:
            raise ValidationFailed("--lake and --artifacts-root disagree", field="--artifacts-root")
        root = artifacts.parent
    manifest_db = getattr(args, "manifest_db", None)
    if manifest_db and not root:
        from pathlib import Path

        parent = Path(manifest_db).resolve().parent
        if parent.name == "manifest":  # <root>/manifest/manifest.sqlite, as in the PRD's lake
            root = parent.parent
    from bridge.cli._common import backend_kwargs

    lake = Lake(root, manifest_db=manifest_db, **backend_kwargs(args))
    if getattr(args, "manifest_sql", None):
        if not lake.manifest_url.startswith("sqlite:"):
            raise ValidationFailed("--manifest-sql initialises a SQLite manifest only", field="--manifest-sql")
        lake.ensure()
        _init_from_sql(lake, args.manifest_sql)
        create = True
    return Store(lake, create=create)


def _init_from_sql(lake, sql_path: str) -> None:
    from pathlib import Path

    from bridge.store import manifest

    path = Path(sql_path)
    if not path.is_file():
        raise ValidationFailed(f"no such file: {path}", field="--manifest-sql")
    con = manifest.connect(lake.manifest_db)
    try:
        if manifest.schema_version(con) == 0:
            con.executescript(path.read_text(encoding="utf-8"))
    finally:
        con.close()


def _pairs(items: list[str], flag: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise ValidationFailed(f"{flag} takes K=V, got {item!r}", field=flag, value=item)
        out.append((k, v))
    return out


def _bool(text: str, flag: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "y"):
        return True
    if t in ("0", "false", "no", "n"):
        return False
    raise ValidationFailed(f"{flag} takes true or false", field=flag, value=text)


def cmd_init(args) -> int:
    """Create the lake: the local folder, the manifest (SQLite file or PostgreSQL tables), the
    bucket if it is missing; with --manifest/--artifacts also a lake.toml naming them, so later
    commands on this folder need no flags."""
    from bridge.store.lake import write_lake_toml

    store = _open_store(args, create=True)
    lake = store.lake
    toml = None
    if getattr(args, "manifest", None) or getattr(args, "artifacts", None) or getattr(args, "s3_endpoint", None):
        toml = write_lake_toml(lake.root, manifest=getattr(args, "manifest", None),
                               artifacts=getattr(args, "artifacts", None), s3_endpoint=getattr(args, "s3_endpoint", None),
                               s3_region=getattr(args, "s3_region", None))
    store.files.ensure()
    info = {"lake": str(lake.root), "manifest": lake.manifest_display,
            "manifest_db": str(lake.manifest_db) if lake.manifest_db else None,
            "artifacts": store.files.url, "schema_version": store.schema_version,
            "lake_toml": str(toml) if toml else None}
    if args.json:
        emit_json(info)
    else:
        print(f"lake ready at {info['lake']} (manifest schema v{info['schema_version']})")
        if lake.is_team:
            print(f"  manifest:  {info['manifest']}\n  artifacts: {info['artifacts']}")
        if toml:
            print(f"  wrote {toml}: commands on this folder use that backend")
    return 0


def cmd_publish(args) -> int:
    try:
        params = json.loads(args.params_json)
    except ValueError as exc:
        raise ValidationFailed(f"--params-json is not JSON: {exc}", field="--params-json") from exc
    if not isinstance(params, dict):
        raise ValidationFailed("--params-json must be a JSON object", field="--params-json")
    store = _open_store(args)
    path = getattr(args, "csv", None) or args.path
    res = store.publish(
        args.artifact_type, args.schema_version, args.logical_key, path,
        tags=_pairs(args.tag, "--tag"), input_artifact_ids=args.input_artifact_id,
        writer_name=args.writer_name, writer_version=args.writer_version, git_commit=args.git_commit,
        git_dirty=None if args.git_dirty is None else _bool(args.git_dirty, "--git-dirty"), params=params,
        revive=args.revive, job=progress_job(not args.json, "publish"),
    )
    if args.json:
        emit_json(res)
    elif res.deduped:
        print(f"deduped ({res.mode}): {res.artifact_id} already holds this data under this key")
    else:
        a = res.artifact
        print(f"published {a.artifact_id}  {a.artifact_type} v{a.schema_version}  {a.row_count:,} rows  {a.path_parquet}")
    return 0


def cmd_ls(args) -> int:
    store = _open_store(args)
    page = store.list(
        artifact_type=args.artifact_type, status=args.status, logical_key_prefix=args.logical_key_prefix,
        tags=dict(_pairs(args.tag, "--tag")), ts_from=args.ts_from, ts_to=args.ts_to, limit=args.limit,
        cursor=args.cursor,
    )
    if args.json:
        emit_json(page)
        return 0
    print_table([to_plain(a) for a in page.items], ARTIFACT_COLUMNS,
                headers=("ID", "TYPE", "V", "STATUS", "ROWS", "MIN_TS", "MAX_TS", "LOGICAL KEY"))
    if page.next_cursor:
        print(f"(more: --cursor {page.next_cursor})")
    return 0


def cmd_show(args) -> int:
    store = _open_store(args)
    art = store.get(args.artifact_id)
    prov = store.provenance(args.artifact_id)
    if args.json:
        emit_json({**to_plain(art), "provenance": to_plain(prov)})
        return 0
    print_kv([(k, v) for k, v in to_plain(art).items() if k not in ("tags", "input_artifact_ids")])
    print_kv([("tags", ", ".join(f"{k}={v}" for k, vs in art.tags.items() for v in vs) or None),
              ("inputs", ", ".join(art.input_artifact_ids) or None)])
    print_kv([(f"provenance.{k}", json.dumps(v) if isinstance(v, dict) else v) for k, v in to_plain(prov).items()])
    return 0


def cmd_lineage(args) -> int:
    store = _open_store(args)
    graph = (store.downstream if args.downstream else store.upstream)(args.artifact_id, args.depth)
    if args.json:
        emit_json(graph)
        return 0
    print(f"{graph.direction} of {graph.root}:")
    print_table([to_plain(n) for n in graph.nodes], ("depth", "artifact_id", "artifact_type", "status", "logical_key"))
    return 0


def cmd_stale(args) -> int:
    store = _open_store(args)
    stale = store.stale()
    if args.json:
        emit_json(stale)
        return 0
    rows = [{"artifact_id": s.artifact_id, "artifact_type": s.artifact_type, "input": r.input_artifact_id,
             "status": r.input_status, "path": " > ".join(r.path)} for s in stale for r in s.reasons]
    print_table(rows, ("artifact_id", "artifact_type", "input", "status", "path"),
                headers=("STALE ARTIFACT", "TYPE", "BECAUSE OF", "WHICH IS", "PATH"), max_width=80)
    return 0


def cmd_supersede(args) -> int:
    store = _open_store(args)
    old = store.supersede(args.new_artifact_id, args.old_artifact_id)
    if args.json:
        emit_json(old)
    else:
        print(f"{old.artifact_id} is superseded by {args.new_artifact_id}")
    return 0


def cmd_tombstone(args) -> int:
    store = _open_store(args)
    art = store.tombstone(args.artifact_id, args.reason)
    if args.json:
        emit_json(art)
    else:
        print(f"{art.artifact_id} is tombstoned; `bridge gc --apply` removes its files once nothing active needs them")
    return 0


def cmd_verify(args) -> int:
    store = _open_store(args)
    if args.workers is not None and args.workers < 1:
        raise ValidationFailed(f"--workers must be 1 or more (got {args.workers})", field="--workers")
    report = store.verify(quick=args.quick, deep=args.deep, incremental=args.incremental, since=args.since,
                          workers=args.workers, job=progress_job(not args.json, "verify"))
    if args.json:
        emit_json(report)
    elif report.ok:
        print(f"ok: {report.checked} artifacts verified ({report.mode}, {report.hashed} files re-hashed), no problems")
    else:
        rows = [{**to_plain(i), "affected": len(i.affected) or None} for i in report.issues]
        print_table(rows, ("kind", "artifact_id", "affected", "path", "detail"), max_width=90)
        for i in report.issues:
            if i.affected:
                print(f"{i.artifact_id} reaches {len(i.affected)} active artifact(s): {', '.join(i.affected)}")
        print(f"{len(report.issues)} problem(s) in {report.checked} artifacts", file=sys.stderr)
    return 0 if report.ok else EXIT_PROBLEM


def cmd_gc(args) -> int:
    store = _open_store(args)
    report = store.gc(dry_run=not args.apply, include_superseded=args.include_superseded)
    if args.json:
        emit_json(report)
        return 0
    verb = "would remove" if report.dry_run else "removed"
    print(f"{verb} files of {len(report.removed)} artifact(s) and {len(report.orphan_files)} orphan file(s), "
          f"{report.bytes_freed:,} bytes")
    for aid in report.removed:
        print(f"  {aid}")
    for k in report.kept:
        print(f"  kept {k.artifact_id}: {k.reason}")
    if report.dry_run and (report.removed or report.orphan_files):
        print("run again with --apply to delete")
    return 0


def cmd_types(args) -> int:
    from bridge.store.spec import SPECS

    rows = [{"type": s.artifact_type, "version": s.schema_version, "derived": s.derived,
             "columns": ", ".join(f"{c.name}:{c.type}{'?' if c.nullable else ''}" for c in s.columns),
             "sort_key": ",".join(s.sort_key)} for s in SPECS.values()]
    if args.json:
        emit_json(rows)
    else:
        print_table(rows, ("type", "version", "derived", "sort_key", "columns"), max_width=100)
    return 0
