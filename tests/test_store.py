"""The store: Delta tables, one commit per append, writers that meet, kills, versions,
``--as-of``, migrate, optimize, vacuum, and the engines reading a version.

The trials that start real processes (two ingests at once, ``kill -9`` mid-ingest) run here
small and few; ``make store-trials`` runs 20 of each on 200,000 answers
(``benchmarks/store_trials.py``).
"""

import contextlib
import json
import os
import re
import sys
import threading

import pandas as pd
import pyarrow as pa
import pyarrow.dataset
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake

from analysis import demo_exports, engine, ingest, schemas, store
from analysis.__main__ import main
from analysis.report.book import ReportBook
from analysis.report.data import load_report_data
from benchmarks import store_trials

NOW = "2030-01-01 00:00"


@pytest.fixture(scope="module")
def net():
    dealers, responses = store_trials.answers(3000, months=3, seed=3)
    return dealers, responses


@pytest.fixture()
def processed(tmp_path, net):
    """A store with the dealers and the first two months of answers."""
    dealers, responses = net
    path = tmp_path / "processed"
    store.append("dealers", dealers, data_dir=path)
    months = responses["responded_at"].dt.strftime("%Y-%m")
    store.append("responses", responses.loc[months < months.max()], data_dir=path)
    return path


def no_lock(monkeypatch):
    """Writers that cannot see each other's lock (two machines on a shared folder)."""
    monkeypatch.setattr(store, "_writer_lock",
                        lambda directory, table: contextlib.nullcontext())


# --- the table and one commit per append ----------------------------------------------------------
def test_a_table_is_a_plain_delta_table_partitioned_by_month(processed, net):
    table = DeltaTable(str(processed / "responses"))
    assert table.metadata().partition_columns == ["month"]
    protocol = table.protocol()
    assert (protocol.min_reader_version, protocol.min_writer_version) <= (3, 7)
    assert set(protocol.reader_features or []) <= {"timestampNtz"}
    assert table.metadata().configuration["delta.logRetentionDuration"] == "interval 90 days"
    # any Delta reader sees what store.load returns
    other = table.to_pandas().sort_values(["responded_at", "response_id"], ignore_index=True)
    ours = store.load("responses", data_dir=processed)
    assert len(other) == len(ours) and other["response_id"].tolist() == ours[
        "response_id"].tolist()


def test_the_last_append_wins_moves_rows_and_commits_nothing_when_nothing_changes(processed,
                                                                                   net):
    _, responses = net
    stored = store.load("responses", data_dir=processed)
    moved = stored.head(50).drop(columns="month").assign(
        responded_at=lambda d: d["responded_at"] - pd.DateOffset(months=1), nps=0)
    before = store.versions(processed)["responses"]
    result = store.append("responses", moved, data_dir=processed)
    assert (result.added, result.replaced, result.unchanged) == (0, 50, 0)
    assert result.version == before + 1
    assert "month=" + (moved["responded_at"].min().strftime("%Y-%m")) in " ".join(
        result.partitions)
    back = store.load("responses", data_dir=processed)
    assert len(back) == len(stored) and back["response_id"].is_unique
    assert (back.set_index("response_id").loc[moved["response_id"], "nps"] == 0).all()
    again = store.append("responses", moved, data_dir=processed)
    assert (again.added, again.replaced, again.unchanged, again.version) == (
        0, 0, 50, before + 1)


def test_an_overtaken_commit_is_run_again_and_stops_with_a_message(processed, net,
                                                                    monkeypatch):
    """Another writer (one the lock cannot see) commits the same keys while this one works:
    delta-rs refuses this commit, which runs again on the new version; never a key twice."""
    _, responses = net
    months = responses["responded_at"].dt.strftime("%Y-%m")
    last = responses.loc[months == months.max()]
    mine, later = last.iloc[:300], last.iloc[300:600]
    no_lock(monkeypatch)
    real_open, real_merge = store._open, store._merge
    calls, merges, busy, limit = [], [], [], 1

    def overtaken(path, version=None):  # the other writer commits right after we read
        table = real_open(path, version)
        if (str(path).endswith("responses") and version is None and len(calls) < limit
                and not busy and sys._getframe(1).f_code.co_name == "_merge"):
            calls.append(path)
            busy.append(True)
            theirs = target.head(10).assign(nps=len(calls) % 11)
            store.append("responses", theirs, data_dir=processed)
            busy.pop()
        return table

    def counted(*args, **kwargs):
        merges.append(busy[:])
        return real_merge(*args, **kwargs)

    monkeypatch.setattr(store, "_open", overtaken)
    monkeypatch.setattr(store, "_merge", counted)
    target = mine
    result = store.append("responses", mine, data_dir=processed)
    assert [b for b in merges if not b] == [[], []]  # ours ran twice: refused, then committed
    assert (result.added, result.replaced) == (290, 10)  # the other's 10 rows: ours win
    stored = store.load("responses", data_dir=processed).set_index("response_id")
    pd.testing.assert_series_equal(stored.loc[mine["response_id"], "nps"],
                                   mine.set_index("response_id")["nps"], check_names=False)
    version = store.versions(processed)["responses"]
    monkeypatch.setattr(store, "_settings", lambda: {**store.load_params("store"),
                                                     "commit_retries": 1})
    calls.clear()
    limit, target = 5, later
    with pytest.raises(store.StoreConflict, match="2 commits in a row were overtaken.*run it "
                                                  "again"):
        store.append("responses", later, data_dir=processed)
    monkeypatch.setattr(store, "_open", real_open)
    assert store.versions(processed)["responses"] == version + 2  # only the other's commits
    assert len(set(later["response_id"]) & set(store.load(
        "responses", data_dir=processed)["response_id"])) == 10


def test_writers_take_turns_and_a_held_lock_times_out_with_a_message(processed, net,
                                                                     monkeypatch):
    from filelock import FileLock

    _, responses = net
    lock = FileLock(str(processed / store.LOCK_DIR / "responses.lock"))
    monkeypatch.setattr(store, "_settings", lambda: {**store.load_params("store"),
                                                     "lock_timeout_seconds": 0.5})
    with lock, pytest.raises(store.StoreConflict, match="another process has been writing "
                                                        "responses"):
        store.append("responses", responses.tail(5), data_dir=processed)
    # threads of one process take turns too
    last = responses.tail(400)
    out = []
    threads = [threading.Thread(target=lambda part=part: out.append(
        store.append("responses", part, data_dir=processed))) for part in
        (last.iloc[:200], last.iloc[200:])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.added for r in out) == [200, 200]
    assert store.load("responses", data_dir=processed)["response_id"].is_unique


def test_load_refuses_a_table_holding_a_key_twice(processed, tmp_path, net):
    _, responses = net
    stored = store.load("responses", data_dir=processed)
    foreign = pa.Table.from_pandas(stored.head(3).assign(
        responded_at=lambda d: d["responded_at"].astype("datetime64[us]")),
        preserve_index=False)
    write_deltalake(str(processed / "responses"), foreign, mode="append")  # not via store
    with pytest.raises(store.DuplicateKeyError, match="3 key.*stored more than once.*store "
                                                      "history responses"):
        store.load("responses", data_dir=processed)
    assert len(store.load("responses", data_dir=processed, columns=["nps"])) == len(stored) + 3


# --- processes that meet and processes that are killed ------------------------------------------
def test_two_ingests_of_one_month_at_once_keep_every_row(tmp_path):
    report = store_trials.concurrent(tmp_path, trials=1, rows=420)
    assert report.failures == [] and report.outcomes == {"2 commits": 1}


def test_writers_that_cannot_see_the_lock_retry_and_keep_every_row(tmp_path):
    report = store_trials.concurrent(tmp_path, trials=1, rows=420, lock=False)
    assert report.failures == [] and report.outcomes == {"2 commits": 1}


@pytest.mark.parametrize("scenario", ["kill", "kill-resend", "kill-first"],
                         ids=["multi-month", "resend-moves-months", "first-ingest"])
def test_a_killed_ingest_leaves_the_store_before_or_after(tmp_path, scenario):
    report = store_trials.kill(tmp_path, trials=2, rows=3000, resend=scenario == "kill-resend",
                               first=scenario == "kill-first", complete=scenario == "kill-first")
    assert report.failures == []  # killed during the write (make store-trials: 20 at random)
    assert report.outcomes["before"] + report.outcomes["after"] == 2


# --- versions and --as-of ------------------------------------------------------------------------
def test_a_snapshot_pins_every_table_and_reads_as_of_versions_and_times(processed, net):
    _, responses = net
    first = store.snapshot(processed)
    assert first.spec == "dealers=0,responses=0" and os.fspath(first) == str(processed)
    months = responses["responded_at"].dt.strftime("%Y-%m")
    store.append("responses", responses.loc[months == months.max()], data_dir=processed)
    assert len(first.load("responses")) == (months < months.max()).sum()
    assert len(store.load("responses", data_dir=processed)) == len(responses)
    for as_of in ("dealers=0,responses=0", "0", "responses=0"):
        assert store.snapshot(processed, as_of=as_of).versions == {"dealers": 0, "responses": 0}
    when = first.committed["responses"]
    assert store.snapshot(processed, as_of=str(when)).versions["responses"] == 0
    with pytest.raises(store.StoreError, match="no table .* had been written yet"):
        store.snapshot(processed, as_of=(when - pd.Timedelta("1h")).isoformat())
    with pytest.raises(store.StoreError, match="responses has no version 7"):
        store.snapshot(processed, as_of="responses=7")
    with pytest.raises(store.StoreError, match="neither a version"):
        store.snapshot(processed, as_of="last tuesday")
    assert "responses v0" in first.describe() and "--as-of dealers=0,responses=0" in \
        first.describe()


def test_a_bare_version_pins_its_table_and_says_how_the_others_were_chosen(processed, net,
                                                                           capsys):
    """``--as-of 1`` is version 1 of responses; the other tables as they were then (a table
    ingested later is not read), said in the output with the versions string that reads
    them at their latest instead."""
    dealers, responses = net
    months = responses["responded_at"].dt.strftime("%Y-%m")
    store.append("responses", responses.loc[months == months.max()], data_dir=processed)
    store.append("dealers", dealers.assign(city="Kazan"), data_dir=processed)  # later
    snap = store.snapshot(processed, as_of="1")
    assert snap.versions == {"dealers": 0, "responses": 1}
    assert "the other tables are read as they were then: dealers v0" in snap.note
    assert "--as-of dealers=1,responses=1" in snap.note
    assert snap.note in snap.describe()
    assert main(["store", "versions", "--as-of", "1", "--data", str(processed)]) == 0
    assert "dealers=1,responses=1" in capsys.readouterr().out
    assert store.snapshot(processed, as_of="dealers=1,responses=1").note == ""


def test_as_of_a_printed_time_reads_the_versions_printed_beside_it(processed, net):
    """Commit times are printed to the millisecond, as the log holds them: each time given
    back pins every table at its last commit not after it (to the second, versions committed
    within the same second were dropped)."""
    _, responses = net
    months = responses["responded_at"].dt.strftime("%Y-%m")
    store.append("responses", responses.loc[months == months.max()], data_dir=processed)
    latest = store.snapshot(processed)
    printed = re.findall(r"(\w+) v(\d+) \(([^)]+)\)", latest.describe())
    assert [t for t, _, _ in printed] == ["dealers", "responses"]
    for table, version, when in printed:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", when)
        assert store.snapshot(processed, as_of=when).versions[table] == int(version)
    newest = max(pd.Timestamp(w) for _, _, w in printed)
    assert store.snapshot(processed, as_of=str(newest)).versions == latest.versions
    just_before = (newest - pd.Timedelta("1ms")).isoformat()
    assert store.snapshot(processed, as_of=just_before).versions["responses"] == 0
    assert "every table at its last commit not after" in store.snapshot(
        processed, as_of=just_before).note


def _tables(monkeypatch, data, *names):
    from analysis.report import sections

    monkeypatch.setattr("IPython.display.display", lambda obj: None)
    book = ReportBook()
    for name in names:
        getattr(sections, name)(book, data)
    return book.tables


def test_as_of_reproduces_a_report_after_a_correcting_ingest(tmp_path, monkeypatch):
    from analysis.synthetic import make_network

    make_network(n_dealers=6, n_regions=2, months=3, responses_per_month=500, seed=3).write(
        tmp_path / "demo")
    demo_exports.ingest_demo(tmp_path / "demo", data_root=tmp_path)
    data_dir = tmp_path / "processed"
    sections = ("headline", "dealers", "data_quality")
    october = load_report_data(region="all", month="2026-10", data_dir=data_dir)
    spec = october.data_dir.spec
    before = _tables(monkeypatch, october, *sections)
    # November's corrections arrive: October's scores change
    stored = store.load("responses", months=["2026-10"], data_dir=data_dir).drop(
        columns="month")
    stored.head(300).assign(nps=0).to_parquet(tmp_path / "corrections.parquet", index=False)
    ingest.ingest_file(tmp_path / "corrections.parquet", table="responses",
                       data_root=tmp_path, now=NOW)
    latest = _tables(monkeypatch, load_report_data(
        region="all", month="2026-10", data_dir=data_dir), *sections)
    assert not latest["NPS in the report month"].equals(before["NPS in the report month"])
    for engine_spec in ("local", "dask=synchronous"):
        again = _tables(monkeypatch, load_report_data(
            region="all", month="2026-10", data_dir=data_dir, as_of=spec, engine=engine_spec),
            *sections)
        assert again.keys() == before.keys()
        for name, frame in before.items():
            pd.testing.assert_frame_equal(frame, again[name], obj=name)
    assert len(latest["Rows read, accepted and quarantined"]) == len(
        before["Rows read, accepted and quarantined"]) + 1  # the appendix as of then


def test_history_lists_the_commits_with_files_and_rows(tmp_path, capsys):
    from analysis.synthetic import make_network

    make_network(n_dealers=4, n_regions=2, months=2, responses_per_month=200, seed=1).write(
        tmp_path / "demo")
    assert main(["ingest", "--demo", str(tmp_path / "demo"), "--via-exports", "--data",
                 str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["store", "history", "responses", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["table", "version", "committed_at", "operation", "file", "read",
                              "quarantined", "rows_added", "rows_replaced", "rows_unchanged"]
    assert "responses_2026-10.csv" in out[1] and "MERGE" in out[1]
    history = store.history("responses", data_dir=tmp_path / "processed")
    assert history["quarantined"].tolist() == [1, 1]  # each export repeats its first row
    assert (history["read"] - history["quarantined"] == history["rows_added"]).all()
    assert main(["store", "versions", "--data", str(tmp_path)]) == 0
    # the spec lists every table in the order of analysis.table_specs
    spec = capsys.readouterr().out.split("--as-of ")[1].split()[0].split(",")
    assert {"dealers=0", "responses=1"} <= set(spec)


def test_the_log_recovers_an_ingest_killed_after_its_commit(tmp_path, processed, net):
    _, responses = net
    months = responses["responded_at"].dt.strftime("%Y-%m")
    path = store_trials.export(responses.loc[months == months.max()], tmp_path / "nov.parquet")
    ingest.ingest_file(path, table="responses", data_root=tmp_path, now=NOW)
    log = processed / ingest.LOG_NAME
    lines = log.read_text(encoding="utf-8").splitlines()
    log.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # the last line never came
    recovered = ingest.ingest_log(processed)
    assert recovered["file"].tolist() == ["nov.parquet"]
    assert recovered["version"].tolist() == [1] and recovered["read"].tolist() == [
        (months == months.max()).sum()]


# --- housekeeping ----------------------------------------------------------------------------------
def _legacy(directory, table, frame, *, month_col):
    """A table in the store's layout before Delta: month=YYYY-MM/part-0.parquet (ns times)."""
    for month, part in frame.groupby(frame[month_col].dt.strftime("%Y-%m")):
        path = directory / table / f"month={month}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), path)


def test_migrate_converts_the_older_layout_in_place_keeping_the_row_written_last(tmp_path,
                                                                                 net):
    dealers, responses = net
    old = tmp_path / "old"
    (old / "dealers").mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(dealers, preserve_index=False),
                   old / "dealers" / "part-0.parquet")
    _legacy(old, "responses", responses, month_col="responded_at")
    # a killed ingest of the old store: 5 answers written to September, still in October
    oct_file = next((old / "responses").glob("month=*/part-0.parquet"))
    moved = pd.read_parquet(oct_file).head(5).assign(nps=0)
    target = old / "responses" / "month=2000-01" / "part-0.parquet"
    target.parent.mkdir()
    pq.write_table(pa.Table.from_pandas(moved.assign(
        responded_at=pd.Timestamp("2000-01-15")), preserve_index=False), target)
    os.utime(target, ns=(2 * 10**18, 2 * 10**18))  # written last
    # never read as it is: only migrate reads that layout
    with pytest.raises(store.StoreDamaged, match="without a Delta log.*store migrate responses"):
        store.load("responses", data_dir=old)
    with pytest.raises(store.StoreError, match="store migrate"):
        store.append("responses", responses.head(1), data_dir=old)
    done = store.migrate(old)
    assert [(r.table, r.rows, r.duplicates_dropped) for r in done] == [
        ("dealers", len(dealers), 0), ("responses", len(responses), 5)]
    back = store.load("responses", data_dir=old).set_index("response_id")
    assert len(back) == len(responses) and (back.loc[moved["response_id"], "nps"] == 0).all()
    assert sorted(p.name for p in old.iterdir()) == [".locks", "dealers", "responses"]
    assert store.history("responses", data_dir=old)["file"].tolist() == [
        "store migrate (responses)"]
    assert store.migrate(old) == []


def test_migrate_finishes_after_a_crash_between_its_renames(tmp_path, net):
    dealers, _ = net
    old = tmp_path / "old"
    (old / "dealers").mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(dealers, preserve_index=False),
                   old / "dealers" / "part-0.parquet")
    os.replace(old / "dealers", old / ".dealers.backup")  # the first rename happened
    (old / ".dealers.migrating").mkdir()  # and a half-written new table
    done = store.migrate(old)
    assert [r.table for r in done] == ["dealers"]
    pd.testing.assert_frame_equal(store.load("dealers", data_dir=old), dealers)
    assert sorted(p.name for p in old.iterdir()) == [".locks", "dealers"]


def test_migrate_converts_a_streamed_demo_store(tmp_path):
    from analysis import synthetic

    root = tmp_path / "streamed"
    synthetic.write_responses_partitioned(root, n_dealers=6, n_regions=2, months=2,
                                          responses_per_month=800, seed=2, delta=False)
    hive = pa.dataset.partitioning(pa.schema([("month", pa.string())]), flavor="hive")
    before = {t: pa.dataset.dataset(root / t, partitioning=hive if t != "dealers" else None
                                    ).to_table().to_pandas()
              for t in ("dealers", "invitations", "responses")}
    assert {r.table for r in store.migrate(root)} == set(before)
    for table, frame in before.items():
        key = list(schemas.KEYS[table])
        micro = {c: "datetime64[us]" for c in frame if frame[c].dtype.kind == "M"}
        after = store.load(table, data_dir=root)[frame.columns]
        pd.testing.assert_frame_equal(
            frame.sort_values(key, ignore_index=True).astype(micro),
            after.sort_values(key, ignore_index=True).astype(micro), obj=table)


def test_optimize_compacts_without_changing_any_version(processed, net):
    _, responses = net
    for start in range(0, 600, 100):
        store.append("responses", responses.tail(600).iloc[start:start + 100],
                     data_dir=processed)
    files_before = len(store.data_files("responses", data_dir=processed)[0])
    before = store.snapshot(processed)
    rows = store.load("responses", data_dir=processed)
    assert main(["store", "optimize", "--data", str(processed)]) == 0
    assert len(store.data_files("responses", data_dir=processed)[0]) < files_before
    pd.testing.assert_frame_equal(store.load("responses", data_dir=processed), rows)
    pd.testing.assert_frame_equal(before.load("responses"), rows)  # the old version reads too


def test_vacuum_keeps_what_as_of_promises(processed, net, monkeypatch):
    _, responses = net
    stored = store.load("responses", data_dir=processed)
    old = store.snapshot(processed)
    store.append("responses", stored.head(100).drop(columns="month").assign(nps=0),
                 data_dir=processed)
    with pytest.raises(store.StoreError, match="--as-of promises 90"):
        store.vacuum(processed, retention_days=7)
    assert store.vacuum(processed, dry_run=True) == {"dealers": [], "responses": []}
    assert len(old.load("responses")) == len(stored)
    # an importer that promises no history at all may vacuum everything old
    monkeypatch.setattr(store, "_settings", lambda: {**store.load_params("store"),
                                                     "keep_versions_days": 0,
                                                     "vacuum_retention_days": 0})
    deleted = store.vacuum(processed)
    assert len(deleted["responses"]) >= 1
    assert len(store.load("responses", data_dir=processed)) == len(stored)
    with pytest.raises((store.StoreError, OSError)):
        old.load("responses")


# --- engines read a version ----------------------------------------------------------------------
def test_the_dask_engine_reads_the_log_and_a_snapshot(processed, net):
    _, responses = net
    old = store.snapshot(processed)
    months = responses["responded_at"].dt.strftime("%Y-%m")
    store.append("responses", responses.loc[months == months.max()], data_dir=processed)
    local = engine.get_engine("local")
    with engine.get_engine("dask=synchronous") as dask:
        for data_dir in (processed, old):
            a = local.summarize("responses", by=("region",), data_dir=data_dir)
            b = dask.summarize("responses", by=("region",), data_dir=data_dir)
            pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=1e-9)
        assert dask.summarize("responses", by=(), period=None, data_dir=old)["n"].sum() == (
            months < months.max()).sum()
        lazy = dask.load("responses", months=[months.max()], data_dir=processed)
        pd.testing.assert_frame_equal(
            lazy.compute().reset_index(drop=True),
            store.load("responses", months=[months.max()], data_dir=processed),
            check_dtype=False)


def test_duckdb_reads_a_version(processed):
    rel = store.to_duckdb("responses", data_dir=processed)
    counts = dict(rel.aggregate("month, count(*)").fetchall())
    assert counts == store.load("responses", data_dir=processed)["month"].value_counts(
        ).to_dict()
    assert json.dumps(sorted(counts))  # months as text
