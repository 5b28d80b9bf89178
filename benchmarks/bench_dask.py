"""The Dask engine against the local one on the same store, and an out-of-core run.

Rows:

- Dask vs local, the same month-partitioned store (10 M answers; 200 k with ``quick``), for
  the NPS summary by dealer x touchpoint x month and the driver correlation matrix. Both read
  the store (only the columns needed) and give the same numbers, which the benchmark checks.
  The Dask engine runs on a ``LocalCluster`` as params/engine.yaml configures it (started
  before timing). No target: on one machine Dask pays for its scheduling and for moving
  partitions between processes; it is there for data that do not fit.
- Out of core (not with ``quick``): the same two analyses plus the dealer ranking on 100 M
  answers on the LocalCluster, with the peak memory of this process plus every worker
  process (psutil, sampled every 0.2 s) against the 6 GB budget of issue 10. Its baseline
  is ten times the Dask run on 10 M (ratio 1 = linear scaling).

The stores are generated once with ``python -m analysis demo-data --format parquet`` logic
into ``.cache/bench/`` and reused while their spec file matches.

    python -m benchmarks.bench_dask [--quick] [--ooc]    # --ooc: only the 100 M run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import engine
from analysis.config import ROOT
from benchmarks._common import best_time, ratio_row

CACHE = ROOT / ".cache" / "bench"
SPEC_FILE = ".bench-spec.json"
BY = ("dealer_id", "touchpoint")
# 100 M answers: a large importer's three years (3,000 dealers, 8 regions)
OOC = dict(n_dealers=3000, n_regions=8, months=36, responses_per_month=2_777_778, seed=0)
SAME = dict(n_dealers=1000, n_regions=8, months=24, responses_per_month=420_000, seed=0)
QUICK = dict(n_dealers=60, n_regions=6, months=6, responses_per_month=35_000, seed=0)
MEMORY_BUDGET_GB = 6.0


def ensure_store(directory: Path, spec: dict) -> Path:
    """The streamed store of ``spec`` in ``directory`` as Delta tables (written in the older
    layout, then converted by ``store.migrate``), made unless already there."""
    from analysis import store
    from analysis.synthetic import write_responses_partitioned

    stamp = directory / SPEC_FILE
    if stamp.exists():
        done = json.loads(stamp.read_text())
        if done["spec"] == spec and done.get("format") == "delta":
            return directory
    print(f"   writing {directory} ({spec['months'] * spec['responses_per_month']:,} answers, "
          "once)", flush=True)
    start = time.perf_counter()
    written = write_responses_partitioned(directory, overwrite=True, **spec)
    seconds = time.perf_counter() - start
    store.migrate(directory)
    stamp.write_text(json.dumps({"spec": spec, "responses": written.responses, "format": "delta",
                                 "seconds": round(seconds, 1),
                                 "migrate_seconds": round(time.perf_counter() - start - seconds,
                                                          1)}))
    return directory


def _rows_in(directory: Path) -> int:
    return json.loads((directory / SPEC_FILE).read_text())["responses"]


class PeakMemory:
    """Peak resident memory of this process plus all its children (the cluster's workers
    and nannies), sampled on a thread; RSS double-counts shared pages, so it errs high."""

    def __init__(self, interval: float = 0.2) -> None:
        import psutil

        self._me = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _sample(self) -> int:
        import psutil

        total = 0
        for proc in [self._me, *self._me.children(recursive=True)]:
            # a worker may end between listing and reading
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakMemory:
        self.peak = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())

    @property
    def gb(self) -> float:
        return self.peak / 1024**3


def _analyses(eng, data: Path, month: str) -> dict:
    return {
        "summary": eng.summarize("responses", by=BY, period="M", data_dir=data),
        "ranking": eng.rank_dealers("responses", period=month, data_dir=data),
        "corr": eng.driver_corr("responses", data_dir=data),
    }


def _check_same(local: dict, dask: dict) -> None:
    pd.testing.assert_frame_equal(local["summary"], dask["summary"], check_exact=False,
                                  rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(local["ranking"], dask["ranking"], check_exact=False,
                                  rtol=0, atol=1e-9)
    diff = np.abs(local["corr"].corr.to_numpy() - dask["corr"].corr.to_numpy()).max()
    if diff > 1e-9 or local["corr"].n != dask["corr"].n:
        raise AssertionError(f"driver correlations differ by {diff:g} between the engines")


def _same_data(quick: bool, dask_engine) -> tuple[list[dict], float, int]:
    """Dask vs local rows; the Dask seconds of all three analyses and the answers (for
    scaling)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = ensure_store(Path(tmp) / "store", QUICK) if quick else \
            ensure_store(CACHE / "store-10m", SAME)
        n = _rows_in(data)
        month = "2026-10"
        local = engine.get_engine("local")
        _check_same(_analyses(local, data, month), _analyses(dask_engine, data, month))
        repeat = 3 if quick else 2
        timings = {}
        for name, eng in (("local", local), ("dask", dask_engine)):
            timings[name] = {
                "summary": best_time(lambda e=eng: e.summarize("responses", by=BY, period="M",
                                                               data_dir=data), repeat=repeat),
                "corr": best_time(lambda e=eng: e.driver_corr("responses", data_dir=data),
                                  repeat=repeat),
                "ranking": best_time(lambda e=eng: e.rank_dealers(
                    "responses", period=month, data_dir=data), repeat=1),
            }
    label = f"{n / 1e6:.3g} M answers"
    where = dask_engine.describe()
    rows = [
        ratio_row(f"dask engine: NPS dealer x touchpoint x month, {label}",
                  timings["dask"]["summary"], "local engine, same store", timings["local"]["summary"],
                  note=f"{where}; both read the store; results equal (checked)"),
        ratio_row(f"dask engine: driver correlation matrix, {label}", timings["dask"]["corr"],
                  "local engine, same store", timings["local"]["corr"],
                  note="complete cases, per-partition moments merged (Chan et al.)"),
    ]
    return rows, sum(timings["dask"].values()), n


def _out_of_core(dask_seconds_small: float, n_small: int) -> list[dict]:
    data = ensure_store(CACHE / "store-100m", OOC)
    n = _rows_in(data)
    with PeakMemory() as memory, engine.get_engine("dask") as eng:
        start = time.perf_counter()
        summary = eng.summarize("responses", by=BY, period="M", data_dir=data)
        t_summary = time.perf_counter() - start
        ranking = eng.rank_dealers("responses", period="2026-10", data_dir=data)
        t_ranking = time.perf_counter() - start - t_summary
        corr = eng.driver_corr("responses", data_dir=data)
        seconds = time.perf_counter() - start
        where = eng.describe()
    if summary["n"].sum() != n or corr.n + corr.n_dropped != n:
        raise AssertionError("the out-of-core run did not count every answer")
    scaled = dask_seconds_small * n / n_small
    row = ratio_row(
        f"dask out-of-core: NPS summary + ranking + driver corr, {n / 1e6:.3g} M answers",
        seconds, f"dask on {n_small / 1e6:.3g} M, scaled x{n / n_small:.3g}", scaled,
        note=(f"{where}; peak RSS of client + workers {memory.gb:.2f} GB (budget "
              f"{MEMORY_BUDGET_GB:g} GB); summary {t_summary:.0f} s ({len(summary):,} groups), "
              f"ranking {t_ranking:.0f} s ({len(ranking):,} dealers), corr "
              f"{seconds - t_summary - t_ranking:.0f} s (n = {corr.n:,})"))
    row.update(target=f"RSS < {MEMORY_BUDGET_GB:g} GB", ok=bool(memory.gb < MEMORY_BUDGET_GB),
               peak_rss_gb=round(memory.gb, 3))
    print(f"   out-of-core: {seconds:.0f} s, peak memory {memory.gb:.2f} GB", flush=True)
    return [row]


def run(quick: bool = False, *, out_of_core: bool | None = None) -> list[dict]:
    out_of_core = not quick if out_of_core is None else out_of_core
    with engine.get_engine("dask") as dask_engine:
        rows, dask_seconds, n = _same_data(quick, dask_engine)
    if out_of_core:
        rows += _out_of_core(dask_seconds, n)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small store, no out-of-core run")
    parser.add_argument("--ooc", action="store_true",
                        help="the out-of-core run (and the 10 M run it scales against) only")
    args = parser.parse_args(argv)
    for row in run(quick=args.quick, out_of_core=args.ooc or None):
        print(f"{row['name']}: {row['seconds']:.2f} s, ratio {row['ratio']:.3f} vs "
              f"{row['baseline']}" + (f"\n  {row['note']}" if row["note"] else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
