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


def rate_row(name: str, value: float, low: float, high: float, target: float | None = None,
             *, at_least: bool = False, note: str = "", by: str = "issue 25") -> dict:
    """One row of the ratio table for a rate measured by simulation (not a time): the rate in
    ``seconds``, the target as the baseline and ``ratio = value / target``; ``ok`` when the
    rate is at most the target (``at_least``: at least it), None without a target (a row for
    information). The note gives the rate with its Monte-Carlo interval ``[low, high]``."""
    spread = "" if low != low else f" [{low:.3f}, {high:.3f}]"  # NaN: no interval
    text = f"values are rates, not seconds; {value:.3f}{spread}" + (f" ({note})" if note else "")
    if target is None:
        return {"name": name, "seconds": round(value, 4), "baseline": "for information",
                "baseline_seconds": 1.0, "ratio": round(value, 4), "target": None,
                "ok": None, "note": text}
    ok = None if value != value else bool(value >= target if at_least else value <= target)
    return {"name": name, "seconds": round(value, 4),
            "baseline": f"target of {by} ({'>=' if at_least else '<='} {target:g})",
            "baseline_seconds": target, "ratio": round(value / target, 4),
            "target": ">= 1" if at_least else "<= 1", "ok": ok, "note": text}


def share_row(name: str, k: float, n: float, target: float | None = None, *,
              at_least: bool = False, scale: float = 1.0, unit: str = "", note: str = "",
              by: str = "issue 25") -> dict:
    """:func:`rate_row` of ``k`` successes in ``n`` trials (times ``scale``: 12 for a rate
    per year of monthly trials) with its Wilson 95% interval; ``unit`` names the trials."""
    from analysis.estimators import wilson_interval

    value = scale * k / n if n else float("nan")
    low, high = (scale * float(v) for v in wilson_interval(k, n))
    counted = f"Wilson 95%, {int(k)} of {int(n)}{unit}" + (f"; {note}" if note else "")
    return rate_row(name, value, low, high, target, at_least=at_least, note=counted, by=by)


def rate_main(run: Callable[..., list[dict]], doc: str, argv=None, *,
              scan: Callable[[bool], object] | None = None) -> None:
    """The command line of a rate benchmark: ``--quick`` runs ``run(quick=True)``; ``--scan``
    (when ``scan`` is given) prints ``scan(quick)``, the trade-off a threshold was chosen on."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    if scan is not None:
        parser.add_argument("--scan", action="store_true", help="print the threshold trade-off")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if scan is not None and args.scan:
        print(scan(args.quick))
        return
    for row in run(quick=args.quick):
        print(f"{row['name']}: {row['note']} ok={row['ok']}")
