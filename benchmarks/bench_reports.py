"""Batch rendering: every regional report in parallel worker processes vs one after another."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from analysis.report import batch
from analysis.synthetic import make_network
from benchmarks._common import ratio_row


def _batch(data: Path, out: Path, workers: int) -> float:
    start = time.perf_counter()
    results = batch.run_batch("2026-10", None, data_dir=data, out_dir=out, workers=workers,
                              progress=False)
    seconds = time.perf_counter() - start
    failed = [r.region for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"reports failed in the benchmark: {failed}")
    return seconds


def run(quick: bool = False) -> list[dict]:
    size = dict(n_dealers=12, n_regions=3, months=6, responses_per_month=1500) if quick else \
        dict(n_dealers=60, n_regions=6, months=12, responses_per_month=5000)
    workers = max(2, min(4, os.cpu_count() or 2))
    with tempfile.TemporaryDirectory() as tmp:
        data = make_network(seed=0, **size).write(Path(tmp) / "data")
        serial = _batch(data, Path(tmp) / "serial", 1)
        parallel = _batch(data, Path(tmp) / "parallel", workers)
    n = size["n_regions"] + 1
    return [ratio_row(f"batch of {n} reports, {workers} workers", parallel,
                      "the same reports one after another", serial,
                      note=f"{os.cpu_count()} cores; ideal ratio 1/{min(workers, n)}")]
