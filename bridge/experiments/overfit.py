"""Overfitting statistics of a parameter grid (docs/experiments.md, "Overfitting guards").

Both take a T x N matrix of returns: T observations in time order (rows), N trials (columns).

Deflated Sharpe Ratio (Bailey and López de Prado, "The Deflated Sharpe Ratio: Correcting for
Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5),
2014, eqs. 2 and 9-10):

    SR_n  = mean(r_n) / stdev(r_n, ddof=1)            per observation, not annualised
    SR0   = sqrt(V[SR_n]) * ((1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e)))
            g = Euler-Mascheroni constant, V[SR_n] = variance (ddof=1) of the N trials' SR
    DSR   = Phi( (SR* - SR0) * sqrt(T - 1) / sqrt(1 - skew * SR* + (kurt - 1) / 4 * SR*^2) )
            SR* = the highest SR_n; skew and kurt (not excess) of that trial's returns

DSR is the probability that the true Sharpe ratio of the selected trial is above 0 after
correcting for the N trials; it is significant at 95 % when DSR > 0.95.

Probability of Backtest Overfitting by combinatorially symmetric cross-validation (Bailey,
Borwein, López de Prado and Zhu, "The Probability of Backtest Overfitting", Journal of
Computational Finance 20(4), 2017; SSRN 2326253, 2015), section 3:

    split the T rows into S contiguous blocks (S even; numpy.array_split when T % S != 0);
    for every one of the C(S, S/2) sets J of S/2 blocks: in-sample = rows of J, out-of-sample =
    the rest; n* = the trial with the highest in-sample SR; w = rank of n*'s out-of-sample SR
    among the N trials (1 = lowest, ties averaged) / (N + 1); lambda = ln(w / (1 - w));
    PBO = share of the combinations with lambda <= 0 (n* at or below the out-of-sample median).

Blocks' sums and sums of squares are computed once, so every combination's SR is a matrix
product (no loop over combinations).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

__all__ = ["EULER_GAMMA", "deflated_sharpe", "expected_max_sharpe", "pbo_cscv", "sharpe_per_period"]

EULER_GAMMA = 0.5772156649015329


def sharpe_per_period(returns):
    """SR of each column: mean / stdev (ddof=1); NaN for a constant column."""
    import numpy as np

    r = np.asarray(returns, dtype=float)
    sd = r.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 1e-12, r.mean(axis=0) / sd, np.nan)   # 1e-12: rounding, not spread


def expected_max_sharpe(var_sr: float, n_trials: int) -> float:
    """SR0: the expected maximum of N SR estimates whose true value is 0 (eq. in the DSR paper)."""
    from scipy.stats import norm

    if n_trials < 2:
        return 0.0
    # a Python float: scipy returns numpy scalars, which the RPC's JSON encoder refuses
    return float(math.sqrt(var_sr) * ((1 - EULER_GAMMA) * norm.ppf(1 - 1 / n_trials)
                                      + EULER_GAMMA * norm.ppf(1 - 1 / (n_trials * math.e))))


def deflated_sharpe(returns) -> dict[str, Any]:
    """The DSR of the best column of a T x N return matrix. Keys: dsr, sr, sr0, best (column),
    trials, observations, skew, kurtosis, reason (why dsr is null, else None)."""
    import numpy as np
    from scipy.stats import kurtosis, norm, skew

    r = np.asarray(returns, dtype=float)
    t, n = r.shape
    out: dict[str, Any] = {"dsr": None, "sr": None, "sr0": None, "best": None, "trials": n, "observations": t,
                           "skew": None, "kurtosis": None, "reason": None}
    if t < 3:
        out["reason"] = f"{t} observations (the DSR needs at least 3)"
        return out
    sr = sharpe_per_period(r)
    if not np.isfinite(sr).any():
        out["reason"] = "every trial has constant returns (no Sharpe ratio)"
        return out
    best = int(np.nanargmax(sr))
    finite = sr[np.isfinite(sr)]
    var_sr = float(np.var(finite, ddof=1)) if len(finite) > 1 else 0.0
    sr_star = float(sr[best])
    g3 = float(skew(r[:, best]))
    g4 = float(kurtosis(r[:, best], fisher=False))
    sr0 = expected_max_sharpe(var_sr, n)
    denom = 1 - g3 * sr_star + (g4 - 1) / 4 * sr_star ** 2
    out.update(sr=sr_star, sr0=sr0, best=best, skew=g3, kurtosis=g4)
    if not denom > 0:
        out["reason"] = "non-positive variance term (extreme skew)"
        return out
    out["dsr"] = float(norm.cdf((sr_star - sr0) * math.sqrt(t - 1) / math.sqrt(denom)))
    return out


def pbo_cscv(returns, blocks: int = 16) -> dict[str, Any]:
    """PBO by CSCV. Keys: pbo, logits (list), combinations, blocks, reason (why pbo is null)."""
    import numpy as np
    from scipy.stats import rankdata

    r = np.asarray(returns, dtype=float)
    t, n = r.shape
    out: dict[str, Any] = {"pbo": None, "logits": [], "combinations": 0, "blocks": blocks, "reason": None}
    if n < 2:
        out["reason"] = "fewer than 2 trials"
        return out
    if t < 2 * blocks:
        out["reason"] = f"{t} observations (CSCV with {blocks} blocks needs at least {2 * blocks})"
        return out
    parts = np.array_split(np.arange(t), blocks)
    cnt = np.array([len(p) for p in parts], dtype=float)
    s1 = np.stack([r[p].sum(axis=0) for p in parts])           # blocks x N
    s2 = np.stack([(r[p] ** 2).sum(axis=0) for p in parts])
    chosen = np.array(list(itertools.combinations(range(blocks), blocks // 2)))
    combos = np.zeros((len(chosen), blocks))
    np.put_along_axis(combos, chosen, 1.0, axis=1)

    def sr(mask):
        k = mask @ cnt
        m1 = (mask @ s1) / k[:, None]
        var = ((mask @ s2) - k[:, None] * m1 ** 2) / (k[:, None] - 1)
        sd = np.sqrt(np.maximum(var, 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sd > 1e-15, m1 / sd, np.where(m1 > 0, np.inf, np.where(m1 < 0, -np.inf, 0.0)))

    sr_is, sr_oos = sr(combos), sr(1.0 - combos)
    best = np.argmax(sr_is, axis=1)
    ranks = rankdata(sr_oos, axis=1)                          # 1 = lowest, ties averaged
    w = ranks[np.arange(len(best)), best] / (n + 1)
    logits = np.log(w / (1 - w))
    out.update(pbo=float(np.mean(logits <= 0)), logits=[float(x) for x in logits], combinations=len(combos))
    return out
