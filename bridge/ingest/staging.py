"""Staging shards: rows buffered in memory up to a shard size, then written as Parquet under
`<lake>/staging/alerts_v1_shards/<run>/...`, read back whole at publish time, and removed with
the run directory once the run ends (published, failed or cancelled)."""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["ShardWriter", "new_run_dir", "remove_run_dir", "remove_stale_runs"]

log = logging.getLogger(__name__)

SHARDS_DIR = "alerts_v1_shards"
STALE_AFTER_S = 24 * 3600


def new_run_dir(staging: Path, label: str) -> Path:
    run = staging / SHARDS_DIR / f"{label}-{uuid.uuid4().hex[:12]}"
    run.mkdir(parents=True, exist_ok=False)
    return run


def remove_run_dir(run: Path) -> None:
    shutil.rmtree(run, ignore_errors=True)


def remove_stale_runs(staging: Path, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove run directories a killed process left behind (untouched for `older_than_s`)."""
    root = staging / SHARDS_DIR
    removed = []
    if not root.is_dir():
        return removed
    cutoff = time.time() - older_than_s
    for run in root.iterdir():
        try:
            newest = max([run.stat().st_mtime] + [p.stat().st_mtime for p in run.rglob("*")])
        except OSError:
            continue
        if newest < cutoff:
            log.info("removing stale staging run %s", run)
            remove_run_dir(run)
            removed.append(run)
    return removed


class ShardWriter:
    """Append rows; every `rows_per_shard` rows become one Parquet shard of `schema`."""

    def __init__(self, directory: Path, kind: str, schema: pa.Schema, rows_per_shard: int = 5_000) -> None:
        self.directory = directory
        self.kind = kind
        self.schema = schema
        self.rows_per_shard = max(1, rows_per_shard)
        self.rows: list[dict[str, Any]] = []
        self.paths: list[Path] = []
        self.count = 0

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.count += 1
        if len(self.rows) >= self.rows_per_shard:
            self.flush()

    def extend(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.add(row)

    def flush(self) -> None:
        if not self.rows:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.kind}-{len(self.paths):05d}.parquet"
        table = pa.Table.from_pylist(self.rows, schema=self.schema)
        pq.write_table(table, path, compression="zstd")
        self.paths.append(path)
        self.rows = []

    def read(self) -> pa.Table:
        """Every row written so far, in the order added."""
        self.flush()
        if not self.paths:
            return self.schema.empty_table()
        return pa.concat_tables([pq.read_table(p, schema=self.schema) for p in self.paths])
