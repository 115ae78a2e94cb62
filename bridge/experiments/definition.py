"""ExperimentDefinition and ExperimentResult (PRD FR-2), as msgspec Structs: camelCase in JSON,
snake_case in Python, unknown fields refused.

A definition may leave out `experimentId` (then it is derived from the name, inputs and config,
so the same definition always gets the same id) and `provenance.createdAt` (then the run uses the
newest `created_at` of its inputs, so metrics' computed_at stays deterministic).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import msgspec

from bridge.errors import ValidationFailed
from bridge.experiments.options import OPTIONAL_CONFIG_KEYS, AnalysisConfig, PortfolioConfig, SweepValidationResult
from bridge.experiments.strategy import Strategy

__all__ = [
    "Config", "DateRange", "Execution", "ExperimentConfig", "ExperimentDateRange", "ExperimentDefinition",
    "ExperimentExecution", "ExperimentInputs", "ExperimentOutputs", "ExperimentProvenance", "ExperimentResult",
    "FrozenInput", "Inputs", "config_builtins", "Outputs", "Provenance", "SweepPoint", "SweepResult",
    "definition_hash", "load_definition",
]

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class _S(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    pass


class ExperimentInputs(_S):
    alerts: list[str]
    ohlcv: list[str]
    strategies: list[str] = []


class ExperimentDateRange(_S, rename={"from_": "from", "to": "to"}):
    from_: str | None = None    # inclusive, ISO-8601 (no offset = UTC)
    to: str | None = None       # exclusive


class ExperimentConfig(_S):
    """`strategy` inline, or left out when `inputs.strategies` names exactly one strategy artifact
    (the run reads that one). An inline strategy is published as a strategy artifact by the run."""

    strategy: Strategy | None = None
    date_range: ExperimentDateRange | None = None
    params: dict[str, Any] = {}
    portfolio: PortfolioConfig | None = None    # absent: the independent mode (docs: "Portfolio mode")
    analysis: AnalysisConfig | None = None      # breakdown settings (docs: "Breakdowns")


class ExperimentProvenance(_S):
    git_commit: str | None = None
    git_dirty: bool = False
    engine_version: str | None = None
    created_at: str | None = None


class ExperimentDefinition(_S):
    name: str
    inputs: ExperimentInputs
    config: ExperimentConfig
    experiment_id: str | None = None
    description: str | None = None
    provenance: ExperimentProvenance = msgspec.field(default_factory=ExperimentProvenance)
    allow_superseded: bool = False


class FrozenInput(_S):
    role: str
    artifact_id: str
    artifact_type: str
    content_hash: str
    status: str


class ExperimentOutputs(_S):
    trades: str | None = None
    metrics: str | None = None
    curves: str | None = None
    diagnostics: str | None = None
    fills: str | None = None
    breakdown: str | None = None


class ExperimentExecution(_S):
    started_at: str | None = None
    completed_at: str | None = None
    duration: float | None = None     # milliseconds
    error: str | None = None
    error_type: str | None = None


class ExperimentResult(_S):
    run_id: str
    experiment_id: str
    name: str
    status: Literal["pending", "running", "completed", "failed"]
    outputs: ExperimentOutputs
    execution: ExperimentExecution
    inputs: list[FrozenInput] = []
    projection_id: str | None = None
    sweep_id: str | None = None
    created_at: str | None = None
    new_artifacts: int = 0


# Short names for Python callers; the wire/schema names are the Experiment* ones.
Inputs, DateRange, Config, Provenance, Outputs, Execution = (
    ExperimentInputs, ExperimentDateRange, ExperimentConfig, ExperimentProvenance, ExperimentOutputs, ExperimentExecution)


def load_definition(data: Any) -> ExperimentDefinition:
    """A definition from a dict, JSON text/bytes, a path to a JSON file, or a definition.

    Raises:
        ValidationFailed: not a valid definition (msgspec's message names the field path).
    """
    if isinstance(data, ExperimentDefinition):
        d = data
    else:
        try:
            if isinstance(data, Path) or (isinstance(data, str) and data.strip().endswith(".json")
                                          and not data.strip().startswith("{")):
                d = msgspec.json.decode(Path(data).read_bytes(), type=ExperimentDefinition)
            elif isinstance(data, (str, bytes)):
                d = msgspec.json.decode(data, type=ExperimentDefinition)
            else:
                d = msgspec.convert(data, ExperimentDefinition)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise ValidationFailed(f"invalid experiment definition: {exc}", column="definition") from None
        except OSError as exc:
            raise ValidationFailed(f"cannot read the definition file: {exc}", path=str(data)) from None
    if d.config.strategy is not None:
        d.config.strategy.validate()
    elif len(d.inputs.strategies) != 1:
        raise ValidationFailed("a definition needs config.strategy or exactly one id in inputs.strategies "
                               f"(got {len(d.inputs.strategies)})", column="config.strategy")
    if d.config.portfolio is not None:
        d.config.portfolio.validate()
    if d.config.analysis is not None:
        d.config.analysis.validate()
    _check_limits(d)
    if not d.inputs.alerts or not d.inputs.ohlcv:
        raise ValidationFailed("a definition needs at least one alerts and one ohlcv artifact id", column="inputs")
    _check_date_range(d)
    if d.experiment_id is None:
        d = msgspec.structs.replace(d, experiment_id=derive_experiment_id(d))
    if not _ID_RE.match(d.experiment_id or ""):
        raise ValidationFailed("experimentId must be 1-128 characters of letters, digits, '_', '.', '-'",
                               column="experimentId", value=d.experiment_id)
    return d


def date_range_micros(d: ExperimentDefinition) -> tuple[int | None, int | None]:
    """config.dateRange as [from, to) in epoch microseconds (None = open).

    Raises:
        ValidationFailed: a bound is not ISO-8601.
    """
    from bridge.store.timeutil import parse_iso, to_micros

    dr = d.config.date_range
    if dr is None:
        return None, None
    out: list[int | None] = []
    for name, value in (("from", dr.from_), ("to", dr.to)):
        if value is None:
            out.append(None)
            continue
        try:
            out.append(to_micros(parse_iso(value)))
        except ValueError:
            raise ValidationFailed(f"config.dateRange.{name} is not ISO-8601", column=f"dateRange.{name}",
                                   value=value) from None
    return out[0], out[1]


def _check_limits(d: ExperimentDefinition) -> None:
    """The manifest's limits (docs/store.md, "Limits"): name, description and git commit are
    text of at most 1,024 characters, the definition at most 1 MiB of JSON."""
    from bridge.store.limits import check_json_size, check_text

    check_text(d.name, "name")
    check_text(d.description, "description", optional=True, allow_empty=True)
    check_text(d.provenance.git_commit, "provenance.gitCommit", optional=True)
    check_json_size(msgspec.to_builtins(d), "definition")


def _check_date_range(d: ExperimentDefinition) -> None:
    lo, hi = date_range_micros(d)
    if lo is not None and hi is not None and lo >= hi:
        dr = d.config.date_range
        raise ValidationFailed(
            f"invalid experiment definition: config.dateRange.from ({dr.from_}) must be before "
            f"config.dateRange.to ({dr.to}); the range is [from, to)",
            column="dateRange", value=f"{dr.from_}..{dr.to}",
        )


def derive_experiment_id(d: ExperimentDefinition) -> str:
    body = {"name": d.name, "inputs": msgspec.to_builtins(d.inputs), "config": config_builtins(d.config)}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", d.name).strip("-.")[:48] or "exp"
    return f"{slug}-{digest[:12]}"


def config_builtins(config: ExperimentConfig) -> dict[str, Any]:
    """The config as JSON builtins, the strategy in its canonical form (optional features at their
    defaults left out, so ids of definitions that do not use them do not change)."""
    out = msgspec.to_builtins(config)
    if config.strategy is not None:
        out["strategy"] = config.strategy.to_json_dict()
    else:
        out.pop("strategy", None)
    for key in OPTIONAL_CONFIG_KEYS:  # portfolio, analysis: left out when absent
        if out.get(key) is None:
            out.pop(key, None)
    return out


def definition_hash(d: ExperimentDefinition) -> str:
    text = json.dumps(msgspec.to_builtins(d), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class SweepPoint(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    experiment_id: str
    run_id: str
    params: dict[str, Any]
    metrics: dict[str, float | None]
    status: str


class SweepResult(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    sweep_id: str
    experiment_id: str
    projection_id: str | None
    grid: dict[str, list[Any]]
    points: list[SweepPoint]
    validation: SweepValidationResult | None = None   # with out-of-sample validation (docs: "Out-of-sample sweeps")
