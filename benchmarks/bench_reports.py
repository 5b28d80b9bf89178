"""Batch rendering: the network-wide fits shared once per batch vs refitted per report, the
network page's size, and parallel worker processes vs one after another.

The full run is the issue's importer scale: ``demo-data --dealers 600 --regions 8
--responses-per-month 60000`` (720k answers a year, 9 reports). The batch with sharing must
take at most 0.3x the batch that refits the growth model, the root-cause model and the
network driver importance in every report (measured in the same run), and the network HTML
must be at most 1.5 MB.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from analysis.report import batch
from analysis.synthetic import make_network
from benchmarks._common import ratio_row

MONTH = "2026-10"
FULL = dict(n_dealers=600, n_regions=8, months=12, responses_per_month=60000)
QUICK = dict(n_dealers=24, n_regions=3, months=12, responses_per_month=2000)
KEEP = Path("reports/bench")  # the shared batch's pages stay here for a reader to open
MIN_CHARTS = 10  # the browser test's floor: a page without its charts is a failed benchmark


def _cpu() -> float:
    """CPU seconds of this process and of every descendant it has waited for (the worker
    processes, their kernels): on a shared machine a steadier measure than the wall clock."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _batch(data: Path, out: Path, workers: int, *, share: bool = True,
           formats: tuple[str, ...] = ("html", "xlsx")) -> tuple[float, float]:
    """Wall and CPU seconds of one batch."""
    start, cpu = time.perf_counter(), _cpu()
    results = batch.run_batch(MONTH, None, data_dir=data, out_dir=out, workers=workers,
                              progress=False, share=share, formats=formats)
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    failed = [(r.region, r.ename) for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"reports failed in the benchmark: {failed}")
    return seconds, cpu


def _pages(out: Path) -> tuple[float, str, float]:
    """The network page's size and the largest regional page's name and size, in MB.

    Every page must show its charts (at least ``MIN_CHARTS`` inline images): a fast batch
    of pages without them is no result."""
    report_pages = [p for p in out.glob("*.html") if p.name != "index.html"]
    charts = {p.name: len(re.findall(r"<img\b", p.read_text(encoding="utf-8")))
              for p in report_pages}
    print(f"   charts per page: {charts}", flush=True)
    bare = {name: n for name, n in charts.items() if n < MIN_CHARTS}
    if bare:
        raise RuntimeError(f"pages with fewer than {MIN_CHARTS} charts: {bare}")
    pages = {p.stem: p.stat().st_size / 1e6 for p in report_pages}  # network.en, volga.en
    network = pages.pop(next(name for name in pages if name.startswith("network.")))
    largest = max(pages, key=pages.get)
    return network, largest, pages[largest]


def _keep(out: Path, keep: Path | None) -> None:
    """Copy the batch's pages and workbooks to ``keep`` (the temporary directory goes)."""
    if keep is None:
        return
    shutil.rmtree(keep, ignore_errors=True)
    keep.mkdir(parents=True)
    for page in [*out.glob("*.html"), *out.glob("*.xlsx")]:
        shutil.copy2(page, keep / page.name)
    print(f"   pages kept in {keep}", flush=True)


def sharing(quick: bool = False, size: dict | None = None, data: Path | None = None,
            workers: int = 2, keep: Path | None = KEEP) -> list[dict]:
    """The batch with shared network-wide fits vs the batch that refits them per report.

    ``data``: a store of that size made before (the 600-dealer network takes minutes to
    generate); None generates it into a temporary directory. ``keep``: where the shared
    batch's pages are copied (None: nowhere).
    """
    size = size or (QUICK if quick else FULL)
    with tempfile.TemporaryDirectory() as tmp:
        data = data or make_network(seed=0, **size).write(Path(tmp) / "data")
        shared, shared_cpu = _batch(data, Path(tmp) / "shared", workers, share=True)
        print(f"   shared: {shared:.1f} s wall, {shared_cpu:.1f} s CPU", flush=True)
        refit, refit_cpu = _batch(data, Path(tmp) / "refit", workers, share=False)
        print(f"   refit:  {refit:.1f} s wall, {refit_cpu:.1f} s CPU", flush=True)
        _keep(Path(tmp) / "shared", keep)
        network, region, region_mb = _pages(Path(tmp) / "shared")
    n = size["n_regions"] + 1
    scale = f"{size['n_dealers']} dealers, {size['responses_per_month'] * 12:,} answers"
    note = f"{workers} workers, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    rows = [
        ratio_row(f"batch of {n} reports, network fits shared ({scale})", shared,
                  "the same batch refitting per report", refit, max_ratio=0.3, note=note),
        ratio_row(f"the same, CPU seconds (self and child processes) ({scale})", shared_cpu,
                  "the refitting batch's CPU seconds", refit_cpu, max_ratio=0.3,
                  note="steadier than the wall clock when others share the machine"),
        ratio_row(f"network HTML, MB ({scale})", network, "the 1.5 MB limit", 1.5,
                  max_ratio=1.0, note="'seconds' is the page size in MB here"),
        ratio_row(f"largest regional HTML ({region}), MB ({scale})", region_mb,
                  "the 1.5 MB limit", 1.5, max_ratio=1.0,
                  note="'seconds' is the page size in MB here"),
    ]
    for row in rows:
        print(f"   {row['name']}: {row['seconds']:.3f} vs {row['baseline_seconds']:.3f}, "
              f"ratio {row['ratio']:.3f} ({row['target']})", flush=True)
    return rows


def parallel(quick: bool = False) -> list[dict]:
    """Every report in parallel worker processes vs one after another."""
    size = dict(n_dealers=12, n_regions=3, months=6, responses_per_month=1500) if quick else \
        dict(n_dealers=60, n_regions=6, months=12, responses_per_month=5000)
    workers = max(2, min(4, os.cpu_count() or 2))
    with tempfile.TemporaryDirectory() as tmp:
        data = make_network(seed=0, **size).write(Path(tmp) / "data")
        serial, _ = _batch(data, Path(tmp) / "serial", 1)
        par, _ = _batch(data, Path(tmp) / "parallel", workers)
    n = size["n_regions"] + 1
    return [ratio_row(f"batch of {n} reports, {workers} workers", par,
                      "the same reports one after another", serial,
                      note=f"{os.cpu_count()} cores; ideal ratio 1/{min(workers, n)}")]


def run(quick: bool = False) -> list[dict]:
    rows = sharing(quick)
    if not quick:  # the smoke run keeps to the sharing check (under 2 minutes is the goal)
        rows += parallel(quick)
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.bench_reports --sharing [--data DIR] [--quick]``: only the
    sharing benchmark (``make bench`` runs every part through benchmarks.run)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--sharing", action="store_true", help="only the sharing benchmark")
    parser.add_argument("--quick", action="store_true", help="the small network")
    parser.add_argument("--data", type=Path, help="an existing store of the network's size")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    rows = (sharing(args.quick, data=args.data, workers=args.workers) if args.sharing
            else run(args.quick))
    return 0 if all(r["ok"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
