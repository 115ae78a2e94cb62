"""Experiments (FR-2, FR-6): vectorised DuckDB backtests over projections, results published as
artifacts with lineage, run records, sweeps and HTML reports. docs/experiments.md has the rules.

    from bridge.experiments import Experiments
    result = Experiments(store).run("definition.json")

DuckDB, pyarrow and numpy are imported only when something runs.
"""

from bridge.experiments.definition import (
    Config,
    DateRange,
    Execution,
    ExperimentDefinition,
    ExperimentResult,
    FrozenInput,
    Inputs,
    Outputs,
    Provenance,
    load_definition,
)
from bridge.experiments.engine import ENGINE_VERSION, SKIP_REASONS, BacktestResult, run_backtest, run_grid
from bridge.experiments.runner import Experiments, SweepPoint, SweepResult
from bridge.experiments.strategy import Strategy, strategy_from_mapping

__all__ = [
    "ENGINE_VERSION",
    "SKIP_REASONS",
    "BacktestResult",
    "Config",
    "DateRange",
    "Execution",
    "ExperimentDefinition",
    "ExperimentResult",
    "Experiments",
    "FrozenInput",
    "Inputs",
    "Outputs",
    "Provenance",
    "Strategy",
    "SweepPoint",
    "SweepResult",
    "load_definition",
    "run_backtest",
    "run_grid",
    "strategy_from_mapping",
]
