"""A damaged or half-written store is detected, not read.

Each kind of damage a hostile probe tried (a log entry corrupt, cut short or deleted, a data
file missing, cut short or replaced by a valid Parquet file with fewer rows, a table
directory of Parquet files without a log) ends in the right numbers or in a message naming
the file and the fix, never in silently wrong numbers.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake

from analysis import ingest, store
from analysis.__main__ import main
from benchmarks import store_trials

NOW = "2030-01-01 00:00"


@pytest.fixture(scope="module")
def net():
    return store_trials.answers(1200, months=3, seed=4)


# --- a table is a Delta table or it is nothing --------------------------------------------------
def test_parquet_files_without_a_log_are_never_read_and_the_next_first_ingest_clears_them(
        tmp_path, net):
    dealers, responses = net
    processed = tmp_path / "processed"
    store.append("dealers", dealers, data_dir=processed)
    # what a first ingest killed before its commit left (the store before this one wrote the
    # first version in place): delta-rs's data files and no log
    write_deltalake(str(tmp_path / "full"), store._arrow("responses", responses),
                    partition_by=["month"])
    some = sorted((tmp_path / "full").rglob("*.parquet"))[:2]
    for f in some:
        target = processed / "responses" / f.parent.name / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f, target)
    for read in (lambda: store.load("responses", data_dir=processed),
                 lambda: store.available("responses", data_dir=processed),
                 lambda: store.snapshot(processed)):
        with pytest.raises(store.StoreDamaged, match="killed before the table's first commit"):
            read()
    with pytest.raises(store.StoreDamaged, match="responses: 2 Parquet file"):
        store.migrate(processed, tables=["responses"])
    # the hidden first version of an ingest killed now: no reader sees it, the next first
    # ingest deletes it (its process is gone) along with the older leftovers
    killed = processed / f".responses.creating-{socket.gethostname()}-999999999-abcd"
    (killed / "_delta_log").mkdir(parents=True)
    store.append("responses", responses, data_dir=processed)
    assert len(store.load("responses", data_dir=processed)) == len(responses)
    assert not killed.exists()
    assert sorted(p.name for p in processed.iterdir()) == [".locks", "dealers", "responses"]


def test_migrate_takes_only_a_complete_table_of_the_older_layout(tmp_path, net):
    dealers, responses = net
    old = tmp_path / "old"
    (old / "dealers").mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(dealers, preserve_index=False),
                   old / "dealers" / "part-0.parquet")
    for month, part in responses.groupby(responses["responded_at"].dt.strftime("%Y-%m")):
        path = old / "responses" / f"month={month}" / "part-0.parquet"
        path.parent.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), path)
    cut = sorted((old / "responses").rglob("*.parquet"))[1]
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    (old / "dealers" / store.WRITING).touch()  # the demo writer never finished it
    with pytest.raises(store.StoreDamaged) as caught:
        store.migrate(old)
    assert [p.path for p in caught.value.problems] == [old / "dealers" / store.WRITING, cut]
    assert "cannot be read as Parquet" in str(caught.value)
    assert not store.is_delta_table(old / "dealers")  # nothing converted while any is refused
    cut.write_bytes(data)
    (old / "dealers" / store.WRITING).unlink()
    assert [r.table for r in store.migrate(old)] == ["dealers", "responses"]
    assert len(store.load("responses", data_dir=old)) == len(responses)


# --- every kind of damage: the right numbers or a message naming the file and the fix ----------
@pytest.fixture(scope="module")
def built(tmp_path_factory, net):
    """A store made as a team makes it: the dealers export, then a month of answers at a time
    (responses v0-v2), and a late export to ingest on top."""
    dealers, responses = net
    root = tmp_path_factory.mktemp("built")
    exports = root / "exports"
    exports.mkdir()
    ingest.ingest_file(store_trials.export(dealers, exports / "dealers.parquet"),
                       table="dealers", data_root=root, now=NOW)
    months = responses["responded_at"].dt.strftime("%Y-%m")
    for month in sorted(months.unique()):
        ingest.ingest_file(store_trials.export(responses.loc[months == month],
                                               exports / f"answers-{month}.parquet"),
                           table="responses", data_root=root, now=NOW)
    late = responses.iloc[:40].assign(nps=lambda d: (d["nps"] + 3) % 11)  # corrections
    store_trials.export(late, exports / "late.parquet")
    return root, store.load("responses", data_dir=root / "processed")


def _entry(processed, table, version):
    return processed / table / "_delta_log" / f"{version:020d}.json"


def _first_file(processed):
    return sorted((processed / "responses").rglob("*.parquet"))[0]


def _rewrite_entry(path, cut):
    path.write_bytes(cut(path.read_bytes()))


def _fewer_rows_same_size(processed):
    """A valid Parquet file of 100 rows, padded before its footer to the size of the one it
    replaces: only the footer tells them apart."""
    f = _first_file(processed)
    size = f.stat().st_size
    pq.write_table(pq.read_table(f).slice(0, 100), f)
    data = f.read_bytes()
    start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    f.write_bytes(data[:start] + bytes(size - len(data)) + data[start:])
    assert f.stat().st_size == size and pq.ParquetFile(f).metadata.num_rows == 100


def _shrink(processed):
    f = _first_file(processed)
    table = pq.read_table(f)
    pq.write_table(table.slice(0, table.num_rows - 20), f)


def _no_log(processed):
    shutil.rmtree(processed / "responses" / "_delta_log")
    (processed / "responses" / store.COMMITS_FILE).unlink()


# case: (damage, the file named, what store check says of it)
DAMAGE = {
    "corrupt latest entry": (lambda p: _entry(p, "responses", 2).write_text("{garbage"),
                             lambda p: _entry(p, "responses", 2), "no valid JSON at line 1"),
    "corrupt old entry": (lambda p: _entry(p, "responses", 1).write_text("{garbage"),
                          lambda p: _entry(p, "responses", 1), "no valid JSON at line 1"),
    "truncated entry": (lambda p: _rewrite_entry(_entry(p, "responses", 2),
                                                 lambda b: b[: len(b) // 2]),
                        lambda p: _entry(p, "responses", 2), "no valid JSON"),
    "entry cut at a line end": (
        lambda p: _rewrite_entry(_entry(p, "responses", 2),
                                 lambda b: b"\n".join(b.splitlines()[:-1])),
        lambda p: _entry(p, "responses", 2), r"lists 0 file\(s\) added where its commit "
                                             "recorded 1"),
    "entry cut at a line end, no record": (  # a store older than the record of commits
        lambda p: (_rewrite_entry(_entry(p, "responses", 2),
                                  lambda b: b"\n".join(b.splitlines()[:-1])),
                   (p / "responses" / store.COMMITS_FILE).unlink()),
        lambda p: _entry(p, "responses", 2), r"lists 0 file\(s\) added"),
    "emptied entry": (lambda p: _entry(p, "responses", 2).write_text(""),
                      lambda p: _entry(p, "responses", 2), "is empty"),
    "dealers entry": (lambda p: _entry(p, "dealers", 0).write_text('{"commitInfo": {"ti'),
                      lambda p: _entry(p, "dealers", 0), "no valid JSON"),
    "entry gone in the middle": (lambda p: _entry(p, "responses", 1).unlink(),
                                 lambda p: _entry(p, "responses", 1), "is missing from the log"),
    "newest entry deleted": (lambda p: _entry(p, "responses", 2).unlink(),
                             lambda p: _entry(p, "responses", 2),
                             "the log ends at version 1, but version 2 was committed"),
    "missing data file": (lambda p: _first_file(p).unlink(), _first_file, "is missing"),
    "truncated data file": (lambda p: _rewrite_entry(_first_file(p), lambda b: b[: len(b) // 2]),
                            _first_file, "bytes, the log says"),
    "data file with fewer rows": (_shrink, _first_file, "bytes, the log says"),
    "same size, fewer rows": (_fewer_rows_same_size, _first_file,
                              "holds 100 rows, the log says"),
    "parquet files and no log": (_no_log, lambda p: p / "responses", "no Delta log"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_is_named_with_its_fix_and_never_read(tmp_path, built, case, capsys):
    root = tmp_path / "root"
    shutil.copytree(built[0], root)
    processed = root / "processed"
    damage, named, what = DAMAGE[case]
    culprit = named(processed)  # before the damage: the file it touches
    damage(processed)
    table = "dealers" if "dealers" in case else "responses"
    log_before = sorted(p.name for p in (processed / table).glob("_delta_log/*"))

    # store check: the file, what is wrong, what to do; exit 1
    found = {r.table: r for r in store.check(processed)}[table]
    assert [p.path for p in found.problems] == [culprit]
    assert re.search(what, found.problems[0].what)
    assert re.search("restore|delete|migrate", found.problems[0].fix)
    assert main(["store", "check", "--data", str(processed)]) == 1
    assert str(culprit) in capsys.readouterr().out

    # a report stops before it starts, with that message (no traceback, no Rust error)
    assert main(["report", "--data", str(processed), "--month", "2026-10"]) == 2
    err = capsys.readouterr().err
    assert str(culprit) in err and "Traceback" not in err and "Kernel error" not in err

    # reading the table is refused, naming the file
    with pytest.raises(store.StoreDamaged, match=re.escape(str(culprit))):
        store.load(table, data_dir=processed)

    # an ingest commits nothing on top of it
    late = root / "exports" / "late.parquet"
    assert main(["ingest", str(late), "--table", "responses", "--data", str(root),
                 "--now", NOW]) == 2
    assert str(culprit) in capsys.readouterr().err
    assert sorted(p.name for p in (processed / table).glob("_delta_log/*")) == log_before

    # the history says it is damaged (or cannot be read at all)
    assert main(["store", "history", "--data", str(processed)]) in (1, 2)
    assert str(culprit) in capsys.readouterr().err


def test_a_deleted_newest_entry_is_accepted_and_its_export_ingested_again(tmp_path, built,
                                                                          capsys):
    """The fix the message gives: accept the log as it is, ingest the export again: the same
    rows as before the damage."""
    root = tmp_path / "root"
    shutil.copytree(built[0], root)
    processed = root / "processed"
    _entry(processed, "responses", 2).unlink()
    with pytest.raises(store.StoreDamaged, match="answers-2026-10.parquet"):
        store.snapshot(processed)
    assert main(["store", "check", "responses", "--accept", "--data", str(processed)]) == 0
    assert main(["ingest", str(root / "exports" / "answers-2026-10.parquet"), "--table",
                 "responses", "--data", str(root), "--now", NOW]) == 0
    capsys.readouterr()
    again = store.load("responses", data_dir=processed)
    pd.testing.assert_frame_equal(again, built[1])
    assert all(r.ok for r in store.check(processed))


def test_an_unreadable_newest_entry_deleted_and_accepted_reads_the_version_before(tmp_path,
                                                                                  built):
    root = tmp_path / "root"
    shutil.copytree(built[0], root)
    processed = root / "processed"
    entry = _entry(processed, "responses", 2)
    entry.write_text("{garbage")
    with pytest.raises(store.StoreDamaged, match="delete it, run `python -m analysis store "
                                                 "check responses --accept"):
        store.load("responses", data_dir=processed)
    with pytest.raises(store.StoreDamaged):  # accept takes only a readable log
        store.accept("responses", data_dir=processed)
    entry.unlink()
    assert store.accept("responses", data_dir=processed).ok
    assert store.versions(processed)["responses"] == 1


def test_the_cheap_check_opens_no_data_file(built, monkeypatch):
    """What every read does first: the log's listing and the files' sizes, no data file
    opened (the footers are read by store check and by writers)."""
    processed = built[0] / "processed"
    opened = []
    real = pq.ParquetFile

    def watched(*args, **kwargs):
        opened.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(pq, "ParquetFile", watched)
    store._FILES.clear()
    store._LATEST.clear()
    store.snapshot(processed)
    assert opened == []


# --- waiting out loud; read-only stores ----------------------------------------------------------
_HOLDER = """
import sys, time
from pathlib import Path
from analysis import store
with store._writer_lock(Path(sys.argv[1]), "responses"):
    print("holding", flush=True)
    time.sleep(120)
"""


def test_a_writer_waiting_for_the_lock_says_who_holds_it_and_how_long_it_waits(
        tmp_path, net, monkeypatch, capsys):
    dealers, responses = net
    processed = tmp_path / "processed"
    store.append("dealers", dealers, data_dir=processed)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(processed)],
                              stdout=subprocess.PIPE, text=True, env=store_trials._env())
    try:
        assert holder.stdout.readline().strip() == "holding"
        holder.send_signal(signal.SIGSTOP)  # a holder stopped (Ctrl-Z, a debugger)
        monkeypatch.setattr(store, "_settings", lambda: {**store.load_params("store"),
                                                         "lock_timeout_seconds": 1.2})
        monkeypatch.setattr(store, "LOCK_NOTE_SECONDS", 0.5)
        with pytest.raises(store.StoreConflict, match=f"held by pid {holder.pid}"):
            store.append("responses", responses.head(5), data_dir=processed)
        said = capsys.readouterr().err
        assert re.search(rf"waiting for the lock of responses in .*: held by pid {holder.pid} "
                         rf"\(stopped: `kill -CONT {holder.pid}`.*\) since \d{{4}}-.*; "
                         r"waiting up to 1 s \(lock_timeout_seconds", said)
        assert "still waiting for the lock of responses" in said
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.kill()
        holder.wait()
    store.append("responses", responses.head(5), data_dir=processed)  # the OS freed it
    assert "waiting" not in capsys.readouterr().err


def _as_reader(store_dir: Path) -> list[str]:
    """The command prefix of a user who may read the store but not write it: root is
    allowed everything, so it runs as nobody; anyone else gets the store made read-only."""
    if os.geteuid() == 0 and shutil.which("setpriv"):
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if os.geteuid() == 0:
        pytest.skip("root without setpriv: nothing is read-only to it")
    for path in [store_dir, *store_dir.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    return []


def test_every_command_on_a_read_only_store_says_so_without_a_traceback(tmp_path, built):
    world = Path(tempfile.mkdtemp(prefix="read-only-store-"))
    try:
        world.chmod(0o755)  # readable by the other user, writable by none but its owner
        root = world / "root"
        shutil.copytree(built[0], root)
        for path in [root, *root.rglob("*")]:  # pytest's folders are its owner's alone
            path.chmod(0o755 if path.is_dir() else 0o644)
        processed = root / "processed"
        prefix = _as_reader(root)
        env = {**store_trials._env(), "HOME": str(world)}

        def run(*args):
            done = subprocess.run([*prefix, sys.executable, "-m", "analysis", *args],
                                  capture_output=True, text=True, env=env, cwd=world)
            return done.returncode, done.stdout + done.stderr

        for args in (["store", "history", "--data", str(processed)],
                     ["store", "versions", "--data", str(processed)],
                     ["store", "check", "--data", str(processed)],
                     ["store", "migrate", "--data", str(processed)]):  # nothing to write
            code, said = run(*args)
            assert code == 0, said
        for args in (["store", "optimize", "--data", str(processed)],
                     ["store", "vacuum", "--data", str(processed)],
                     ["store", "check", "responses", "--accept", "--data", str(processed)],
                     ["ingest", str(root / "exports" / "late.parquet"), "--table", "responses",
                      "--data", str(root), "--now", NOW]):
            code, said = run(*args)
            assert code == 2, (args, said)
            assert "read-only" in said and "Traceback" not in said, (args, said)
    finally:
        for path in [world, *world.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(world)
