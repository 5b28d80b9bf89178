"""Shared helpers for benchmarks: timing and ratio rows.

Every ``benchmarks/bench_*.py`` module defines ``run(quick: bool = False) -> list[dict]``
and builds its rows with :func:`ratio_row`, so that ``benchmarks/run.py`` can print one
table of ratios and write ``reports/bench.json``. Ratios compare against a baseline measured
in the same process and run, never against a stored number.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], *, repeat: int = 3) -> float:
    """Best wall-clock seconds of ``repeat`` calls of ``fn`` (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def ratio_row(
    name: str,
    seconds: float,
    baseline: str,
    baseline_seconds: float,
    *,
    max_ratio: float | None = None,
    note: str = "",
) -> dict:
    """One row of the ratio table: ``ratio = seconds / baseline_seconds``.

    ``max_ratio`` is the target from the issue (e.g. 0.25 for "within 0.25x the time of",
    0.2 for "at least 5x faster than"); ``ok`` is None when there is no target.
    """
    ratio = seconds / baseline_seconds if baseline_seconds > 0 else float("inf")
    return {
        "name": name,
        "seconds": round(seconds, 4),
        "baseline": baseline,
        "baseline_seconds": round(baseline_seconds, 4),
        "ratio": round(ratio, 4),
        "target": None if max_ratio is None else f"<= {max_ratio:g}",
        "ok": None if max_ratio is None else bool(ratio <= max_ratio),
        "note": note,
    }
