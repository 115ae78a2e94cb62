"""Run records in the manifest (tables of migration 0003_experiments.sql).

One row per execution: pending -> running -> completed | failed, with timings, the error, the
frozen inputs and the output artifact ids. A cancelled run is `failed` with error_type Cancelled.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from typing import Any

import msgspec

from bridge.errors import RunNotFound
from bridge.experiments.definition import (
    Execution,
    ExperimentDefinition,
    ExperimentResult,
    FrozenInput,
    Outputs,
    definition_hash,
)
from bridge.proc import pid_alive
from bridge.store.manifest import write_txn
from bridge.store.timeutil import now_iso

__all__ = ["RunRecords"]


class RunRecords:
    def __init__(self, store) -> None:
        self.store = store

    def _con(self):
        return self.store.connect()

    def create(self, d: ExperimentDefinition, *, sweep_id: str | None = None) -> str:
        run_id = f"run-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:10]}"
        with write_txn(self._con()) as con:
            con.execute(
                "INSERT INTO experiment_runs (run_id, experiment_id, sweep_id, name, status, definition_json, "
                "definition_hash, created_at, host, pid) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
                (run_id, d.experiment_id, sweep_id, d.name, msgspec.json.encode(d).decode("utf-8"),
                 definition_hash(d), now_iso(), _HOST, os.getpid()))
        return run_id

    def recover(self) -> int:
        """Mark pending/running runs of dead processes on this host as failed; returns how many."""
        rows = self._con().execute(
            "SELECT run_id, pid FROM experiment_runs WHERE status IN ('pending', 'running') AND host = ?",
            (_HOST,)).fetchall()
        dead = [run_id for run_id, pid in rows if pid is not None and not pid_alive(pid)]
        if dead:
            with write_txn(self._con()) as con:
                con.executemany(
                    "UPDATE experiment_runs SET status = 'failed', completed_at = ?, error = ?, error_type = 'Crashed' "
                    "WHERE run_id = ? AND status IN ('pending', 'running')",
                    [(now_iso(), "the process running this experiment died", r) for r in dead])
        return len(dead)

    def running(self, run_id: str) -> str:
        started = now_iso()
        with write_txn(self._con()) as con:
            con.execute("UPDATE experiment_runs SET status = 'running', started_at = ? WHERE run_id = ?", (started, run_id))
        return started

    def freeze(self, run_id: str, inputs: list[FrozenInput], projection_id: str | None = None) -> None:
        with write_txn(self._con()) as con:
            con.executemany(
                "INSERT INTO experiment_run_inputs VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, role, artifact_id)"
                " DO UPDATE SET artifact_type = excluded.artifact_type, content_hash = excluded.content_hash,"
                " status = excluded.status",
                [(run_id, i.role, i.artifact_id, i.artifact_type, i.content_hash, i.status) for i in inputs])
            if projection_id:
                con.execute("UPDATE experiment_runs SET projection_id = ? WHERE run_id = ?", (projection_id, run_id))

    def set_projection(self, run_id: str, projection_id: str) -> None:
        with write_txn(self._con()) as con:
            con.execute("UPDATE experiment_runs SET projection_id = ? WHERE run_id = ?", (projection_id, run_id))

    def complete(self, run_id: str, outputs: Outputs, new_artifacts: int, t0: float) -> None:
        self._finish(run_id, "completed", t0, outputs=outputs, new_artifacts=new_artifacts)

    def fail(self, run_id: str, exc: BaseException, t0: float) -> None:
        self._finish(run_id, "failed", t0, error=str(exc) or type(exc).__name__, error_type=type(exc).__name__)

    def _finish(self, run_id: str, status: str, t0: float, *, outputs: Outputs | None = None, new_artifacts: int = 0,
                error: str | None = None, error_type: str | None = None) -> None:
        out = msgspec.json.encode(outputs or Outputs()).decode("utf-8")
        with write_txn(self._con()) as con:
            con.execute(
                "UPDATE experiment_runs SET status = ?, completed_at = ?, duration_ms = ?, error = ?, error_type = ?, "
                "outputs_json = ?, new_artifacts = ? WHERE run_id = ?",
                (status, now_iso(), int((time.monotonic() - t0) * 1000), error, error_type, out, new_artifacts, run_id))

    def create_sweep(self, sweep_id: str, experiment_id: str, grid: dict[str, list[Any]]) -> None:
        with write_txn(self._con()) as con:
            con.execute("INSERT INTO experiment_sweeps VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (sweep_id, experiment_id, json.dumps(grid, sort_keys=True), now_iso()))

    # -- reading -------------------------------------------------------------------------------

    def get(self, run_id: str) -> ExperimentResult:
        """Raises:
        RunNotFound: no such run.
        """
        row = self._con().execute(f"SELECT {_COLS} FROM experiment_runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(run_id)
        return self._result(row)

    def latest_for_experiment(self, experiment_id: str) -> ExperimentResult | None:
        row = self._con().execute(
            f"SELECT {_COLS} FROM experiment_runs WHERE experiment_id = ? ORDER BY created_at DESC, run_id DESC LIMIT 1",
            (experiment_id,)).fetchone()
        return self._result(row) if row else None

    def list(self, *, experiment_id: str | None = None, status: str | None = None, sweep_id: str | None = None,
             limit: int = 100, search: str | None = None) -> list[ExperimentResult]:
        """Newest first. `search`: the run id, experiment id or name contains it (ASCII case-insensitive)."""
        where, args = [], []
        for col, val in (("experiment_id", experiment_id), ("status", status), ("sweep_id", sweep_id)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        con = self._con()
        if search:
            has = con.dialect.contains
            where.append(f"({has('lower(run_id)', 'lower(?)')} OR {has('lower(experiment_id)', 'lower(?)')}"
                         f" OR {has('lower(name)', 'lower(?)')})")
            args += [search, search, search]
        sql = f"SELECT {_COLS} FROM experiment_runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, run_id DESC LIMIT ?"
        return [self._result(r) for r in con.execute(sql, (*args, int(limit))).fetchall()]

    def definition(self, run_id: str) -> ExperimentDefinition:
        row = self._con().execute("SELECT definition_json FROM experiment_runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(run_id)
        return msgspec.json.decode(row[0], type=ExperimentDefinition)

    def _result(self, row) -> ExperimentResult:
        (run_id, exp_id, sweep_id, name, status, projection_id, created, started, completed, duration, error,
         error_type, outputs, new) = row
        inputs = [FrozenInput(role=r[0], artifact_id=r[1], artifact_type=r[2], content_hash=r[3], status=r[4])
                  for r in self._con().execute(
                      "SELECT role, artifact_id, artifact_type, content_hash, status FROM experiment_run_inputs "
                      "WHERE run_id = ? ORDER BY role, artifact_id", (run_id,))]
        return ExperimentResult(
            run_id=run_id, experiment_id=exp_id, name=name, status=status, sweep_id=sweep_id,
            projection_id=projection_id, created_at=created, new_artifacts=new, inputs=inputs,
            outputs=msgspec.json.decode(outputs, type=Outputs),
            execution=Execution(started_at=started, completed_at=completed,
                                duration=float(duration) if duration is not None else None,
                                error=error, error_type=error_type))


_HOST = socket.gethostname()



_COLS = ("run_id, experiment_id, sweep_id, name, status, projection_id, created_at, started_at, completed_at, "
         "duration_ms, error, error_type, outputs_json, new_artifacts")
