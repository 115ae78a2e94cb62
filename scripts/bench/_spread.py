"""How the benchmarks print a sample: `median (min–max)`."""

from __future__ import annotations

import statistics


def spread(xs: list[float], *, scale: float = 1.0, fmt: str = "{:.2f}", unit: str = "") -> str:
    """`median (min–max)` of `xs` times `scale`, each as `fmt` (the range without fmt's padding,
    which aligns the median in a column), `unit` after the median."""
    med, lo, hi = (fmt.format(v * scale) for v in (statistics.median(xs), min(xs), max(xs)))
    return f"{med}{unit} ({lo.strip()}–{hi.strip()})"
