"""Trials that try to lose data in the store: ingests at the same time, and ``kill -9``.

Each trial starts real ``python`` processes on a store in a temporary directory and checks
the store afterwards (through ``store.load``, which refuses a table holding a key twice):

- ``concurrent``: two ingests of two exports of the same month (half of the answers each)
  started together by ``python -m analysis ingest``; both must exit 0 and every answer be
  stored. ``concurrent-nolock``: the same with writers that do not see each other's lock
  (as on two machines sharing a folder): delta-rs refuses the later commit, which is run
  again. ``overlap``: the two exports share half their keys with other values: every key
  stored once, with one export's values.
- ``kill``: an ingest of a multi-month export killed (SIGKILL) at a random moment: the store
  must be exactly as before or as after the ingest, never part of it; ingesting again
  completes it.
- ``kill-resend``: the same for a re-send whose dates moved into the previous month, so
  that rows change partition (the store before Delta Lake duplicated thousands of keys so).
- ``kill-first``: the first ingest of the responses table (the store holds only dealers)
  killed: no table or the whole table, never a partial one (the first version is written
  beside the table and renamed into place; a table directory of Parquet files without a log,
  what such a kill left before, is refused by every reader and counts as a failure).

Half of the kills fall at a random moment of the whole run, half within the write (after
the ingest has read and validated the export), where damage could happen.

    python -m benchmarks.store_trials [--trials 20] [--rows 200000] [--only kill]

``tests/test_store.py`` runs a few small trials of each; ``make store-trials`` the full ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis import store
from analysis.config import ROOT

NOW = "2030-01-01 00:00"  # the exports' dates are all in the past
SCENARIOS = ("concurrent", "concurrent-nolock", "overlap", "kill", "kill-resend",
             "kill-first")
MARKER = "writing"


@dataclass
class TrialReport:
    """What a scenario's trials gave: outcomes counted (``before``, ``after``, ``ok``...)
    and every failure described."""

    scenario: str
    trials: int
    rows: int
    outcomes: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return self.trials - len(self.failures)

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        text = (f"{self.scenario}: {self.passed}/{self.trials} trials kept every row "
                f"({self.rows:,} answers; {counts}; {self.seconds:.0f} s)")
        return "\n".join([text, *(f"  FAILED: {f}" for f in self.failures)])


# --- data -------------------------------------------------------------------------------------
def answers(rows: int, *, months: int = 6, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dealers and about ``rows`` answers over ``months`` months of the demo network."""
    from analysis.synthetic import stream_responses

    stream = stream_responses(n_dealers=60, n_regions=6, months=months,
                              responses_per_month=max(1, rows // months), seed=seed,
                              comments="pool")
    responses = pd.concat([b.responses for b in stream], ignore_index=True)
    return stream.dealers, responses


def export(frame: pd.DataFrame, path: Path) -> Path:
    """An export of answers (Parquet: the trials are about the store, not about parsing)."""
    frame.to_parquet(path, index=False)
    return path


def fingerprint(processed: Path) -> tuple[int, str]:
    """Rows and a hash of the responses table as ``store.load`` reads it (which raises
    ``DuplicateKeyError`` on a key stored twice)."""
    if not store.available("responses", data_dir=processed):
        return 0, "empty"
    frame = store.load("responses", data_dir=processed)
    frame = frame.sort_values("response_id", ignore_index=True)
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy()
                            .tobytes()).hexdigest()
    return len(frame), digest


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def _ingest_cli(path: Path, root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "analysis", "ingest", str(path), "--table", "responses",
         "--data", str(root), "--now", NOW],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)


# an ingest that says when it starts writing, and optionally ignores the writer lock (a
# process on another machine, whose lock this one cannot see)
_SCRIPT = f"""
import contextlib, sys
from analysis import ingest, store
if sys.argv[3] == "nolock":
    store._writer_lock = lambda directory, table: contextlib.nullcontext()
append = store.append
def announced(*args, **kwargs):
    print("{MARKER}", flush=True)
    return append(*args, **kwargs)
store.append = announced
ingest.ingest_file(sys.argv[1], table="responses", data_root=sys.argv[2], now="{NOW}")
print("done", flush=True)
"""


def _ingest_script(path: Path, root: Path, *, lock: bool = True) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, str(path), str(root), "lock" if lock else "nolock"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)


def _store_with(root: Path, dealers: pd.DataFrame, responses: pd.DataFrame | None) -> Path:
    processed = root / "processed"
    store.append("dealers", dealers, data_dir=processed)
    if responses is not None and len(responses):
        store.append("responses", responses, data_dir=processed)
    return root


# --- concurrent ingests -------------------------------------------------------------------------
def concurrent(work: Path, *, trials: int, rows: int, lock: bool = True, overlap: bool = False,
               seed: int = 0) -> TrialReport:
    """Two ingests of one month's answers (halves, or overlapping halves) at once."""
    name = "overlap" if overlap else "concurrent" if lock else "concurrent-nolock"
    dealers, responses = answers(rows, months=1, seed=seed)
    report = TrialReport(name, trials, len(responses))
    half = len(responses) // 2
    if overlap:  # a quarter of the keys in both exports, with other scores in the second
        a = responses.iloc[: half + half // 2]
        b = responses.iloc[half // 2:].assign(nps=lambda d: (d["nps"] + 1) % 11)
    else:
        a, b = responses.iloc[:half], responses.iloc[half:]
    template = _store_with(work / f"{name}-template", dealers, None)
    start = time.perf_counter()
    for trial in range(trials):
        root = work / f"{name}-{trial}"
        shutil.copytree(template, root)
        pa_, pb = export(a, root / "a.parquet"), export(b, root / "b.parquet")
        procs = ([_ingest_cli(pa_, root), _ingest_cli(pb, root)] if lock else
                 [_ingest_script(pa_, root, lock=False), _ingest_script(pb, root, lock=False)])
        codes = [p.wait() for p in procs]
        errors = [p.stderr.read().strip() for p in procs]
        problem = None
        if codes != [0, 0]:
            problem = f"trial {trial}: exit codes {codes}: {errors}"
        else:
            try:
                stored = store.load("responses", data_dir=root / "processed")
            except store.StoreError as err:
                problem = f"trial {trial}: {err}"
            else:
                want = set(a["response_id"]) | set(b["response_id"])
                if set(stored["response_id"]) != want or len(stored) != len(want):
                    problem = (f"trial {trial}: {len(stored)} rows stored of {len(want)} "
                               f"({len(want - set(stored['response_id']))} lost)")
                elif overlap:
                    problem = _one_version_each(stored, a, b, trial)
        if problem:
            report.failures.append(problem)
            report.outcomes["lost"] += 1
        else:
            commits = store.history("responses", data_dir=root / "processed")
            report.outcomes[f"{len(commits)} commits"] += 1
        shutil.rmtree(root, ignore_errors=True)
    report.seconds = time.perf_counter() - start
    return report


def _one_version_each(stored, a, b, trial) -> str | None:
    """Each shared key holds all of a's values or all of b's (the later ingest's)."""
    shared = sorted(set(a["response_id"]) & set(b["response_id"]))
    got = stored.set_index("response_id").loc[shared, "nps"]
    from_a = got.eq(a.set_index("response_id").loc[shared, "nps"])
    from_b = got.eq(b.set_index("response_id").loc[shared, "nps"])
    if not (from_a | from_b).all():
        return f"trial {trial}: {(~(from_a | from_b)).sum()} shared keys hold neither version"
    if from_a.any() and from_b.any() and not (from_a.all() or from_b.all()):
        return f"trial {trial}: shared keys mix both exports ({from_a.sum()} from the first)"
    return None


# --- kill -9 ----------------------------------------------------------------------------------
def _run_to_marker(proc: subprocess.Popen, timeout: float = 600) -> float:
    """Seconds until the ingest says it starts writing."""
    start = time.perf_counter()
    for line in proc.stdout:
        if line.strip() == MARKER:
            return time.perf_counter() - start
        if time.perf_counter() - start > timeout:
            break
    raise RuntimeError(f"the ingest never started writing: {proc.stderr.read()}")


def _leftovers(processed: Path) -> int:
    """Temporary files a killed commit left in the logs, and first versions a killed first
    ingest left beside its table (harmless: not versions, not tables)."""
    return sum(1 for p in processed.glob("*/_delta_log/*") if not p.name.endswith(
        (".json", ".checkpoint.parquet")) and p.name != "_last_checkpoint") + sum(
        1 for _ in processed.glob(".*.creating-*"))


def _ingest_inline(path: Path, root: Path) -> float:
    """Ingest in this process; the seconds its write (store.append) took."""
    from analysis import ingest

    append, spent = store.append, []

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return append(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - start)

    store.append = timed
    try:
        ingest.ingest_file(path, table="responses", data_root=root, now=NOW)
    finally:
        store.append = append
    return sum(spent)


def kill(work: Path, *, trials: int, rows: int, resend: bool = False, first: bool = False,
         seed: int = 0, complete: bool = True) -> TrialReport:
    """Ingests killed at random moments: the store is before or after, never between.
    ``first``: the table's first ingest (before: no table). ``complete``: ingest again after
    each kill and check that it completes the store."""
    name = "kill-resend" if resend else "kill-first" if first else "kill"
    dealers, responses = answers(rows, months=6, seed=seed)
    months = responses["responded_at"].dt.strftime("%Y-%m")
    if resend:  # everything stored; 70% sent again a month earlier: rows change partition
        before = responses
        moved = responses.sample(frac=0.7, random_state=seed)
        sent = moved.assign(responded_at=moved["responded_at"] - pd.DateOffset(months=1))
    elif first:  # only the dealers stored; the export holds every month
        before, sent = None, responses
    else:  # the first month stored; the export holds the five others
        before = responses.loc[months == months.min()]
        sent = responses.loc[months != months.min()]
    report = TrialReport(name, trials, len(sent))
    template = _store_with(work / f"{name}-template", dealers, before)
    path = export(sent, work / f"{name}.parquet")
    expected_before = fingerprint(template / "processed")
    calib = work / f"{name}-calibration"  # the state after, and how long the write takes
    shutil.copytree(template, calib)
    t_write = _ingest_inline(path, calib)
    expected_after = fingerprint(calib / "processed")
    shutil.rmtree(calib)
    rng = random.Random(seed)
    t_read = None
    start = time.perf_counter()
    for trial in range(trials):
        root = work / f"{name}-{trial}"
        shutil.copytree(template, root)
        proc = _ingest_script(path, root)
        if trial % 2 == 0 or t_read is None:  # within the write
            t_read = _run_to_marker(proc)
            delay = rng.uniform(0, 1.2 * t_write)
            when = f"{delay:.2f} s into the write"
        else:  # any moment of the run, from the start of the process
            delay = rng.uniform(0, 1.2 * (t_read + t_write))
            when = f"{delay:.2f} s after the start"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        try:
            got = fingerprint(root / "processed")
        except Exception as err:  # noqa: BLE001 - whatever a damaged store raises is a failure
            report.failures.append(f"trial {trial} (killed {when}): {type(err).__name__}: "
                                   f"{err}")
            report.outcomes["damaged"] += 1
            continue
        if got == expected_before:
            outcome = "before"
        elif got == expected_after:
            outcome = "after"
        else:
            report.failures.append(f"trial {trial} (killed {when}): {got[0]:,} rows, neither "
                                   f"before ({expected_before[0]:,}) nor after "
                                   f"({expected_after[0]:,})")
            report.outcomes["partial"] += 1
            continue
        report.outcomes[outcome] += 1
        if _leftovers(root / "processed"):
            report.outcomes["temp files left"] += 1
        if complete:  # ingesting again completes it
            _ingest_inline(path, root)
            if fingerprint(root / "processed") != expected_after:
                report.failures.append(f"trial {trial}: ingesting again did not complete it")
        shutil.rmtree(root, ignore_errors=True)
    report.seconds = time.perf_counter() - start
    return report


def run(scenarios=SCENARIOS, *, trials: int = 20, rows: int = 200_000, seed: int = 0,
        work: Path | None = None) -> list[TrialReport]:
    """Every scenario's trials, in a temporary directory (or ``work``)."""
    with tempfile.TemporaryDirectory(prefix="store-trials-") as tmp:
        base = Path(work or tmp)
        out = []
        for scenario in scenarios:
            where = base / scenario
            where.mkdir(parents=True, exist_ok=True)
            if scenario.startswith("concurrent") or scenario == "overlap":
                # the case is a month's exports: a month of a large network
                report = concurrent(where, trials=trials, rows=max(2, rows // 6), seed=seed,
                                    lock=scenario != "concurrent-nolock",
                                    overlap=scenario == "overlap")
            else:
                report = kill(where, trials=trials, rows=rows, resend=scenario == "kill-resend",
                              first=scenario == "kill-first", seed=seed)
            print(report.summary(), flush=True)
            out.append(report)
            shutil.rmtree(where, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rows", type=int, default=200_000,
                        help="answers in the multi-month exports (concurrent: a sixth)")
    parser.add_argument("--only", choices=SCENARIOS, action="append")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="write the reports as JSON here")
    args = parser.parse_args(argv)
    reports = run(args.only or SCENARIOS, trials=args.trials, rows=args.rows, seed=args.seed)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps([
            {"scenario": r.scenario, "trials": r.trials, "passed": r.passed, "rows": r.rows,
             "outcomes": dict(r.outcomes), "failures": r.failures,
             "seconds": round(r.seconds, 1)} for r in reports], indent=2))
    return 0 if all(not r.failures for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
