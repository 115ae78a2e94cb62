"""Experiments (FR-2, FR-6): vectorised DuckDB backtests over projections, results published as
artifacts with lineage, run records, sweeps and HTML reports. docs/experiments.md has the rules.

    from bridge.experiments import Experiments, Strategies
    result = Experiments(store).run("definition.json")
    refs = Strategies(store).import_file("scenarios.json")   # the simulator's format -> strategy artifacts

DuckDB, pyarrow and numpy are imported only when something runs; the names below are imported
from their modules on first use.
"""

from bridge._lazy import lazy_exports

_WHERE = {
    **dict.fromkeys(("Config", "DateRange", "Execution", "ExperimentDefinition", "ExperimentResult", "FrozenInput",
                     "Inputs", "Outputs", "Provenance", "SweepPoint", "SweepResult", "load_definition"),
                    "bridge.experiments.definition"),
    **dict.fromkeys(("ENGINE_VERSION", "FILL_REASONS", "SKIP_REASONS", "BacktestResult", "run_backtest", "run_grid"),
                    "bridge.experiments.engine"),
    "Experiments": "bridge.experiments.runner",
    **dict.fromkeys(("Strategies", "StrategyRef"), "bridge.experiments.strategies"),
    **dict.fromkeys(("LadderLeg", "Strategy", "StrategyConfig", "strategy_from_mapping"), "bridge.experiments.strategy"),
}


# Each name is imported from its module on first use, so importing one submodule (the daemon's
# contract imports `definition`) does not load the engine and runner.
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)


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
