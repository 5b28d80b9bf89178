"""A damaged or half-written store is detected, not read.

Each kind of damage a hostile probe tried (a log entry corrupt, cut short or deleted, a data
file missing, cut short or replaced by a valid Parquet file with fewer rows, a table
directory of Parquet files without a log) ends in the right numbers or in a message naming
the file and the fix, never in silently wrong numbers.
"""

import os
import socket

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake

from analysis import store
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
    assert not store._is_delta(old / "dealers")  # nothing converted while any is refused
    cut.write_bytes(data)
    (old / "dealers" / store.WRITING).unlink()
    assert [r.table for r in store.migrate(old)] == ["dealers", "responses"]
    assert len(store.load("responses", data_dir=old)) == len(responses)
