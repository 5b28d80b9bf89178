"""Batch rendering: the network-wide fits shared once per batch vs refitted per report, the
network page's size, and parallel worker processes vs one after another.

The full run is the issue's importer scale: ``demo-data --dealers 600 --regions 8
--responses-per-month 60000`` (720k answers a year, 9 reports). The batch with sharing must
take at most 0.3x the batch that refits the growth model, the root-cause model and the
network driver importance in every report (measured in the same run), and the network HTML
must be at most 1.5 MB.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from analysis.report import batch
from analysis.synthetic import make_network
from benchmarks._common import ratio_row

MONTH = "2026-10"


def _batch(data: Path, out: Path, workers: int, *, share: bool = True,
           formats: tuple[str, ...] = ("html", "xlsx")) -> float:
    start = time.perf_counter()
    results = batch.run_batch(MONTH, None, data_dir=data, out_dir=out, workers=workers,
                              progress=False, share=share, formats=formats)
    seconds = time.perf_counter() - start
    failed = [(r.region, r.ename) for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"reports failed in the benchmark: {failed}")
    return seconds


def sharing(quick: bool = False, size: dict | None = None) -> list[dict]:
    """The batch with shared network-wide fits vs the batch that refits them per report."""
    size = size or (dict(n_dealers=24, n_regions=3, months=12, responses_per_month=2000)
                    if quick else
                    dict(n_dealers=600, n_regions=8, months=12, responses_per_month=60000))
    workers = 2
    with tempfile.TemporaryDirectory() as tmp:
        data = make_network(seed=0, **size).write(Path(tmp) / "data")
        shared = _batch(data, Path(tmp) / "shared", workers, share=True)
        refit = _batch(data, Path(tmp) / "refit", workers, share=False)
        page = (Path(tmp) / "shared" / "network.html").stat().st_size / 1e6
    n = size["n_regions"] + 1
    scale = f"{size['n_dealers']} dealers, {size['responses_per_month'] * 12:,} answers"
    return [
        ratio_row(f"batch of {n} reports, network fits shared ({scale})", shared,
                  "the same batch refitting per report", refit, max_ratio=0.3,
                  note=f"{workers} workers, {os.cpu_count()} cores"),
        ratio_row(f"network HTML, MB ({scale})", page, "the 1.5 MB limit", 1.5, max_ratio=1.0,
                  note="'seconds' is the page size in MB here"),
    ]


def parallel(quick: bool = False) -> list[dict]:
    """Every report in parallel worker processes vs one after another."""
    size = dict(n_dealers=12, n_regions=3, months=6, responses_per_month=1500) if quick else \
        dict(n_dealers=60, n_regions=6, months=12, responses_per_month=5000)
    workers = max(2, min(4, os.cpu_count() or 2))
    with tempfile.TemporaryDirectory() as tmp:
        data = make_network(seed=0, **size).write(Path(tmp) / "data")
        serial = _batch(data, Path(tmp) / "serial", 1)
        par = _batch(data, Path(tmp) / "parallel", workers)
    n = size["n_regions"] + 1
    return [ratio_row(f"batch of {n} reports, {workers} workers", par,
                      "the same reports one after another", serial,
                      note=f"{os.cpu_count()} cores; ideal ratio 1/{min(workers, n)}")]


def run(quick: bool = False) -> list[dict]:
    rows = sharing(quick)
    if not quick:  # the smoke run keeps to the sharing check (under 2 minutes is the goal)
        rows += parallel(quick)
    return rows
