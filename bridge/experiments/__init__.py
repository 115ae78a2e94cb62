"""Experiments (FR-2, FR-6): vectorised DuckDB backtests over projections, results published as
artifacts with lineage, run records, sweeps and HTML reports. docs/experiments.md has the rules.

    from bridge.experiments import Experiments, Strategies
    result = Experiments(store).run("definition.json")
    refs = Strategies(store).import_file("scenarios.json")   # the simulator's format -> strategy artifacts

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
from bridge.experiments.engine import ENGINE_VERSION, FILL_REASONS, SKIP_REASONS, BacktestResult, run_backtest, run_grid
from bridge.experiments.runner import Experiments, SweepPoint, SweepResult
from bridge.experiments.strategies import Strategies, StrategyRef
from bridge.experiments.strategy import LadderLeg, Strategy, StrategyConfig, strategy_from_mapping

__all__ = [
    "ENGINE_VERSION",
    "FILL_REASONS",
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
    "LadderLeg",
    "Outputs",
    "Provenance",
    "Strategies",
    "Strategy",
    "StrategyConfig",
    "StrategyRef",
    "SweepPoint",
    "SweepResult",
    "load_definition",
    "run_backtest",
    "run_grid",
    "strategy_from_mapping",
]
