"""Optional definition sections for portfolio simulation and result analysis, and the sweep's
out-of-sample validation settings. docs/experiments.md ("Portfolio mode", "Breakdowns",
"Out-of-sample sweeps") has the exact rules.

Every section is optional and absent by default: a definition without them runs in the
independent mode and keeps its experiment id and its outputs (the sections are left out of the
id when they are null, see definition.config_builtins).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import msgspec

from bridge.errors import ValidationFailed

__all__ = ["AnalysisConfig", "PortfolioConfig", "SweepFold", "SweepOverfit", "SweepValidation",
           "SweepValidationResult", "OPTIONAL_CONFIG_KEYS", "SELECTION_METRICS"]

# Config keys added after results were first published: left out of the derived id when null.
OPTIONAL_CONFIG_KEYS = ("portfolio", "analysis")
# Per-trade metrics a sweep may select its best point by (breakdown.trade_stats computes them).
SELECTION_METRICS = ("mean_return", "median_return", "total_pnl", "win_rate", "profit_factor", "expectancy",
                     "trade_sharpe", "trade_count")


class _S(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


class PortfolioConfig(_S):
    """One account trading the alerts in time order (docs: "Portfolio mode")."""

    initial_capital: float | None = None          # default: strategy.initialCapital
    sizing: Literal["fixed", "fraction"] = "fixed"
    notional: float | None = None                 # fixed sizing; default: strategy.notional
    fraction: float | None = None                 # fraction sizing: share of book equity, (0, 1]
    max_positions: int | None = None              # open positions at once
    max_token_exposure_pct: float | None = None   # cost of open positions in one token, % of book equity
    equity_step_seconds: float | None = None      # mark-to-market grid; default: the candle resolution

    def validate(self) -> "PortfolioConfig":
        """Raises:
        ValidationFailed: a field out of range (names it).
        """
        _pos("initialCapital", self.initial_capital)
        _pos("notional", self.notional)
        _pos("equityStepSeconds", self.equity_step_seconds)
        if self.sizing == "fraction":
            if self.fraction is None or not (math.isfinite(self.fraction) and 0 < self.fraction <= 1):
                raise ValidationFailed("portfolio.fraction must be in (0, 1] with sizing 'fraction'",
                                       column="portfolio.fraction", value=self.fraction)
        elif self.fraction is not None:
            raise ValidationFailed("portfolio.fraction needs sizing 'fraction'", column="portfolio.fraction",
                                   value=self.fraction)
        if self.max_positions is not None and self.max_positions < 1:
            raise ValidationFailed("portfolio.maxPositions must be >= 1", column="portfolio.maxPositions",
                                   value=self.max_positions)
        if self.max_token_exposure_pct is not None and not (
                math.isfinite(self.max_token_exposure_pct) and 0 < self.max_token_exposure_pct <= 100):
            raise ValidationFailed("portfolio.maxTokenExposurePct must be in (0, 100]",
                                   column="portfolio.maxTokenExposurePct", value=self.max_token_exposure_pct)
        return self


class AnalysisConfig(_S):
    """Breakdown settings (docs: "Breakdowns")."""

    breakdown_columns: list[str] = []   # extra alert columns to group by (besides caller, chat, chain, token)
    min_count: int = 10                 # groups with fewer trades are marked, not ranked, and get no interval
    bootstrap_resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0                       # the bootstrap's random seed (results stay deterministic)

    def validate(self) -> "AnalysisConfig":
        """Raises:
        ValidationFailed: a field out of range (names it).
        """
        if self.min_count < 1:
            raise ValidationFailed("analysis.minCount must be >= 1", column="analysis.minCount", value=self.min_count)
        if not 100 <= self.bootstrap_resamples <= 100_000:
            raise ValidationFailed("analysis.bootstrapResamples must be in [100, 100000]",
                                   column="analysis.bootstrapResamples", value=self.bootstrap_resamples)
        if not (0.5 <= self.confidence < 1):
            raise ValidationFailed("analysis.confidence must be in [0.5, 1)", column="analysis.confidence",
                                   value=self.confidence)
        return self


class SweepValidation(_S):
    """Out-of-sample validation of a sweep (docs: "Out-of-sample sweeps").

    `split`: alerts before the cut are in-sample, the rest out-of-sample; the cut is `splitAt`
    (ISO-8601) or the alert time at the `inSampleFraction` quantile. `walkForward`: the alerts,
    in time order, are cut into `folds + 1` blocks of equal count; fold i is in-sample on blocks
    0..i (anchored, expanding) and out-of-sample on block i + 1.
    """

    method: Literal["split", "walkForward"] = "split"
    in_sample_fraction: float = 0.7
    split_at: str | None = None
    folds: int = 5
    metric: str = "mean_return"
    cscv_blocks: int = 16          # S of the CSCV (even); fewer alerts than 2*S: PBO is null

    def validate(self) -> "SweepValidation":
        """Raises:
        ValidationFailed: a field out of range (names it).
        """
        if self.metric not in SELECTION_METRICS:
            raise ValidationFailed(f"validation.metric must be one of {', '.join(SELECTION_METRICS)}",
                                   column="validation.metric", value=self.metric)
        if not (0 < self.in_sample_fraction < 1):
            raise ValidationFailed("validation.inSampleFraction must be in (0, 1)",
                                   column="validation.inSampleFraction", value=self.in_sample_fraction)
        if not 1 <= self.folds <= 50:
            raise ValidationFailed("validation.folds must be in [1, 50]", column="validation.folds", value=self.folds)
        if self.cscv_blocks < 2 or self.cscv_blocks % 2 or self.cscv_blocks > 20:
            raise ValidationFailed("validation.cscvBlocks must be an even number in [2, 20]",
                                   column="validation.cscvBlocks", value=self.cscv_blocks)
        return self


class SweepFold(_S):
    """One fold: the point chosen in-sample and its per-trade statistics in both samples
    (samples are half-open alert-time ranges)."""

    fold: int
    experiment_id: str
    in_sample: dict[str, float | None]
    out_of_sample: dict[str, float | None]
    in_sample_from: str
    in_sample_to: str
    out_of_sample_from: str
    out_of_sample_to: str


class SweepOverfit(_S):
    """Deflated Sharpe ratio of the best point (by per-alert Sharpe) and PBO of the grid."""

    dsr: float | None
    sr: float | None                      # the best point's per-alert Sharpe ratio (not annualised)
    sr0: float | None                     # expected maximum Sharpe ratio of the trials under the null
    dsr_experiment_id: str | None
    trials: int
    observations: int
    skew: float | None
    kurtosis: float | None
    pbo: float | None
    pbo_combinations: int
    cscv_blocks: int
    dsr_reason: str | None = None         # why dsr is null
    pbo_reason: str | None = None         # why pbo is null


class SweepValidationResult(_S):
    settings: SweepValidation
    artifact_id: str
    folds: list[SweepFold]
    overfit: SweepOverfit


def _pos(name: str, v: float | None) -> None:
    if v is not None and not (math.isfinite(v) and v > 0):
        raise ValidationFailed(f"portfolio.{name} must be a positive number", column=f"portfolio.{name}", value=v)
