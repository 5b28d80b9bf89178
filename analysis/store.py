"""The store: the tables reports read, as Delta Lake tables with versions.

Layout
------
``<data_dir>/<table>/`` is a Delta Lake table written by delta-rs (the ``deltalake``
package): Parquet files under ``month=YYYY-MM/`` (the month of the table's time column,
:data:`TIME_COLUMNS`; ``dealers`` is not partitioned) and the log ``_delta_log/`` that says
which files make up each version. It is a plain Delta table (reader 3 / writer 7 with the one
feature ``timestampNtz``: times are the network's wall-clock times, without a zone), so
Spark, DuckDB (``delta_scan``), Polars or Trino read it as it is.

Writing: :func:`append` (what ``python -m analysis ingest`` calls) is one commit, all of it or
nothing: a MERGE on the table's key (``analysis.schemas.KEYS``). A row whose key is stored
replaces the stored row wherever it is (the last ingest wins; a corrected date moves the row
to its month), a new key is inserted, an identical row changes nothing (and when nothing
changes there is no commit). A killed ingest leaves the table exactly as it was: its files
are not in the log (``store vacuum`` deletes them later). Two writers of one table take turns
on a lock file (``<data_dir>/.locks/<table>.lock``); a writer the lock cannot see (another
machine on a shared folder) makes delta-rs refuse the later commit ("a concurrent
transaction added new data"): that MERGE is run again on the new version, up to
``commit_retries`` times (params/store.yaml), then :class:`StoreConflict` says to run it
again. A lost update is impossible either way.

Reading: :func:`load` reads the files the log lists (whole months skipped by the partition
filter, regions kept as the files are read); a table holding a key twice is refused
(:class:`DuplicateKeyError`). Engines get a table's current files from its log
(:func:`data_files`); :func:`to_duckdb` gives a DuckDB relation for SQL.

Versions: every commit is a version of its table. :func:`snapshot` pins the versions of
every table of a data directory (now, or ``as_of`` an earlier version list or time); a
:class:`Snapshot` is accepted wherever a ``data_dir`` is, so everything read through it sees
those versions. Reports record :attr:`Snapshot.spec` and reproduce with ``--as-of``.
:func:`history` lists the commits with the file ingested and the rows it changed.

Housekeeping: :func:`migrate` converts the older layouts in place, :func:`optimize` compacts
small files, :func:`vacuum` deletes files no version within ``keep_versions_days`` needs.

A table is a Delta table or it is nothing. A table's first version is written in a hidden
directory beside it and renamed into place, so a killed first ingest leaves no table. A
directory of Parquet files without a log (what such a kill left before, or the store's
layout before Delta Lake) is never read as data: readers raise :class:`StoreDamaged`, and
only ``store migrate``, which first checks that it is a complete table of that layout,
reads it. ``<table>.parquet`` (one file, what the demo generator writes) is still read;
appending to it is refused.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from analysis.config import DATA_ROOT, load_params
from analysis.config import data_dir as _data_dir
from analysis.tables import TABLES, TIME_COLUMNS

PARTITION = "month"
LOG_DIR = "_delta_log"
LOCK_DIR = ".locks"
#: the table that a bare version number in ``--as-of N`` refers to
MAIN_TABLE = "responses"


class StoreError(FileNotFoundError):
    """A table is not in the data directory; the message says where we looked."""


class StoreConflict(StoreError):
    """Other writers kept the table busy: nothing of this write was stored; run it again."""


class StoreDamaged(StoreError):
    """A table's log and files disagree, or a table's directory is no table: nothing was read
    or written. The message names each file at fault and what to do; :attr:`problems` lists
    them (:class:`Problem`)."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a table: the file at fault, what is wrong, what to do."""

    table: str
    path: Path
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}; {self.fix}"


class DuplicateKeyError(StoreError):
    """A table holds a key twice: the store was written by something other than this package
    (or by the store before Delta Lake, killed mid-ingest); the message says what to do."""


def _settings() -> dict:
    return load_params("store")


# --- where a table is ------------------------------------------------------------------------
def _is_delta(path: Path) -> bool:
    log = path / LOG_DIR
    return log.is_dir() and ((log / "_last_checkpoint").exists() or any(log.glob("*.json")))


def _source(table: str, directory: Path) -> Path:
    """The table's Delta table, or its single file (what the demo generator writes).

    A directory of Parquet files without a Delta log is no table: what a first ingest killed
    before its commit left (by the store before it wrote first versions aside), or the layout
    before Delta Lake, which only ``store migrate`` reads. It raises :class:`StoreDamaged`
    rather than read as data. A directory holding no Parquet file is no table either."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; known tables: {', '.join(TABLES)}")
    folder, single = directory / table, directory / f"{table}.parquet"
    if folder.is_dir():
        if _is_delta(folder):
            return folder
        if _legacy_files(folder):
            raise StoreDamaged([_not_a_table(table, folder)])
    if single.is_file():
        return single
    raise StoreError(
        f"table {table!r} not found in {directory} (looked for {table}/ and {table}.parquet); "
        "run `make report` for demo data or `python -m analysis ingest` for your exports"
    )


def _not_a_table(table: str, folder: Path) -> Problem:
    files = _legacy_files(folder)
    if any(_DELTA_FILE.fullmatch(p.name) for p in files):
        return Problem(
            table, folder,
            f"{len(files)} Parquet file(s) and no Delta log ({LOG_DIR}/): what an ingest killed "
            "before the table's first commit left; none of it was stored, and it is not read",
            f"delete {folder} and ingest the table's first export again")
    return Problem(
        table, folder,
        f"{len(files)} Parquet file(s) without a Delta log: a table in the store's layout "
        "before Delta Lake (or files put there by hand), not read as it is",
        f"convert it with `python -m analysis store migrate {table} --data {folder.parent}` "
        "(which first checks that it is a complete table)")


@dataclass(frozen=True)
class _Located:
    kind: str            # "delta" or "file" (a single Parquet file)
    path: Path
    version: int | None  # Delta: the version to read (None: the latest)


def _locate(table: str, data_dir) -> _Located:
    directory = _data_dir(data_dir)
    src = _source(table, directory)
    if src.is_file():
        return _Located("file", src, None)
    if not isinstance(data_dir, Snapshot):
        return _Located("delta", src, None)
    if table not in data_dir.versions:
        raise StoreError(f"table {table!r} did not exist yet in {directory} as of "
                         f"{data_dir.as_of or 'the snapshot'}")
    return _Located("delta", src, data_dir.versions[table])


def available(table: str, *, data_dir: str | os.PathLike | None = None) -> bool:
    """Whether the data directory (or snapshot) holds ``table``; a damaged table is no absent
    one (:class:`StoreDamaged` is raised)."""
    try:
        _locate(table, data_dir)
    except StoreDamaged:
        raise
    except StoreError:
        return False
    return True


def _open(path: Path | str, version: int | None = None):
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    try:
        return DeltaTable(str(path), version=version)
    except TableNotFoundError:
        raise StoreError(f"{path}: not a Delta table") from None
    except (DeltaError, OSError) as err:
        if version is None:
            raise
        raise StoreError(
            f"{path}: version {version} cannot be read ({err}); versions older than "
            f"keep_versions_days ({_settings()['keep_versions_days']} days, params/store.yaml) "
            "may have been cleaned up: `python -m analysis store history` lists those kept"
        ) from None


# --- snapshots: the versions a report reads --------------------------------------------------
def _network_tz() -> str:
    return load_params("network")["timezone"]


@dataclass(frozen=True)
class Snapshot(os.PathLike):
    """A data directory at fixed table versions; pass it wherever a ``data_dir`` goes.

    Attributes
    ----------
    directory
        The data directory.
    versions
        The version of every Delta table read through the snapshot; a Delta table that is not
        listed did not exist at that moment and reads as absent. Tables in an older layout
        have no versions and are read as they are.
    as_of
        What was asked for (``""``: the latest versions when the snapshot was taken).
    """

    directory: Path
    versions: Mapping[str, int] = field(default_factory=dict)
    as_of: str = ""

    def __fspath__(self) -> str:
        return os.fspath(self.directory)

    def __str__(self) -> str:
        return str(self.directory)

    @property
    def spec(self) -> str:
        """The versions as ``--as-of`` takes them: ``dealers=3,responses=12,...``."""
        return ",".join(f"{t}={self.versions[t]}" for t in TABLES if t in self.versions)

    @cached_property
    def committed(self) -> dict[str, pd.Timestamp]:
        """When each version was committed (in the network's time zone)."""
        return {t: _commit_time(self.directory / t, v) for t, v in self.versions.items()}

    def describe(self) -> str:
        """One line: each table's version and commit time, and how to read them again."""
        if not self.versions:
            return (f"The store {self.directory} has no versions (an older layout, read as it "
                    "is: `python -m analysis store migrate` converts it).")
        parts = []
        for table in TABLES:
            if table in self.versions:
                stamp = self.committed.get(table, pd.NaT)
                when = "" if pd.isna(stamp) else f" ({stamp:%Y-%m-%d %H:%M:%S %Z})"
                parts.append(f"{table} v{self.versions[table]}{when}")
        return (f"Store versions read: {', '.join(parts)}. The same numbers again: "
                f"python -m analysis report --as-of {self.spec}")

    def load(self, table: str, **kwargs) -> pd.DataFrame:
        """:func:`load` at this snapshot's versions."""
        return load(table, data_dir=self, **kwargs)


def _commit_time(path: Path, version: int) -> pd.Timestamp:
    """When a version was committed (network time): from its log entry, else the history."""
    entry = path / LOG_DIR / f"{version:020d}.json"
    stamp = None
    if entry.exists():
        with entry.open(encoding="utf-8") as fh:
            for line in fh:
                info = json.loads(line).get("commitInfo")
                if info and "timestamp" in info:
                    stamp = int(info["timestamp"])
                    break
    if stamp is None:
        commits = _commits(path)
        match = commits.loc[commits["version"] == version, "committed_at"]
        return match.iloc[0] if len(match) else pd.NaT
    return pd.Timestamp(stamp, unit="ms", tz="UTC").tz_convert(_network_tz())


def _parse_as_of(text: str) -> dict[str, int] | pd.Timestamp:
    """``12`` (the responses table's version), ``table=N,...`` or a date-time."""
    text = text.strip()
    if re.fullmatch(r"\d+", text):
        return {MAIN_TABLE: int(text)}
    if "=" in text:
        versions = {}
        for item in filter(None, (x.strip() for x in text.split(","))):
            name, _, number = item.partition("=")
            name = name.strip()
            if name not in TABLES or not number.strip().isdigit():
                raise StoreError(f"--as-of {text!r}: {item!r} is not TABLE=VERSION with TABLE "
                                 f"one of {', '.join(TABLES)}")
            versions[name] = int(number)
        return versions
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        stamp = pd.NaT
    if pd.isna(stamp):
        raise StoreError(f"--as-of {text!r} is neither a version (12, or dealers=3,"
                         "responses=12 as a report's appendix lists them) nor a date-time "
                         "(2026-11-03 18:00, in the network's time zone, or with an offset)")
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(_network_tz())
    return stamp.tz_convert("UTC")


def _delta_tables(directory: Path) -> list[str]:
    return [t for t in TABLES if _is_delta(directory / t)]


def snapshot(data_dir: str | os.PathLike | None = None, *, as_of: str | None = None
             ) -> Snapshot:
    """The data directory at the latest versions, or at the versions ``as_of`` names.

    Parameters
    ----------
    data_dir
        The data directory (default as :func:`load`'s), or a snapshot (returned as it is when
        ``as_of`` is empty).
    as_of
        ``"dealers=3,responses=12,..."`` (a report's :attr:`Snapshot.spec`): those versions,
        and tables not named at the latest version committed before the named ones; ``"12"``:
        version 12 of responses, the others likewise; a date-time (``"2026-11-03 18:00"`` in
        the network's time zone, or ISO 8601 with an offset): every table as it was then.
    """
    if isinstance(data_dir, Snapshot) and not as_of:
        return data_dir
    directory = _data_dir(data_dir)
    tables = _delta_tables(directory)
    problems = [_not_a_table(t, directory / t) for t in TABLES if t not in tables
                and (directory / t).is_dir() and _legacy_files(directory / t)]
    if problems:
        raise StoreDamaged(problems)
    if not as_of:
        return Snapshot(directory, {t: _latest_version(directory / t) for t in tables})
    wanted = _parse_as_of(as_of)
    versions: dict[str, int] = {}
    if isinstance(wanted, dict):
        for table, version in wanted.items():
            if table not in tables:
                raise StoreError(f"--as-of {as_of}: {directory} has no Delta table {table!r}")
            commits = _commits(directory / table)
            if version not in set(commits["version"]):
                raise StoreError(
                    f"--as-of {as_of}: {table} has no version {version} (kept: "
                    f"{_ranges(commits['version'])}; params/store.yaml keeps "
                    f"{_settings()['keep_versions_days']} days)")
            versions[table] = version
        stamps = [_commits(directory / t).set_index("version").loc[v, "committed_at"]
                  for t, v in versions.items()]
        moment = max(stamps).tz_convert("UTC")
        rest = [t for t in tables if t not in versions]
    else:
        moment, rest = wanted, tables
    for table in rest:
        commits = _commits(directory / table)
        before = commits.loc[commits["committed_at"] <= moment, "version"]
        if len(before):
            versions[table] = int(before.max())
    if isinstance(wanted, pd.Timestamp) and not versions:
        raise StoreError(f"--as-of {as_of}: no table in {directory} had been written yet then")
    return Snapshot(directory, {t: versions[t] for t in TABLES if t in versions}, as_of.strip())


def versions(data_dir: str | os.PathLike | None = None) -> dict[str, int]:
    """The current version of every Delta table in the data directory."""
    return dict(snapshot(data_dir).versions)


def describe_versions(data_dir: str | os.PathLike | None = None) -> str:
    """One line for a report: the versions it read (a :class:`Snapshot`), or the latest."""
    try:
        return snapshot(data_dir).describe()
    except (StoreError, OSError) as err:
        return f"Store versions unknown: {err}"


def _ranges(values: Iterable[int]) -> str:
    values = sorted(set(values))
    if not values:
        return "none"
    return f"{values[0]}-{values[-1]}" if len(values) > 1 else str(values[0])


# --- reading ---------------------------------------------------------------------------------
def _month_filter(table: str, months: Iterable[str]):
    """The rows of ``months`` by the table's time column (an expression over the files)."""
    months = sorted({str(pd.Period(m, freq="M")) for m in months})
    col = TIME_COLUMNS[table]
    if col == "month":
        return ds.field("month").isin(months)
    expr = None
    for m in months:
        start = pd.Period(m, freq="M").start_time
        end = (pd.Period(m, freq="M") + 1).start_time
        part = (ds.field(col) >= start) & (ds.field(col) < end)
        expr = part if expr is None else expr | part
    return expr


def to_duckdb(table: str, *, data_dir: str | os.PathLike | None = None, connection=None):
    """The table (at the snapshot's version) as a DuckDB relation, for SQL over the store.

    DuckDB reads the Parquet files the table's log lists (columns a file predates are
    empty), with the partition column ``month``; filters are pushed down to the files.
    ``connection``: a ``duckdb`` connection (default its module-wide one). Needs ``duckdb``
    installed (``pip install duckdb``).

    Examples
    --------
    >>> r = to_duckdb("responses")                                 # doctest: +SKIP
    >>> r.filter("month = '2026-10'").aggregate("dealer_id, avg(nps)").df()  # doctest: +SKIP
    """
    import duckdb

    con = connection if connection is not None else duckdb.default_connection()
    where = _locate(table, data_dir)
    if where.kind != "delta":
        return con.read_parquet(str(where.path))
    files, schema = _delta_files(str(where.path), where.version)
    if not files:
        return con.from_arrow(schema.empty_table())
    return con.read_parquet([f.uri for f in files], hive_partitioning=table in TIME_COLUMNS,
                            union_by_name=True)


def _delta_dataset(path: Path, version: int | None) -> ds.Dataset:
    """A Delta table's version as a pyarrow dataset of the files its log lists, each with its
    partition values (so filters on ``month`` skip whole files); Parquet statistics prune
    row groups as for any Parquet file."""
    import pyarrow.fs as pafs

    entry = _delta_entry(str(path), version)
    if entry[2] is not None:
        return entry[2]
    files, schema = entry[0], entry[1]
    fmt = ds.ParquetFileFormat(
        default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=True))
    local = pafs.LocalFileSystem()
    fragments = []
    for f in files:
        expr = None
        for name, value in f.partition:
            part = (ds.field(name).is_null() if value is None
                    else ds.field(name) == pa.scalar(value, schema.field(name).type))
            expr = part if expr is None else expr & part
        fragments.append(fmt.make_fragment(f.uri, filesystem=local,
                                           partition_expression=expr))
    entry[2] = ds.FileSystemDataset(fragments, schema, fmt, local)
    return entry[2]


def load(
    table: str,
    *,
    months: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    columns: list[str] | None = None,
    as_of: str | None = None,
) -> pd.DataFrame:
    """Load one table as a DataFrame.

    Parameters
    ----------
    table
        One of ``dealers``, ``responses``, ``invitations``, ``cases``, ``repair_orders``,
        ``incidents``.
    months
        ``YYYY-MM`` strings to keep (by the table's time column); None keeps all.
    regions
        Region names to keep (through the dealers table); None keeps all.
    data_dir
        Override of the configured data directory, or a :class:`Snapshot`.
    columns
        Columns to read (default all, the partition column ``month`` last).
    as_of
        Read the versions :func:`snapshot` names for this (default: those of ``data_dir``).

    Raises
    ------
    DuplicateKeyError
        The rows read hold a key twice (checked when the key columns are read).
    """
    from analysis import schemas

    if as_of:
        data_dir = snapshot(data_dir, as_of=as_of)
    where = _locate(table, data_dir)
    expr = None
    if where.kind == "delta":
        data = _delta_dataset(where.path, where.version)
        if months is not None and table in TIME_COLUMNS:
            # the partition is the month of the time column: whole files are kept or skipped
            expr = ds.field(PARTITION).isin(sorted({str(pd.Period(m, freq="M"))
                                                    for m in months}))
    else:
        data = ds.dataset(where.path, format="parquet")
        if months is not None and table in TIME_COLUMNS:
            expr = _month_filter(table, months)
    rows: tuple[str, list] | None = None  # (column, values) to keep
    if regions is not None:
        regions = list(regions)
        if table == "dealers":
            rows = ("region", regions)
        else:
            dealers = load("dealers", regions=regions, data_dir=data_dir)
            rows = ("dealer_id", dealers["dealer_id"].tolist())
    key = list(schemas.KEYS[table])
    if rows is not None and where.kind != "delta":
        row_expr = ds.field(rows[0]).isin(rows[1])
        expr = row_expr if expr is None else expr & row_expr
        rows = None
    wanted = columns
    if rows is not None and columns is not None and rows[0] not in columns:
        wanted = [*columns, rows[0]]
    try:
        read = data.to_table(filter=expr, columns=wanted)
    except FileNotFoundError as err:
        raise StoreError(
            f"{where.path}: version {where.version} of {table} needs files that are gone "
            f"({err}); `store vacuum` deletes those of versions older than keep_versions_days "
            "(params/store.yaml)") from None
    if rows is not None:
        # Delta: row filters are applied as the files are read, not handed to the dataset,
        # whose statistics of strings delta-rs's MERGE types string_view (pyarrow cannot
        # compare those with the table's string columns yet)
        read = read.filter(pc.is_in(read[rows[0]], value_set=pa.array(
            rows[1], read.schema.field(rows[0]).type))).select(columns or read.column_names)
    if where.kind == "delta":
        # rows in one order whatever the files (an optimize or a merge regroups them): the
        # order the store before Delta kept, so sampling and bootstraps give the same numbers
        order = [c for c in (TIME_COLUMNS.get(table), *key) if c in read.column_names]
        if order and not _sorted(read, order):
            read = read.take(_order(read, order))
    if columns is None or set(key) <= set(columns):
        _check_unique(table, read, key, where)
    return _to_frame(table, read, ordered=columns is None)


def _sorted(data: pa.Table, order: list[str]) -> bool:
    """Whether the rows are in ``order`` already (one file a month reads so): a linear check,
    cheaper than sorting."""
    n = data.num_rows
    if n < 2:
        return True
    where = None  # neighbours equal on every column so far
    for col in order:
        values = data[col].combine_chunks()
        if pa.types.is_timestamp(values.type):
            values = values.cast(pa.int64())
        a, b = values.slice(0, n - 1), values.slice(1)
        if where is not None:
            a, b = a.take(where), b.take(where)
        if not pc.all(pc.less_equal(a, b)).as_py():
            return False
        same = pc.indices_nonzero(pc.equal(a, b))
        if len(same) == 0:
            return True
        where = same if where is None else where.take(same)
    return True


def _order(data: pa.Table, order: list[str]) -> pa.Array:
    """Row indices sorting ``data`` by ``order``: by the first column (a time: integers,
    fast), then the few runs of equal times by the rest."""
    first = data[order[0]].combine_chunks()
    if pa.types.is_timestamp(first.type):
        first = first.cast(pa.int64())
    if len(order) == 1 or not (pa.types.is_integer(first.type)):
        return pc.sort_indices(data, sort_keys=[(c, "ascending") for c in order])
    values = first.to_numpy(zero_copy_only=False)
    idx = np.argsort(values, kind="stable")
    ordered = values[idx]
    ties = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(ties):  # the rows of every run of equal times, sorted in one go by all columns
        in_run = np.zeros(len(idx), dtype=bool)
        in_run[ties] = in_run[ties + 1] = True
        where = np.flatnonzero(in_run)
        rows = idx[where]
        sub = data.select(order).take(pa.array(rows))
        idx[where] = rows[pc.sort_indices(sub, sort_keys=[(c, "ascending")
                                                          for c in order]).to_numpy()]
    return pa.array(idx)


def _store_types(data: pa.Table) -> pa.Table:
    """Timestamps as nanoseconds: what the store returned before Delta (which keeps
    microseconds), so every caller sees the same dtypes whatever the layout."""
    for i, f in enumerate(data.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz is None and f.type.unit != "ns":
            data = data.set_column(i, pa.field(f.name, pa.timestamp("ns")),
                                   data[f.name].cast(pa.timestamp("ns")))
    return data


def _to_frame(table: str, data: pa.Table, *, ordered: bool) -> pd.DataFrame:

    if ordered:  # the model's order, the partition column last (as the older layout had it)
        model = [c for c in _model_columns(table) if c in data.column_names]
        data = data.select(model + [c for c in data.column_names if c not in model])
    frame = _store_types(data).to_pandas()
    # hive partition columns come back as categories; callers expect plain values
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype(str)
    return frame


@cache
def _model_columns(table: str) -> tuple[str, ...]:
    from analysis import schemas

    return tuple(schemas.columns(table))


def _check_unique(table: str, data: pa.Table, key: list[str], where: _Located) -> None:
    if len(key) == 1:
        distinct = len(pc.unique(data[key[0]]))
    else:
        distinct = data.select(key).group_by(key).aggregate([]).num_rows
    if distinct == data.num_rows:
        return
    frame = data.select(key).to_pandas()
    dup = frame.duplicated(key, keep=False)
    examples = frame.loc[dup, key].drop_duplicates().head(3).astype(str).agg("/".join, axis=1)
    n = int(frame.loc[dup, key].drop_duplicates().shape[0])
    if where.kind == "delta":
        advice = ("it was written by something other than this package: `python -m analysis "
                  f"store history {table}` shows the commits, and `--as-of` reads a version "
                  "before the damage")
    else:
        advice = ("the file was written by something other than this package: ingest the "
                  "export it came from into a store (`python -m analysis ingest`)")
    raise DuplicateKeyError(f"{where.path}: {n:,} key(s) of {table} are stored more than once "
                            f"(e.g. {', '.join(examples)}); refusing to read it: {advice}")


def columns(table: str, *, data_dir: str | os.PathLike | None = None) -> list[str]:
    """Column names of a store table (nothing is read but the log or a file footer)."""
    where = _locate(table, data_dir)
    if where.kind == "delta":
        return list(_delta_files(str(where.path), where.version)[1].names)
    return list(pq.read_schema(where.path).names)


def with_region(frame: pd.DataFrame, dealers: pd.DataFrame) -> pd.DataFrame:
    """Attach dealer_name, region and city to a frame keyed by dealer_id.

    A column the dealers table lacks (a dealers export without a city) is not attached: the
    sections that need it say so (:mod:`analysis.coverage`).
    """
    extra = [c for c in ("dealer_name", "region", "city") if c not in frame and c in dealers]
    return frame.merge(dealers[["dealer_id", *extra]], on="dealer_id", how="left",
                       validate="many_to_one")


def region_for(frame: pd.DataFrame, dealers: pd.DataFrame | None, *, by, table: str,
               error: type[Exception]) -> pd.DataFrame:
    """``frame`` with each dealer's ``region`` attached when the grouping ``by`` asks for it
    and the frame has none (the statistics that group by region share this one step).

    Raises ``error`` (the caller's data error) when the region is needed and ``dealers`` is
    None.
    """
    if "region" not in by or "region" in frame.columns:
        return frame
    if dealers is None:
        raise error(f"{table} by region needs the dealers table", table=table,
                    column="region", fix="pass dealers=store.load('dealers')")
    return frame.merge(dealers[["dealer_id", "region"]], on="dealer_id", how="left")


def latest_complete_month(
    responses: pd.DataFrame, *, time_col: str = "responded_at", today: pd.Timestamp | None = None
) -> str:
    """The latest month that has data and is over (before the current calendar month)."""
    if responses.empty:
        raise StoreError("no responses in the data directory: there is no month to report")
    today = pd.Timestamp.now() if today is None else pd.Timestamp(today)
    last_data = responses[time_col].max().to_period("M")
    last_over = today.to_period("M") - 1
    return str(min(last_data, last_over))


# --- the files of a table, for engines that read them themselves -----------------------------
@dataclass(frozen=True)
class DataFile:
    """One Parquet file of a table's version: where it is, its rows and partition values."""

    uri: str
    rows: int
    partition: tuple[tuple[str, str], ...] = ()


def _table_uri(table: str, data_dir) -> tuple[str, int | None] | None:
    """URI and version of ``table`` when it is a Delta table, else None."""
    text = None if isinstance(data_dir, Snapshot) else (
        str(data_dir) if data_dir is not None else os.environ.get("DEALER_VOICE_DATA", ""))
    if text and "://" in text:  # object storage (s3://...), or file:// as tests use
        from deltalake import DeltaTable

        uri = f"{text.rstrip('/')}/{table}"
        return (uri, None) if DeltaTable.is_deltatable(uri) else None
    where = _locate(table, data_dir)
    return (str(where.path), where.version) if where.kind == "delta" else None


def data_files(table: str, *, data_dir: str | os.PathLike | None = None,
               months: Iterable[str] | None = None) -> tuple[list[DataFile], pa.Schema] | None:
    """The files of the table's version (pruned to ``months``) and its Arrow schema (times in
    ns, as :func:`load` returns them); None when the table is not a Delta table."""
    located = _table_uri(table, data_dir)
    if located is None:
        return None
    files, schema = _delta_files(*located)
    if months is not None and table in TIME_COLUMNS:
        wanted = {str(pd.Period(m, freq="M")) for m in months}
        files = [f for f in files if dict(f.partition).get(PARTITION) in wanted]
    return files, _store_types(schema.empty_table()).schema


# Readers keep each table's log state (a DeltaTable brought up to date incrementally, a
# fraction of a millisecond) and each version's file list: a report loads its tables many
# times at one version. Writers open tables afresh. Guarded for threads (delta-rs refuses
# two calls on one table object at once).
_LATEST: dict[str, tuple[int, object]] = {}
_FILES: dict[tuple[str, int, int], list] = {}  # [files, schema, dataset or None]
_CACHE_LOCK = threading.Lock()
_FILES_KEPT = 256


def _delta_files(uri: str, version: int | None) -> tuple[list[DataFile], pa.Schema]:
    """Every file of a Delta table's version, from its log, and the table's Arrow schema."""
    if "://" in uri:  # object storage: no caching, nothing to watch
        return _files_of(_open(uri, version))
    files, schema, _ = _delta_entry(uri, version)
    return files, schema


def _latest_version(path: Path) -> int:
    """The table's latest version (its log brought up to date, a fraction of a ms)."""
    ino = os.stat(path / LOG_DIR).st_ino
    with _CACHE_LOCK:
        cached = _LATEST.get(str(path))
        if cached is None or cached[0] != ino:
            cached = (ino, _open(path))
            _LATEST[str(path)] = cached
        else:
            cached[1].update_incremental()
        return cached[1].version()


def _delta_entry(uri: str, version: int | None) -> list:
    """The cached ``[files, schema, dataset]`` of a local table's version (None: latest)."""
    try:
        ino = os.stat(Path(uri) / LOG_DIR).st_ino  # a table replaced (migrate) is another
    except OSError:
        raise StoreError(f"{uri}: not a Delta table") from None
    with _CACHE_LOCK:
        cached = _LATEST.get(uri)
        latest = cached[1] if cached and cached[0] == ino else None
        if version is None:
            if latest is None:
                latest = _open(uri)
                _LATEST[uri] = (ino, latest)
            else:
                latest.update_incremental()
            version = latest.version()
        key = (uri, ino, version)
        if key not in _FILES:
            if len(_FILES) >= _FILES_KEPT:
                _FILES.clear()
            table = latest if latest is not None and latest.version() == version else _open(
                uri, version)
            _FILES[key] = [*_files_of(table), None]
        return _FILES[key]


def _files_of(delta) -> tuple[list[DataFile], pa.Schema]:
    from urllib.parse import unquote

    actions = pa.table(delta.get_add_actions(flatten=True))
    parts = [c for c in actions.column_names if c.startswith("partition.")]
    base = delta.table_uri.rstrip("/")
    local = base.startswith("file://") or "://" not in base
    files = []
    for row in actions.select(["path", "num_records", *parts]).to_pylist():
        path = unquote(row["path"])
        full = path if "://" in path else f"{base}/{path}"
        if local:
            full = full.removeprefix("file://")
        files.append(DataFile(full, int(row["num_records"] or 0),
                              tuple((c.removeprefix("partition."), row[c]) for c in parts)))
    return sorted(files, key=lambda f: (f.partition, f.uri)), pa.schema(delta.schema())


# --- the write side ----------------------------------------------------------------------------
@dataclass(frozen=True)
class AppendResult:
    """What :func:`append` did: rows new to the store, rows that replaced a stored row with the
    same key but other values, rows identical to the stored ones, the partitions written and
    the table's version after it (None when nothing was written)."""

    table: str
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    partitions: tuple[str, ...] = ()
    version: int | None = None


def processed_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Where :func:`append` writes: ``data_dir``, else ``data/processed``."""
    return Path(data_dir) if data_dir else DATA_ROOT / "processed"


def _table_config() -> dict[str, str]:
    s = _settings()
    keep, vacuum_days = int(s["keep_versions_days"]), int(s["vacuum_retention_days"])
    return {"delta.logRetentionDuration": f"interval {keep} days",
            "delta.deletedFileRetentionDuration": f"interval {max(keep, vacuum_days)} days"}


def _delta_schema(table: str, names: Iterable[str]) -> pa.Schema:
    """The Delta table's Arrow schema for the model's ``names``: times in microseconds (Delta's
    unit), the partition column ``month`` last."""
    from analysis import schemas

    fields = [pa.field(f.name, pa.timestamp("us")) if pa.types.is_timestamp(f.type) else f
              for f in schemas.arrow_schema(table, names)]
    col = TIME_COLUMNS.get(table)
    if col is not None and col != PARTITION:
        fields.append(pa.field(PARTITION, pa.string()))
    return pa.schema(fields)


def _arrow(table: str, frame: pd.DataFrame) -> pa.Table:
    """Validated rows as the Delta table stores them (:func:`_delta_schema`)."""
    from analysis import schemas

    names = [c for c in schemas.columns(table) if c in frame]
    data = pa.Table.from_pandas(frame[names], schema=schemas.arrow_schema(table, names),
                                preserve_index=False)
    schema = _delta_schema(table, names)
    arrays = [pc.cast(data[f.name], f.type, safe=False) for f in schema if f.name in names]
    if PARTITION in schema.names and PARTITION not in names:
        arrays.append(pc.strftime(data[TIME_COLUMNS[table]], format="%Y-%m"))
    data = pa.Table.from_arrays(arrays, schema=schema)
    # files in the order load returns (time, key): row groups prune well on time
    order = [c for c in (TIME_COLUMNS.get(table), *schemas.KEYS[table]) if c in names]
    return data.take(pc.sort_indices(data, sort_keys=[(c, "ascending") for c in order]))


@contextmanager
def _writer_lock(directory: Path, table: str) -> Iterator[None]:
    """One writer of ``table`` at a time on this machine (and on shared folders whose file
    locks work); the OS drops the lock of a killed process."""
    from filelock import FileLock, Timeout

    timeout = float(_settings()["lock_timeout_seconds"])
    path = directory / LOCK_DIR / f"{table}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise StoreConflict(f"another process has been writing {table} in {directory} for "
                            f"{timeout:.0f} s (lock file {path}); nothing was stored: let it "
                            "finish, then run this again") from None
    try:
        yield
    finally:
        lock.release()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _commit_partitions(path: Path, version: int) -> tuple[str, ...]:
    """Partitions a commit added or removed files in (from its log entry)."""
    entry = path / LOG_DIR / f"{version:020d}.json"
    if not entry.exists():
        return ()
    out = set()
    for line in entry.read_text(encoding="utf-8").splitlines():
        action = json.loads(line)
        for kind in ("add", "remove"):
            if kind in action:
                values = action[kind].get("partitionValues") or {}
                out.add("/".join(f"{k}={v}" for k, v in values.items()) or ".")
    return tuple(sorted(out))


def _merge(table: str, path: Path, data: pa.Table, info: Mapping | None) -> AppendResult:
    from deltalake import CommitProperties

    from analysis import schemas

    props = CommitProperties(custom_metadata={"ingest": dict(info)} if info else None)
    if not _is_delta(path):
        _create(table, path, data, props)
        return AppendResult(table, added=data.num_rows, partitions=_commit_partitions(path, 0),
                            version=0)
    target = _open(path)
    stored = pa.schema(target.schema())
    # a row replaces the stored row entirely: optional columns it lacks are stored empty
    for f in stored:
        if f.name not in data.column_names:
            data = data.append_column(f, pa.nulls(data.num_rows, f.type))
    key = schemas.KEYS[table]
    on = " AND ".join(f"t.{_quote(k)} = s.{_quote(k)}" for k in key)
    # a stored row changes when a value differs, or a column new to the table has one
    changed = " OR ".join(
        f"(t.{_quote(c)} IS DISTINCT FROM s.{_quote(c)})" if c in stored.names
        else f"(s.{_quote(c)} IS NOT NULL)" for c in data.column_names if c not in key)
    before = target.version()
    # not streamed: the source is in memory anyway, and new rows keep its (time, key) order,
    # so a month read back needs no sorting
    metrics = (target.merge(data, predicate=on, source_alias="s", target_alias="t",
                            merge_schema=bool(set(data.column_names) - set(stored.names)),
                            streamed_exec=False, commit_properties=props)
               .when_matched_update_all(predicate=changed or None)
               .when_not_matched_insert_all().execute())
    added = int(metrics.get("num_target_rows_inserted", 0))
    replaced = int(metrics.get("num_target_rows_updated", 0))
    version = target.version()
    partitions = _commit_partitions(path, version) if version != before else ()
    return AppendResult(table, added, replaced, data.num_rows - added - replaced, partitions,
                        version)


# how delta-rs names data files (another writer's, not committed yet, are no older layout)
_DELTA_FILE = re.compile(r"part-\d+-[0-9a-f-]{36}(-c\d+)?(\.\w+)?\.parquet")
_CREATING = ".{table}.creating-"


def _create(table: str, path: Path, data: pa.Table, props) -> None:
    """The table's first version, written in a hidden directory beside it and renamed into
    place: a kill leaves no table (the hidden directory, which the next first ingest
    deletes), never Parquet files without their log."""
    from deltalake import write_deltalake

    _clear_creations(table, path.parent)
    work = path.with_name(f"{_CREATING.format(table=table)}{socket.gethostname()}-"
                          f"{os.getpid()}-{secrets.token_hex(4)}")
    try:
        write_deltalake(str(work), data, mode="error", configuration=_table_config(),
                        partition_by=[PARTITION] if table in TIME_COLUMNS else None,
                        commit_properties=props)
        if path.is_dir() and not _is_delta(path):
            files = _legacy_files(path)
            if files and not all(_DELTA_FILE.fullmatch(f.name) for f in files):
                raise StoreError(f"{path} holds Parquet files of another layout; nothing was "
                                 "stored: `python -m analysis store migrate` converts them")
            # what a first ingest of the store before this one left when killed: never stored
            shutil.rmtree(path)
        try:
            os.rename(work, path)
        except OSError as err:
            if _is_delta(path):  # another writer created it first: merge into it
                raise _Retry(err) from err
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _clear_creations(table: str, directory: Path) -> None:
    """Delete the hidden first versions that killed ingests left (their process is gone, or
    they are a day old: another machine's)."""
    prefix = _CREATING.format(table=table)
    for old in directory.glob(f"{prefix}*"):
        host, _, rest = old.name.removeprefix(prefix).rpartition("-")[0].rpartition("-")
        pid = int(rest) if rest.isdigit() else -1
        try:
            stale = time.time() - old.stat().st_mtime > 86400
        except OSError:
            continue
        if stale or (host == socket.gethostname() and not _alive(pid)):
            shutil.rmtree(old, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class _Retry(Exception):
    """A commit to run again on the table's new version."""


def append(
    table: str, frame: pd.DataFrame, *, data_dir: str | os.PathLike | None = None,
    info: Mapping | None = None,
) -> AppendResult:
    """Merge validated rows of ``table`` into its Delta table in one commit; the last wins.

    A row whose key (``analysis.tables.KEYS``) is stored replaces the stored row, wherever it
    was (an updated case, a corrected date moving a row to another month); so appending the
    same rows twice changes nothing (and commits nothing). Nothing is ever deleted. The commit
    is atomic: a crash leaves the table as before or after it. Writers of one table take turns
    (a lock file); a commit overtaken by a writer the lock does not see is run again.

    Parameters
    ----------
    frame
        Rows valid for ``analysis.schemas`` (``analysis.ingest.read_export(...).accepted``);
        optional columns may be missing and are stored empty.
    data_dir
        The store directory (default ``data/processed``), what ``load(data_dir=...)`` reads.
    info
        What the commit records about the ingest (file, rows read and quarantined, ...):
        JSON values without personal data; :func:`history` shows them.

    Raises
    ------
    StoreConflict
        The table stayed busy (lock timeout, or too many overtaken commits); nothing stored.
    """
    from deltalake.exceptions import CommitFailedError

    from analysis import schemas

    directory = processed_dir(data_dir)
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; known tables: {', '.join(TABLES)}")
    if (directory / f"{table}.parquet").exists():
        raise StoreError(f"{directory / f'{table}.parquet'} is a single-file table (a demo "
                         f"network?); append writes a dataset {directory / table}/: use another "
                         "data directory")
    path = directory / table
    if path.is_dir() and not _is_delta(path) and any(
            not _DELTA_FILE.fullmatch(p.name) for p in _legacy_files(path)):
        raise StoreError(f"{path} is in the store's layout before Delta Lake; convert it first "
                         f"with `python -m analysis store migrate --data {directory}`")
    frame = schemas.MODELS[table].validate(frame)
    if frame.empty:
        return AppendResult(table)
    data = _arrow(table, frame)
    retries = int(_settings()["commit_retries"])
    with _writer_lock(directory, table):
        for attempt in range(retries + 1):
            try:
                return _merge(table, path, data, info)
            except (CommitFailedError, _Retry) as err:
                if attempt == retries:
                    raise StoreConflict(
                        f"{path}: {retries + 1} commits in a row were overtaken by other "
                        f"writers ({str(err).splitlines()[0]}); nothing of this write was "
                        "stored: run it again") from None
                time.sleep(min(2.0, 0.1 * 2 ** attempt) * (1 + random.random()))
    raise AssertionError("unreachable")  # pragma: no cover


# --- history -----------------------------------------------------------------------------------
HISTORY_COLUMNS = ("table", "version", "committed_at", "operation", "file", "read",
                   "quarantined", "rows_added", "rows_replaced", "rows_unchanged")


def _commits(path: Path, *, limit: int | None = None) -> pd.DataFrame:
    """One row per commit kept in the log (the ``limit`` newest): version, committed_at
    (network time), operation, the operation's metrics and the ingest it records."""
    rows = []
    for entry in _open(path).history(limit):
        rows.append({"version": int(entry["version"]),
                     "committed_at": pd.Timestamp(int(entry["timestamp"]), unit="ms", tz="UTC"),
                     "operation": entry.get("operation", ""),
                     "metrics": entry.get("operationMetrics") or {},
                     "ingest": entry.get("ingest") or entry.get("migrate") or {}})
    frame = pd.DataFrame(rows, columns=["version", "committed_at", "operation", "metrics",
                                        "ingest"])
    frame["committed_at"] = pd.to_datetime(frame["committed_at"], utc=True).dt.tz_convert(
        _network_tz())
    return frame.sort_values("version", ignore_index=True)


def _rows_changed(operation: str, metrics: Mapping) -> tuple[float, float, float]:
    if operation == "MERGE":
        source = metrics.get("num_source_rows", np.nan)
        added = metrics.get("num_target_rows_inserted", np.nan)
        replaced = metrics.get("num_target_rows_updated", np.nan)
        return added, replaced, source - added - replaced
    if operation in ("WRITE", "CREATE TABLE"):
        return metrics.get("num_added_rows", np.nan), 0, 0
    return np.nan, np.nan, np.nan


def history(table: str | None = None, *, data_dir: str | os.PathLike | None = None
            ) -> pd.DataFrame:
    """Every commit kept of one table (or all), newest first: when, what, which file it
    ingested, the rows it read, quarantined, added, replaced and left unchanged."""
    directory = _data_dir(data_dir)
    tables = [table] if table else _delta_tables(directory)
    if table is not None and not _is_delta(directory / table):
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; known tables: {', '.join(TABLES)}")
        raise StoreError(f"{directory / table} is not a Delta table (absent, or in an older "
                         "layout: `python -m analysis store migrate` converts it)")
    frames = []
    for name in tables:
        commits = _commits(directory / name)
        changed = [_rows_changed(op, m) for op, m in zip(commits["operation"],
                                                         commits["metrics"])]
        frames.append(pd.DataFrame({
            "table": name, "version": commits["version"],
            "committed_at": commits["committed_at"], "operation": commits["operation"],
            "file": [i.get("file", i.get("source", "")) for i in commits["ingest"]],
            "read": [i.get("read", np.nan) for i in commits["ingest"]],
            "quarantined": [i.get("quarantined", np.nan) for i in commits["ingest"]],
            "rows_added": [c[0] for c in changed], "rows_replaced": [c[1] for c in changed],
            "rows_unchanged": [c[2] for c in changed]}))
    if not frames:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    for col in ("read", "quarantined", "rows_added", "rows_replaced", "rows_unchanged"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    return out.sort_values(["committed_at", "table", "version"], ascending=False,
                           ignore_index=True)[list(HISTORY_COLUMNS)]


# --- housekeeping: migrate, optimize, vacuum ---------------------------------------------------
@dataclass(frozen=True)
class MigrateResult:
    """One table converted: rows written, duplicate keys resolved (the row written last
    kept), the layout it came from."""

    table: str
    rows: int
    duplicates_dropped: int
    source: str


def _legacy_files(src: Path) -> list[Path]:
    """The Parquet files of an older-layout table, oldest first (the last write wins)."""
    if src.is_file():
        return [src]
    files = [p for p in src.rglob("*.parquet")
             if not any(part.startswith((".", "_")) for part in p.relative_to(src).parts)]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, str(p)))


def _read_legacy(path: Path, table: str, columns: list[str] | None = None) -> pa.Table:
    """One file of an older layout: the model's columns it has (``month`` of a hive path
    when the file lacks it)."""
    names = pq.read_schema(path).names
    wanted = [c for c in (columns or _model_columns(table)) if c in names]
    data = pq.read_table(path, columns=wanted, partitioning=None)
    if columns and PARTITION in columns and PARTITION not in data.column_names:
        hive = dict(p.split("=", 1) for p in path.parent.parts if "=" in p)
        data = data.append_column(PARTITION, pa.array([hive.get(PARTITION)] * data.num_rows,
                                                      pa.string()))
    return data


def _drop_positions(files: list[Path], table: str) -> dict[int, np.ndarray]:
    """Rows to drop per file: every earlier copy of a key stored more than once (files are
    oldest first, so the copy written last is kept)."""
    from analysis import schemas

    key = list(schemas.KEYS[table])

    def keys_of(i: int) -> pd.DataFrame:
        return _read_legacy(files[i], table, key).select(key).to_pandas().astype(str)

    hashes = [pd.util.hash_pandas_object(keys_of(i), index=False).to_numpy()
              for i in range(len(files))]
    if not hashes:
        return {}
    offsets = np.cumsum([0, *(len(h) for h in hashes)])
    h = np.concatenate(hashes)
    del hashes
    _, last = np.unique(h[::-1], return_index=True)
    if len(last) == len(h):
        return {}
    keep = np.zeros(len(h), dtype=bool)
    keep[len(h) - 1 - last] = True
    # a 64-bit hash shared by two different keys is no duplicate: compare the keys themselves
    suspects = np.flatnonzero(np.isin(h, h[~keep]))
    file_of = np.searchsorted(offsets, suspects, side="right") - 1
    rows = []
    for i in np.unique(file_of):
        mine = suspects[file_of == i] - offsets[i]
        rows.append(keys_of(int(i)).iloc[mine].assign(_file=int(i), _row=mine))
    rows = pd.concat(rows, ignore_index=True)  # in file order: the last copy is the newest
    drop: dict[int, list[int]] = {}
    for f, r in rows.loc[rows.duplicated(key, keep="last"), ["_file", "_row"]].itertuples(
            index=False):
        drop.setdefault(int(f), []).append(int(r))
    return {f: np.asarray(r) for f, r in drop.items()}


def _legacy_arrow(path: Path, table: str, schema: pa.Schema, drop: np.ndarray | None
                  ) -> pa.Table:
    """A file of an older layout as the Delta table stores it: the schema's columns (times
    in microseconds, ``month`` from the time column), rows in (time, key) order."""
    from analysis import schemas

    data = _read_legacy(path, table)
    if drop is not None and len(drop):
        keep = np.ones(data.num_rows, dtype=bool)
        keep[drop] = False
        data = data.filter(pa.array(keep))
    arrays = []
    for f in schema:
        if f.name in data.column_names:
            arrays.append(data[f.name].cast(f.type, safe=False))
        elif f.name == PARTITION:
            arrays.append(pc.strftime(data[TIME_COLUMNS[table]], format="%Y-%m"))
        else:
            arrays.append(pa.nulls(data.num_rows, f.type))
    data = pa.Table.from_arrays(arrays, schema=schema)
    order = [c for c in (TIME_COLUMNS.get(table), *schemas.KEYS[table]) if c in schema.names]
    return data.take(_order(data, order)) if not _sorted(data, order) else data


#: a table directory holding this file is being written by the demo writer (no table yet)
WRITING = "_writing"


def _recover_migration(table: str, directory: Path) -> None:
    """An earlier migrate stopped between its two renames: put the old table back (or, when
    the new one is in place, delete the backup); delete a half-written new table."""
    target, single = directory / table, directory / f"{table}.parquet"
    backup, backup_file = directory / f".{table}.backup", directory / f".{table}.parquet.backup"
    for old, home in ((backup, target), (backup_file, single)):
        if old.exists() and not _is_delta(target):
            if home.exists():
                shutil.rmtree(home) if home.is_dir() else home.unlink()
            os.replace(old, home)
        elif old.exists():  # the new table is in place: the backup has done its job
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    shutil.rmtree(directory / f".{table}.migrating", ignore_errors=True)


def _legacy_source(table: str, directory: Path) -> Path | None:
    """The table's directory or file in the layout before Delta Lake, if it has one."""
    target, single = directory / table, directory / f"{table}.parquet"
    if _is_delta(target):
        return None
    if target.is_dir() and _legacy_files(target):
        return target
    return single if single.is_file() else None


def _legacy_problems(table: str, src: Path) -> list[Problem]:
    """Why ``src`` is no complete table of the layout before Delta Lake (empty: it is one).

    That layout kept no log, so completeness is what can be checked: no file of a Delta
    write that never committed (delta-rs's ``part-NNNNN-<uuid>`` names: a killed first
    ingest), no demo writer still at work (:data:`WRITING`), every file a readable Parquet
    file (its footer) holding the table's key. A key stored twice (a killed ingest of that
    layout) is no damage: migrate keeps the row written last."""
    from analysis import schemas

    if src.is_dir() and (src / WRITING).exists():
        return [Problem(table, src / WRITING, "the demo writer (`demo-data --format parquet`) "
                        "stopped before it finished this table",
                        "write the demo store again (--overwrite)")]
    files = _legacy_files(src)
    if src.is_dir() and any(_DELTA_FILE.fullmatch(f.name) for f in files):
        return [_not_a_table(table, src)]
    key = set(schemas.KEYS[table])
    out = []
    for f in files:
        try:
            names = pq.ParquetFile(f).schema_arrow.names
        except (OSError, pa.ArrowException) as err:
            out.append(Problem(table, f, f"cannot be read as Parquet ({_first_line(err)}): cut "
                               "short, or not Parquet", "restore it from a backup (nothing "
                               "is migrated while a file of the table is unreadable)"))
            continue
        if not key <= set(names):
            out.append(Problem(table, f, f"lacks {table}'s key {sorted(key)}: not a file of "
                               f"the {table} table", "move it out of the store"))
    return out


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _migrate_table(table: str, directory: Path) -> MigrateResult | None:
    from deltalake import CommitProperties, write_deltalake

    from analysis import schemas

    target = directory / table
    work = directory / f".{table}.migrating"
    backup = directory / f".{table}.backup"
    backup_file = directory / f".{table}.parquet.backup"
    _recover_migration(table, directory)
    src = _legacy_source(table, directory)
    files = _legacy_files(src) if src is not None else []
    if not files:
        return None
    drop = _drop_positions(files, table)
    names = set()
    for path in files:
        names |= set(pq.read_schema(path).names)
    schema = _delta_schema(table, [c for c in schemas.columns(table) if c in names])
    expected = 0

    def batches() -> Iterator[pa.RecordBatch]:
        nonlocal expected
        for i, path in enumerate(files):
            data = _legacy_arrow(path, table, schema, drop.get(i))
            expected += data.num_rows
            yield from data.to_batches()

    dropped = int(sum(len(v) for v in drop.values()))
    info = {"source": f"store migrate ({src.name})", "files": len(files),
            "duplicates_dropped": dropped}
    write_deltalake(str(work), pa.RecordBatchReader.from_batches(schema, batches()),
                    mode="error", configuration=_table_config(),
                    partition_by=[PARTITION] if table in TIME_COLUMNS else None,
                    commit_properties=CommitProperties(custom_metadata={"migrate": info}))
    written = _open(work).count()
    if written != expected:
        shutil.rmtree(work)
        raise StoreError(f"{src}: migrating wrote {written:,} rows of {expected:,}; the table "
                         "is left as it was")
    old = backup if src.is_dir() else backup_file
    os.replace(src, old)
    os.replace(work, target)
    if _open(target).count() != expected:  # the table in place reads back
        raise StoreError(f"{target}: the migrated table does not read back; the old files "
                         f"are in {old}")
    shutil.rmtree(old) if old.is_dir() else old.unlink()
    return MigrateResult(table, expected, dropped, "dataset" if src.is_dir() else "file")


def migrate(data_dir: str | os.PathLike | None = None, *,
            tables: Iterable[str] | None = None) -> list[MigrateResult]:
    """Convert the tables of an older layout (``tables``, default all) into Delta tables.

    Nothing else reads that layout: this is the one way in. Each table is first checked to
    be a complete table of that layout (:func:`_legacy_problems`: no leftovers of a killed
    Delta write, every file readable, with the table's key); while any is not, nothing is
    converted (:class:`StoreDamaged` names the files). Each table is written anew beside the
    old one (``.<table>.migrating``), checked (rows, unique keys), then swapped in; the old
    files are kept as ``.<table>.backup`` until the new table reads back, then deleted. A key
    stored twice (a killed ingest of the store before Delta Lake) keeps the row written last.
    Running it again after a crash finishes the job; tables already in Delta are left alone.
    """
    directory = _data_dir(data_dir)
    wanted = list(dict.fromkeys(tables or TABLES))
    unknown = [t for t in wanted if t not in TABLES]
    if unknown:
        raise ValueError(f"unknown table(s) {unknown}; known tables: {', '.join(TABLES)}")
    for table in wanted:
        if any(directory.glob(f".{table}*.backup")) or (directory / f".{table}.migrating"
                                                        ).exists():
            with _writer_lock(directory, table):
                _recover_migration(table, directory)
    sources = {t: src for t in wanted if (src := _legacy_source(t, directory)) is not None}
    problems = [p for t, src in sources.items() for p in _legacy_problems(t, src)]
    if problems:
        raise StoreDamaged(problems)
    done = []
    for table in sources:
        with _writer_lock(directory, table):
            result = _migrate_table(table, directory)
        if result is not None:
            done.append(result)
    return done


def optimize(data_dir: str | os.PathLike | None = None, *,
             tables: Iterable[str] | None = None) -> dict[str, dict]:
    """Compact each month's small files (every ingest adds some) into larger ones; a commit
    that changes no data, so reports and ``--as-of`` read the same rows."""
    from deltalake import CommitProperties

    directory = _data_dir(data_dir)
    target = int(_settings()["optimize_target_mb"]) * 2**20
    out = {}
    for table in tables or _delta_tables(directory):
        with _writer_lock(directory, table):
            metrics = _open(directory / table).optimize.compact(
                target_size=target, commit_properties=CommitProperties(
                    custom_metadata={"ingest": {"source": "store optimize"}}))
        out[table] = metrics
    return out


def vacuum(data_dir: str | os.PathLike | None = None, *, retention_days: int | None = None,
           dry_run: bool = False, tables: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Delete data files that no version of the last ``retention_days`` reads.

    ``retention_days`` defaults to ``vacuum_retention_days`` of params/store.yaml and may not
    be lower than ``keep_versions_days``: every version ``--as-of`` promises stays readable.
    Files a killed ingest wrote and never committed go too, once they are that old.
    """
    s = _settings()
    keep = int(s["keep_versions_days"])
    days = int(s["vacuum_retention_days"] if retention_days is None else retention_days)
    if days < keep:
        raise StoreError(f"vacuum would keep {days} days of versions, but --as-of promises "
                         f"{keep} (keep_versions_days, params/store.yaml): lower that first if "
                         "older reports need not be reproduced")
    directory = _data_dir(data_dir)
    out = {}
    for table in tables or _delta_tables(directory):
        with _writer_lock(directory, table):
            target = _open(directory / table)
            wanted = _table_config()
            if not dry_run and any(target.metadata().configuration.get(k) != v
                                   for k, v in wanted.items()):
                target.alter.set_table_properties(wanted)
                target = _open(directory / table)
            out[table] = target.vacuum(retention_hours=days * 24, dry_run=dry_run,
                                       enforce_retention_duration=False, full=True)
            # a commit killed half-way leaves its temporary log file (never a version)
            stale = [p for p in (directory / table / LOG_DIR).glob("_commit_*")
                     if time.time() - p.stat().st_mtime > 3600]
            out[table] += [str(p) for p in stale]
            if not dry_run:
                target.cleanup_metadata()
                for p in stale:
                    p.unlink(missing_ok=True)
    return out
