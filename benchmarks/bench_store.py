"""The Delta Lake store against the store before it (``benchmarks/_legacy_store.py``).

Rows (200 k answers over 6 months; 20 k with ``quick``):

- ingest of six monthly CSV exports one after another into an empty store, all of it:
  reading and validating, quarantine, the store, the log (target: at most 1.5x);
- the same, the store's part alone (``store.append`` against the old append);
- a re-send of a month whose dates moved into the month before (rows change partition);
- loading one month for a report, and one month of one region (target: at most 1.2x).

With ``--trials N``, also the trials that try to lose data (``benchmarks/store_trials.py``,
N of each on 200 k answers): a row each, "ok" when no trial lost or damaged anything.
``make store-trials`` runs 20 of each on their own (some 20 minutes on two cores).

    python -m benchmarks.bench_store [--quick] [--trials 20]
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from analysis import ingest, schemas, store
from benchmarks import _legacy_store as legacy
from benchmarks import store_trials
from benchmarks._common import best_time, ratio_row

NOW = store_trials.NOW
FULL, QUICK = 200_000, 20_000


def _exports(responses: pd.DataFrame, directory: Path) -> list[Path]:
    """One CSV a month, as a survey vendor sends them (UTF-8, ';', ISO dates)."""
    directory.mkdir(parents=True, exist_ok=True)
    months = responses["responded_at"].dt.strftime("%Y-%m")
    paths = []
    for month in sorted(months.unique()):
        path = directory / f"responses_{month}.csv"
        responses.loc[months == month].to_csv(path, sep=";", index=False,
                                              date_format="%Y-%m-%dT%H:%M:%S")
        paths.append(path)
    return paths


def _ingest_legacy(path: Path, root: Path) -> pd.DataFrame:
    """What ``ingest_file`` did before Delta: read, validate, the old append, quarantine,
    log; returns the accepted rows."""
    processed = root / "processed"
    dealers = legacy.load("dealers", data_dir=processed, columns=["dealer_id"])
    result = ingest.read_export(path, table="responses", dealers=dealers, now=NOW)
    appended = legacy.append("responses", result.accepted, data_dir=processed)
    if len(result.quarantined):
        qfile = root / "quarantine" / f"{path.name}.csv"
        qfile.parent.mkdir(parents=True, exist_ok=True)
        result.quarantined.to_csv(qfile, sep=";", index=False, encoding="utf-8-sig")
    with (processed / "_legacy_log.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"file": path.name, "added": appended.added}) + "\n")
    return result.accepted


def _timed(fn) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _ingest_rows(dealers, responses, work: Path, repeat: int) -> tuple[list[dict], Path, Path]:
    exports = _exports(responses, work / "exports")
    new_t = old_t = new_append = old_append = float("inf")
    for i in range(repeat):
        new_root, old_root = work / f"new-{i}", work / f"old-{i}"
        store.append("dealers", dealers, data_dir=new_root / "processed")
        legacy.append("dealers", dealers, data_dir=old_root / "processed")
        new_t = min(new_t, _timed(lambda r=new_root: [
            ingest.ingest_file(p, table="responses", data_root=r, now=NOW) for p in exports]))
        accepted: list[pd.DataFrame] = []
        old_t = min(old_t, _timed(lambda r=old_root, a=accepted: a.extend(
            _ingest_legacy(p, r) for p in exports)))
        # the store's part alone, on the same validated rows
        a_new, a_old = work / f"append-new-{i}", work / f"append-old-{i}"
        new_append = min(new_append, _timed(lambda d=a_new, a=accepted: [
            store.append("responses", frame, data_dir=d) for frame in a]))
        old_append = min(old_append, _timed(lambda d=a_old, a=accepted: [
            legacy.append("responses", frame, data_dir=d) for frame in a]))
        if i < repeat - 1:
            for d in (new_root, old_root, a_new, a_old):
                shutil.rmtree(d)
    n = len(responses)
    rows = [
        ratio_row(f"store: ingest {n / 1e3:.0f} k answers, 6 monthly CSV exports", new_t,
                  "the store before Delta Lake", old_t, max_ratio=1.5,
                  note="read, validate, quarantine, one MERGE commit per file, log"),
        ratio_row(f"store: the store's part of that ingest ({n / 1e3:.0f} k rows, 6 appends)",
                  new_append, "the old append (partition files)", old_append,
                  note="store.append vs the old append on the same validated rows"),
    ]
    return rows, work / f"new-{repeat - 1}" / "processed", work / f"old-{repeat - 1}" / "processed"


def _resend_row(responses, new: Path, old: Path) -> dict:
    months = responses["responded_at"].dt.strftime("%Y-%m")
    last = sorted(months.unique())[-1]
    moved = responses.loc[months == last].assign(
        responded_at=lambda d: d["responded_at"] - pd.DateOffset(months=1))
    moved = schemas.MODELS["responses"].validate(moved)
    t_new = _timed(lambda: store.append("responses", moved, data_dir=new))
    t_old = _timed(lambda: legacy.append("responses", moved, data_dir=old))
    return ratio_row(f"store: re-send of a month moved a month back ({len(moved):,} rows)",
                     t_new, "the old append", t_old,
                     note="rows change partition: one commit vs partition files rewritten")


def _load_rows(new: Path, old: Path, repeat: int) -> list[dict]:
    month = store.load("responses", data_dir=new, columns=["month"])["month"].max()
    region = sorted(store.load("dealers", data_dir=new)["region"].unique())[0]
    same = store.load("responses", months=[month], data_dir=new)
    before = legacy.load("responses", months=[month], data_dir=old)
    if len(same) != len(before):
        raise AssertionError(f"the stores differ: {len(same)} vs {len(before)} rows")
    def cold(**kw):  # the first read in a process: the log read, nothing cached
        store._LATEST.clear()
        store._FILES.clear()
        return store.load("responses", months=[month], data_dir=new, **kw)

    rows = []
    for label, kw, fn in ((f"one month ({len(same):,} answers) for a report", {}, store.load),
                          ("one month of one region for a report", {"regions": [region]},
                           store.load),
                          ("one month, the first read in a process", {}, None)):
        if fn is None:
            t_new = best_time(cold, repeat=repeat)
        else:
            t_new = best_time(lambda kw=kw: store.load("responses", months=[month],
                                                       data_dir=new, **kw), repeat=repeat)
        t_old = best_time(lambda kw=kw: legacy.load("responses", months=[month],
                                                    data_dir=old, **kw), repeat=repeat)
        rows.append(ratio_row(f"store: load {label}", t_new,
                              "the store before Delta Lake", t_old, max_ratio=1.2,
                              note="Delta log read, month pruned, rows sorted, keys checked"))
    return rows


def _trial_rows(rows_per_trial: int, trials: int) -> list[dict]:
    out = []
    for report in store_trials.run(trials=trials, rows=rows_per_trial):
        row = ratio_row(f"store trials: {report.scenario}, {report.trials} trials, "
                        f"{report.rows:,} answers", report.seconds,
                        "no baseline (passes or fails)", report.seconds,
                        note=report.summary().replace("\n", " | "))
        row.update(target=f"{report.trials}/{report.trials}", ok=not report.failures,
                   passed=report.passed, outcomes=dict(report.outcomes))
        out.append(row)
    return out


def run(quick: bool = False, *, trials: int | None = None) -> list[dict]:
    from analysis.synthetic import stream_responses

    n = QUICK if quick else FULL
    stream = stream_responses(n_dealers=60, n_regions=6, months=6, responses_per_month=n // 6,
                              seed=0)
    responses = pd.concat([b.responses for b in stream], ignore_index=True)
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        work = Path(tmp)
        rows, new, old = _ingest_rows(stream.dealers, responses, work, repeat=2 if quick else 1)
        rows += _load_rows(new, old, repeat=5)
        rows.append(_resend_row(responses, new, old))
    if trials:
        rows += _trial_rows(FULL, trials)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--trials", type=int, default=0, help="trials per scenario (default none)")
    args = parser.parse_args(argv)
    for row in run(quick=args.quick, trials=args.trials):
        ok = "-" if row["ok"] is None else ("ok" if row["ok"] else "NOT OK")
        print(f"{row['name']}: {row['seconds']:.3f} s, ratio {row['ratio']:.3f} vs "
              f"{row['baseline']} ({row['target'] or 'no target'}: {ok})"
              + (f"\n  {row['note']}" if row["note"] else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
