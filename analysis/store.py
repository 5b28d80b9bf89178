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

Damage: every version a process reads is checked first, cheaply (the log's listing, each
file's size against the log; :func:`snapshot`, :func:`load`), and every write checks the
table's footers too before it commits; :func:`check` (``store check``) reads every log entry
and footer. What is wrong raises :class:`StoreDamaged`, naming the file and what to do.

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

import errno
import json
import os
import random
import re
import secrets
import shutil
import socket
import sys
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
from analysis.regions import region_for, with_region
from analysis.table_specs import TABLES, TIME_COLUMNS

# with_region and region_for are analysis.regions', re-exported for the store's callers
__all__ = [
    "AppendResult",
    "COMMITS_FILE",
    "DataFile",
    "DuplicateKeyError",
    "HISTORY_COLUMNS",
    "LOCK_DIR",
    "LOCK_NOTE_SECONDS",
    "LOG_DIR",
    "MAIN_TABLE",
    "MigrateResult",
    "PARTITION",
    "Problem",
    "Snapshot",
    "StoreConflict",
    "StoreDamaged",
    "StoreError",
    "StoreReadOnly",
    "TableCheck",
    "WRITING",
    "accept",
    "append",
    "available",
    "check",
    "columns",
    "commit_log",
    "data_files",
    "delta_tables",
    "describe_versions",
    "history",
    "is_delta_table",
    "latest_complete_month",
    "load",
    "migrate",
    "optimize",
    "processed_dir",
    "read_only_message",
    "region_for",
    "rows_changed",
    "snapshot",
    "table_source",
    "to_duckdb",
    "vacuum",
    "versions",
    "with_region",
]

PARTITION = "month"
LOG_DIR = "_delta_log"
LOCK_DIR = ".locks"
#: the table that a bare version number in ``--as-of N`` refers to
MAIN_TABLE = "responses"


class StoreError(FileNotFoundError):
    """A table is not in the data directory; the message says where we looked."""


class StoreConflict(StoreError):
    """Other writers kept the table busy: nothing of this write was stored; run it again."""


class StoreReadOnly(StoreError):
    """The store cannot be written by this process: nothing was tried; the message says
    which commands only read it."""


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
def is_delta_table(path: Path) -> bool:
    """Whether ``path`` is a Delta table: a directory with a Delta log holding a commit or a
    checkpoint (a directory of Parquet files without one is no table, see
    :func:`table_source`)."""
    log = path / LOG_DIR
    return log.is_dir() and ((log / "_last_checkpoint").exists() or any(log.glob("*.json")))


def table_source(table: str, directory: Path) -> Path:
    """Where a table of the data directory ``directory`` is read from: its Delta table, or
    its single file (what the demo generator writes).

    A directory of Parquet files without a Delta log is no table: what a first ingest killed
    before its commit left (by the store before it wrote first versions aside), or the layout
    before Delta Lake, which only ``store migrate`` reads. It raises :class:`StoreDamaged`
    rather than read as data. A directory holding no Parquet file is no table either."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; known tables: {', '.join(TABLES)}")
    folder, single = directory / table, directory / f"{table}.parquet"
    if folder.is_dir():
        if is_delta_table(folder):
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
    src = table_source(table, directory)
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
    """The Delta table at ``path`` (at ``version``); a log delta-rs cannot read raises
    :class:`StoreDamaged` naming the entry at fault (:func:`_diagnose`)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    try:
        return DeltaTable(str(path), version=version)
    except TableNotFoundError:
        raise StoreError(f"{path}: not a Delta table") from None
    except (DeltaError, OSError) as err:
        damaged = None if "://" in str(path) else _diagnose(Path(path))
        if damaged is not None:
            raise damaged from None
        if version is None:
            raise StoreError(f"{path}: the Delta log cannot be read ({_first_line(err)}); "
                             "`python -m analysis store check` looks at every entry and "
                             "file") from None
        raise StoreError(
            f"{path}: version {version} cannot be read ({_first_line(err)}); versions older "
            f"than keep_versions_days ({_settings()['keep_versions_days']} days, "
            "params/store.yaml) may have been cleaned up: `python -m analysis store history` "
            "lists those kept") from None


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
        listed did not exist at that moment and reads as absent. Single-file tables (the demo
        generator's ``<table>.parquet``) have no versions and are read as they are.
    as_of
        What was asked for (``""``: the latest versions when the snapshot was taken).
    note
        How the tables ``as_of`` does not name were chosen (a bare version of responses, a
        time): which versions, which tables did not exist yet then, and the versions string
        that reads the others at their latest versions instead.
    """

    directory: Path
    versions: Mapping[str, int] = field(default_factory=dict)
    as_of: str = ""
    note: str = ""

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
                when = "" if pd.isna(stamp) else f" ({_stamp(stamp)})"
                parts.append(f"{table} v{self.versions[table]}{when}")
        return (f"Store versions read: {', '.join(parts)}. The same numbers again: "
                f"python -m analysis report --as-of {self.spec}"
                + (f" ({self.note})" if self.note else ""))

    def load(self, table: str, **kwargs) -> pd.DataFrame:
        """:func:`load` at this snapshot's versions."""
        return load(table, data_dir=self, **kwargs)


def _stamp(when: pd.Timestamp) -> str:
    """A commit time at the precision the log holds it (milliseconds), with its offset:
    ``--as-of`` given it pins each table at its last commit not after it."""
    return when.isoformat(sep=" ", timespec="milliseconds")


def _commit_time(path: Path, version: int) -> pd.Timestamp:
    """When a version was committed (network time): from its log entry, else the history."""
    stamp = _entry_info(path / LOG_DIR / f"{version:020d}.json").get("timestamp")
    if stamp is None:
        commits = commit_log(path)
        match = commits.loc[commits["version"] == version, "committed_at"]
        return match.iloc[0] if len(match) else pd.NaT
    return pd.Timestamp(int(stamp), unit="ms", tz="UTC").tz_convert(_network_tz())


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


def delta_tables(directory: Path) -> list[str]:
    """The tables of :data:`analysis.table_specs.TABLES` stored as Delta tables in ``directory``
    (none: an empty folder, or a store in the layout before Delta Lake)."""
    return [t for t in TABLES if is_delta_table(directory / t)]


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
        and tables not named at their last commit not after the named ones'; ``"12"``:
        version 12 of responses, the others likewise (:attr:`Snapshot.note` says which, and
        how to read them at their latest versions instead); a date-time (``"2026-11-03
        18:00"`` in the network's time zone, or ISO 8601 with an offset, to the millisecond
        as :meth:`Snapshot.describe` prints commit times): every table at its last commit not
        after it.

    Raises
    ------
    StoreDamaged
        A table's log or files are not as its log says (the cheap part of :func:`check`,
        run on every version the snapshot pins).
    """
    if isinstance(data_dir, Snapshot) and not as_of:
        return data_dir
    directory = _data_dir(data_dir)
    tables = delta_tables(directory)
    problems = [_not_a_table(t, directory / t) for t in TABLES if t not in tables
                and (directory / t).is_dir() and _legacy_files(directory / t)]
    latest: dict[str, int] = {}
    for table in tables:
        try:
            latest[table] = _latest_version(directory / table)
            if not as_of:
                _delta_entry(str(directory / table), latest[table])  # checked: _verify
        except StoreDamaged as err:
            problems += err.problems
    if problems:
        raise StoreDamaged(problems)
    if not as_of:
        return Snapshot(directory, latest)
    versions, note = _resolve(directory, tables, latest, as_of)
    for table, version in versions.items():
        try:
            _delta_entry(str(directory / table), version)
        except StoreDamaged as err:
            problems += err.problems
    if problems:
        raise StoreDamaged(problems)
    return Snapshot(directory, {t: versions[t] for t in TABLES if t in versions}, as_of.strip(),
                    note)


def _resolve(directory: Path, tables: list[str], latest: Mapping[str, int], as_of: str
             ) -> tuple[dict[str, int], str]:
    """The versions ``as_of`` names, and a sentence saying how those it does not name were
    chosen (empty when it names every table)."""
    wanted = _parse_as_of(as_of)
    commits = {t: commit_log(directory / t) for t in tables}
    versions: dict[str, int] = {}
    if isinstance(wanted, dict):
        for table, version in wanted.items():
            if table not in tables:
                raise StoreError(f"--as-of {as_of}: {directory} has no Delta table {table!r}")
            if version not in set(commits[table]["version"]):
                raise StoreError(
                    f"--as-of {as_of}: {table} has no version {version} (kept: "
                    f"{_ranges(commits[table]['version'])}; params/store.yaml keeps "
                    f"{_settings()['keep_versions_days']} days)")
            versions[table] = version
        moment = max(commits[t].set_index("version").loc[v, "committed_at"]
                     for t, v in versions.items())
        rest = [t for t in tables if t not in versions]
    else:
        moment, rest = wanted.tz_convert(_network_tz()), tables
    for table in rest:
        before = commits[table].loc[commits[table]["committed_at"] <= moment, "version"]
        if len(before):
            versions[table] = int(before.max())
    if isinstance(wanted, pd.Timestamp) and not versions:
        raise StoreError(f"--as-of {as_of}: no table in {directory} had been written yet then")
    if not rest:
        return versions, ""
    taken = ", ".join(f"{t} v{versions[t]}" for t in TABLES if t in rest and t in versions)
    absent = [t for t in TABLES if t in rest and t not in versions]
    if isinstance(wanted, pd.Timestamp):
        head = f"--as-of {as_of.strip()}: every table at its last commit not after {_stamp(moment)}"
        body = f" ({taken})" if taken else ""
    else:
        named = ", ".join(f"{t} v{v}" for t, v in wanted.items())
        head = (f"--as-of {as_of.strip()} names {named} (committed {_stamp(moment)}); the other "
                "tables are read as they were then")
        body = f": {taken}" if taken else ""
    text = head + body
    if absent:
        text += f"; not written yet then, so not read: {', '.join(absent)}"
    if not isinstance(wanted, pd.Timestamp):
        newest = ",".join(f"{t}={wanted.get(t, latest[t])}" for t in TABLES
                          if t in wanted or t in latest)
        text += f". The other tables at their latest versions instead: --as-of {newest}"
    return versions, text + "."


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


def _delta_dataset(entry: list) -> ds.Dataset:
    """A Delta table's version (its :func:`_delta_entry`) as a pyarrow dataset of the files
    its log lists, each with its partition values (so filters on ``month`` skip whole files);
    Parquet statistics prune row groups as for any Parquet file."""
    import pyarrow.fs as pafs

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
    StoreDamaged
        The version's log or files are not as its log says (:func:`check`).
    """
    from analysis import schemas

    months = None if months is None else list(months)
    if as_of:
        data_dir = snapshot(data_dir, as_of=as_of)
    where = _locate(table, data_dir)
    expr = None
    files: list[DataFile] = []
    if where.kind == "delta":
        entry = _delta_entry(str(where.path), where.version)  # one version for all below
        files, data = entry[0], _delta_dataset(entry)
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
    except (OSError, pa.ArrowInvalid) as err:
        if where.kind != "delta":
            raise StoreError(f"{where.path}: cannot be read ({_first_line(err)})") from None
        # checked when the version was first read: a file changed since (another process)
        raise StoreDamaged(_rows_problems(table, where.path, files)) from None
    if where.kind == "delta":
        _count_rows(table, where.path, files, months, read.num_rows)
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


def _count_rows(table: str, path: Path, files: list[DataFile], months: list[str] | None,
                rows: int) -> None:
    """The rows read are the rows the log lists in the files read (whole files are read: the
    only filter handed to them is the partition's): a file replaced by a valid Parquet file of
    fewer rows, and of the same size, is caught here at no cost."""
    if months is not None and table in TIME_COLUMNS:
        wanted = {str(pd.Period(m, freq="M")) for m in months}
        files = [f for f in files if dict(f.partition).get(PARTITION) in wanted]
    if all(f.counted for f in files) and sum(f.rows for f in files) != rows:
        raise StoreDamaged(_rows_problems(table, path, files))


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
    """One Parquet file of a table's version: where it is, its rows and partition values, and
    its size in bytes as the log records them (``counted``: the log records its rows)."""

    uri: str
    rows: int
    partition: tuple[tuple[str, str], ...] = ()
    size: int | None = None
    counted: bool = True


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
_LATEST: dict[str, tuple[tuple, object]] = {}
_FILES: dict[tuple[str, tuple, int], list] = {}  # [files, schema, dataset or None]
_CACHE_LOCK = threading.Lock()
_FILES_KEPT = 256


def _delta_files(uri: str, version: int | None) -> tuple[list[DataFile], pa.Schema]:
    """Every file of a Delta table's version, from its log, and the table's Arrow schema."""
    if "://" in uri:  # object storage: no caching, nothing to watch
        return _files_of(_open(uri, version))
    files, schema, _ = _delta_entry(uri, version)
    return files, schema


def _log_id(path: Path) -> tuple:
    """Which table a log is: its directory's inode, and when its first entry was written (a
    table deleted and written anew at the same path may get the same inode)."""
    log = path / LOG_DIR
    ino = os.stat(log).st_ino
    try:
        return ino, os.stat(log / f"{0:020d}.json").st_mtime_ns
    except OSError:  # cleaned up after a checkpoint: the inode alone
        return ino, None


def _latest_version(path: Path) -> int:
    """The table's latest version (its log brought up to date, a fraction of a ms)."""
    ino = _log_id(path)
    with _CACHE_LOCK:
        cached = _LATEST.get(str(path))
        if cached is None or cached[0] != ino:
            cached = (ino, _open(path))
            _LATEST[str(path)] = cached
        else:
            with _log_errors(path):
                cached[1].update_incremental()
        return cached[1].version()


def _delta_entry(uri: str, version: int | None) -> list:
    """The cached ``[files, schema, dataset]`` of a local table's version (None: latest).

    The first time a process meets a version it checks it (:func:`_verify`: the log's
    listing and every file's existence and size, no file opened): a damaged table raises
    :class:`StoreDamaged` instead of being read."""
    try:
        ino = _log_id(Path(uri))  # a table replaced (migrate, rebuilt) is another
    except OSError:
        raise StoreError(f"{uri}: not a Delta table") from None
    with _CACHE_LOCK:
        cached = _LATEST.get(uri)
        latest = cached[1] if cached and cached[0] == ino else None
        newest = version is None
        if version is None:
            if latest is None:
                latest = _open(uri)
                _LATEST[uri] = (ino, latest)
            else:
                with _log_errors(uri):
                    latest.update_incremental()
            version = latest.version()
        key = (uri, ino, version)
        if key not in _FILES:
            if len(_FILES) >= _FILES_KEPT:
                _FILES.clear()
            at_latest = latest is not None and latest.version() == version
            table = latest if at_latest else _open(uri, version)
            files, schema = _files_of(table)
            _verify(Path(uri), version, files, newest=newest or at_latest)
            _FILES[key] = [files, schema, None]
        return _FILES[key]


def _files_of(delta) -> tuple[list[DataFile], pa.Schema]:
    from urllib.parse import unquote

    actions = pa.table(delta.get_add_actions(flatten=True))
    parts = [c for c in actions.column_names if c.startswith("partition.")]
    base = delta.table_uri.rstrip("/")
    local = base.startswith("file://") or "://" not in base
    files = []
    for row in actions.select(["path", "num_records", "size_bytes", *parts]).to_pylist():
        path = unquote(row["path"])
        full = path if "://" in path else f"{base}/{path}"
        if local:
            full = full.removeprefix("file://")
        files.append(DataFile(full, int(row["num_records"] or 0),
                              tuple((c.removeprefix("partition."), row[c]) for c in parts),
                              size=row["size_bytes"], counted=row["num_records"] is not None))
    return sorted(files, key=lambda f: (f.partition, f.uri)), pa.schema(delta.schema())


# --- damage: what the log and the files must agree on ------------------------------------------
# The log says which files make up a version, with each file's size and rows; a reader that
# trusts it reads a file cut short or replaced, or a log missing its newest entry, as data.
# Every version a process reads is checked first, cheaply (the log's listing, each file's
# size: no file opened); `store check` reads every entry and every file's footer as well.

#: beside each table's log: the commits this store made (the latest version; each log entry's
#: size, export and time), so that an entry deleted, cut short or overwritten is noticed
COMMITS_FILE = "_store_commits.json"
_ENTRY = re.compile(r"(\d{20})\.json")
_CHECKPOINT = re.compile(r"(\d{20})\.checkpoint(?:\.\d+\.\d+)?\.parquet")
# what each operation's metrics call the files it added and removed (delta-rs's names)
_ADDED = ("num_added_files", "num_target_files_added", "numFilesAdded")
_REMOVED = ("num_removed_files", "num_target_files_removed", "numFilesRemoved")


@dataclass(frozen=True)
class _Log:
    """A table's log as listed: each entry's size, the versions with a checkpoint."""

    path: Path  # the table
    entries: Mapping[int, int]
    checkpoints: tuple[int, ...]

    @property
    def latest(self) -> int:
        return max([*self.entries, *self.checkpoints], default=-1)

    def base(self, version: int) -> int:
        """The checkpoint a reader of ``version`` starts from (-1: none, entry 0)."""
        return max((c for c in self.checkpoints if c <= version), default=-1)

    def entry(self, version: int) -> Path:
        return self.path / LOG_DIR / f"{version:020d}.json"


def _scan_log(path: Path) -> _Log:
    entries, checkpoints = {}, set()
    with os.scandir(path / LOG_DIR) as found:
        for item in found:
            if m := _ENTRY.fullmatch(item.name):
                entries[int(m[1])] = item.stat().st_size
            elif m := _CHECKPOINT.fullmatch(item.name):
                checkpoints.add(int(m[1]))
    return _Log(path, entries, tuple(sorted(checkpoints)))


def _recorded(path: Path) -> dict:
    """What :func:`_record` wrote for the table ({} when nothing, or nothing readable)."""
    try:
        data = json.loads((path / COMMITS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    ok = (isinstance(data, dict) and isinstance(data.get("version"), int)
          and isinstance(data.get("entries"), dict))
    return data if ok else {}


def _entry_info(entry: Path) -> dict:
    """The ``commitInfo`` of a log entry ({} when it has none or cannot be read)."""
    try:
        with entry.open(encoding="utf-8") as fh:
            for line in fh:
                info = json.loads(line).get("commitInfo") if line.strip() else None
                if isinstance(info, dict):
                    return info
    except (OSError, ValueError, AttributeError):
        pass
    return {}


def _export_of(info: Mapping) -> str:
    """The export a commit ingested (or what made it: ``store migrate``), '' for the
    store's own housekeeping."""
    meta = info.get("ingest") or info.get("migrate") or {}
    if isinstance(meta, str):  # delta-rs may hand custom metadata back as JSON text
        try:
            meta = json.loads(meta)
        except ValueError:
            meta = {}
    name = (meta.get("file") or meta.get("source") or "") if isinstance(meta, dict) else ""
    return "" if str(name).startswith("store ") and "migrate" not in str(name) else str(name)


def _record(path: Path, *, accept: bool = False) -> None:
    """Write down the table's log as this store committed it (after every commit, under the
    writer's lock; atomically): the latest version and each entry's size, export and time.

    Without ``accept`` a version recorded earlier that the log lacks is kept (it can only be
    a writer on another machine racing this one); with it, the log as it is now is what to
    expect from here on (``store check --accept``)."""
    log = _scan_log(path)
    old = {} if accept else _recorded(path)
    known = old.get("entries", {})
    entries = {}
    for version, size in sorted(log.entries.items()):
        mine = known.get(str(version))
        if isinstance(mine, dict) and mine.get("size") == size:
            entries[str(version)] = mine
        else:
            info = _entry_info(log.entry(version))
            entries[str(version)] = {"size": size, "file": _export_of(info),
                                     "at": info.get("timestamp")}
    entries.update({k: v for k, v in known.items() if k.isdigit() and int(k) > log.latest})
    state = {"version": max(log.latest, old.get("version", -1)), "entries": entries}
    tmp = path / f".{COMMITS_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path / COMMITS_FILE)


@contextmanager
def _log_errors(path: Path | str, version: int | None = None) -> Iterator[None]:
    """delta-rs failing on a table's log becomes :class:`StoreDamaged` naming the entry at
    fault (the log read through, :func:`_diagnose`), else a :class:`StoreError` without the
    Rust backtrace."""
    from deltalake.exceptions import DeltaError

    try:
        yield
    except DeltaError as err:
        if "://" not in str(path):
            damaged = _diagnose(Path(path))
            if damaged is not None:
                raise damaged from None
        raise StoreError(f"{path}: the Delta log cannot be read"
                         + (f" at version {version}" if version is not None else "")
                         + f" ({_first_line(err)}); `python -m analysis store check` looks "
                         "at every entry and file") from None


def _diagnose(path: Path) -> StoreDamaged | None:
    """What in a table's log delta-rs trips over: every entry read through."""
    table = path.name
    try:
        log = _scan_log(path)
    except OSError:
        return None
    recorded = _recorded(path)
    # an entry read through says more than its size: first in, first kept (_unique)
    problems = (_entry_problems(table, log, recorded) + _log_problems(table, log, recorded, None)
                + _gap_problems(table, log, recorded)
                + _checkpoint_problems(table, log, recorded))
    return StoreDamaged(_unique(problems)) if problems else None


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if p.path not in seen:
            seen.add(p.path)
            out.append(p)
    return out


def _verify(path: Path, version: int, files: list[DataFile], *, newest: bool,
            footers: bool = False) -> None:
    """The cheap check of one version before it is read: the log's listing (no entry missing
    or emptied between the checkpoint and the version, none of another size than when this
    store committed it; at the newest version, none deleted after it) and every data file
    there with the size the log says (``footers``: and the rows). Raises
    :class:`StoreDamaged`."""
    log = _scan_log(path)
    recorded = _recorded(path)
    problems = _log_problems(path.name, log, recorded, None if newest else version)
    problems += _file_problems(path.name, log, recorded, files, footers=footers)
    if problems:
        raise StoreDamaged(problems)


def _log_problems(table: str, log: _Log, recorded: Mapping, version: int | None
                  ) -> list[Problem]:
    """What a reader of ``version`` (None: the newest, where a deleted newest entry shows
    too) would trip over in the log: from its listing and the sizes this store recorded; an
    entry it has no size of (a store older than the record, another writer's commit) is read
    through (:func:`_read_entry`: delta-rs reads it anyway, but takes an entry cut at a line
    end for a whole one)."""
    upto = log.latest if version is None else version
    known = recorded.get("entries", {})
    out = []
    for v in range(log.base(upto) + 1, upto + 1):
        size = log.entries.get(v)
        was = (known.get(str(v)) or {}).get("size")
        if size is None:
            what = "is missing from the log: the versions from it on cannot be read"
        elif size == 0:
            what = "is empty: the version it was is lost, and read silently as the one before"
        elif was is not None and was != size:
            what = (f"is {size:,} bytes, {was:,} when version {v} was committed: cut short or "
                    "overwritten")
        elif was is None:
            what = _read_entry(log.entry(v))
            if what is None:
                continue
        else:
            continue
        out.append(Problem(table, log.entry(v), what, _entry_fix(table, log, v, recorded)))
    committed = recorded.get("version", -1)
    if version is None and committed > log.latest:
        gone = range(log.latest + 1, committed + 1)
        names = _names([(v, (known.get(str(v)) or {}).get("file", "")) for v in gone])
        out.append(Problem(
            table, log.entry(log.latest + 1),
            f"is missing: the log ends at version {log.latest}, but version {committed} was "
            f"committed ({_when(known.get(str(committed)))}); read as it is, the table would "
            f"silently be version {log.latest}",
            f"restore the log entr{'y' if len(gone) == 1 else 'ies'} "
            f"{', '.join(log.entry(v).name for v in gone)} from a backup of the store; or go "
            f"on from version {log.latest}: `python -m analysis store check {table} --accept "
            f"--data {log.path.parent}`, then ingest again "
            + (names or f"the export(s) of version(s) {_ranges(gone)}")))
    return out


def _gap_problems(table: str, log: _Log, recorded: Mapping) -> list[Problem]:
    """Entries missing below the checkpoint (readers of the latest version start after it):
    the versions before cannot be read (``--as-of``, ``store history``)."""
    if not log.entries:
        return []
    base = log.base(log.latest)
    return [Problem(table, log.entry(v), f"is missing from the log: versions {min(log.entries)}"
                    f" to {v} cannot be read (--as-of, store history); the latest can",
                    "restore it from a backup of the store")
            for v in range(min(log.entries), base + 1) if v not in log.entries]


def _entry_problems(table: str, log: _Log, recorded: Mapping) -> list[Problem]:
    """Every entry of the log read through: each line a JSON action, as many files added
    and removed as its commit's metrics say."""
    out = []
    for v in sorted(log.entries):
        what = _read_entry(log.entry(v))
        if what:
            out.append(Problem(table, log.entry(v), what, _entry_fix(table, log, v, recorded)))
    return out


def _read_entry(entry: Path) -> str | None:
    """What is wrong with one log entry (None: nothing)."""
    try:
        text = entry.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return f"cannot be read ({_first_line(err)})"
    if not text.strip():
        return "is empty: the version it was is lost, and read silently as the one before"
    counts: dict[str, int] = {"add": 0, "remove": 0}
    info: Mapping = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            action = json.loads(line)
        except ValueError as err:
            return f"is no valid JSON at line {n} ({err}): cut short or overwritten"
        if not isinstance(action, dict) or len(action) != 1:
            return f"line {n} is no Delta log action"
        kind = next(iter(action))
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "commitInfo" and isinstance(action[kind], dict):
            info = action[kind]
    metrics = info.get("operationMetrics") or {}
    for kind, names in (("add", _ADDED), ("remove", _REMOVED)):
        said = next((metrics[k] for k in names if k in metrics), None)
        if said is not None and str(said).isdigit() and int(said) != counts[kind]:
            return (f"lists {counts[kind]} file(s) {kind}ed where its commit recorded {said}: cut "
                    "short or edited")
    return None


def _checkpoint_problems(table: str, log: _Log, recorded: Mapping) -> list[Problem]:
    """The checkpoint that ``_last_checkpoint`` points to is there and readable."""
    pointer = log.path / LOG_DIR / "_last_checkpoint"
    if not pointer.exists():
        return []
    fix = "restore it from a backup of the store; " + _rebuild(table, log, recorded)
    try:
        version = int(json.loads(pointer.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        return [Problem(table, pointer, f"cannot be read ({_first_line(err)})", fix)]
    parts = sorted((log.path / LOG_DIR).glob(f"{version:020d}.checkpoint*.parquet"))
    if not parts:
        return [Problem(table, pointer, f"points to the checkpoint of version {version}, "
                        "which is not there", fix)]
    out = []
    for part in parts:
        try:
            pq.ParquetFile(part).metadata  # noqa: B018 - reading the footer is the check
        except (OSError, pa.ArrowException) as err:
            out.append(Problem(table, part, f"cannot be read as Parquet ({_first_line(err)})",
                               fix))
    return out


def _file_problems(table: str, log: _Log, recorded: Mapping, files: list[DataFile], *,
                   footers: bool = False) -> list[Problem]:
    """Data files of a version that are not as the log says: missing, of another size, and
    (``footers``) unreadable or of another row count."""
    bad = []
    for f in files:
        try:
            size = os.stat(f.uri).st_size
        except FileNotFoundError:
            bad.append((f, "is missing"))
            continue
        except OSError as err:
            bad.append((f, f"cannot be read ({_first_line(err)})"))
            continue
        if f.size is not None and size != f.size:
            bad.append((f, f"is {size:,} bytes, the log says {f.size:,}: cut short or replaced"))
        elif footers:
            try:
                rows = pq.ParquetFile(f.uri).metadata.num_rows
            except (OSError, pa.ArrowException) as err:
                bad.append((f, f"cannot be read as Parquet ({_first_line(err)})"))
                continue
            if f.counted and rows != f.rows:
                bad.append((f, f"holds {rows:,} rows, the log says {f.rows:,}: replaced by "
                            "another file"))
    if not bad:
        return []
    fix = "restore it from a backup of the store; " + _rebuild(table, log, recorded)
    added = _added_by(log, [f for f, _ in bad])
    return [Problem(table, Path(f.uri), f"(a data file of {table}"
                    + (f", added by version {added[f.uri]}" if f.uri in added else "")
                    + f") {what}", fix) for f, what in bad]


def _rows_problems(table: str, path: Path, files: list[DataFile]) -> list[Problem]:
    """Files whose footer holds another number of rows than the log says (what a read that
    returned too few or too many rows looks for)."""
    log, recorded = _scan_log(path), _recorded(path)
    return _file_problems(table, log, recorded, files, footers=True) or [Problem(
        table, path, "returned another number of rows than its log lists",
        "run `python -m analysis store check` (it reads every file's footer)")]


def _added_by(log: _Log, files: list[DataFile]) -> dict[str, int]:
    """The version that added each file (the newest entry listing it)."""
    from urllib.parse import unquote

    wanted = {os.path.relpath(f.uri, log.path): f.uri for f in files}
    found: dict[str, int] = {}
    for v in sorted(log.entries, reverse=True):
        try:
            lines = log.entry(v).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            if '"add"' not in line:
                continue
            try:
                rel = unquote(json.loads(line)["add"]["path"])
            except (ValueError, KeyError, TypeError):
                continue
            if rel in wanted and wanted[rel] not in found:
                found[wanted[rel]] = v
        if len(found) == len(wanted):
            break
    return found


def _exports(log: _Log, recorded: Mapping) -> list[tuple[int, str]]:
    """(version, export) of every commit that ingested a file, oldest first: from the
    entries that can be read, else from what this store recorded."""
    known = recorded.get("entries", {})
    out = []
    for v in sorted(set(log.entries) | {int(k) for k in known if k.isdigit()}):
        name = (known.get(str(v)) or {}).get("file") or (
            _export_of(_entry_info(log.entry(v))) if v in log.entries else "")
        if name:
            out.append((v, name))
    return out


def _names(exports: list[tuple[int, str]], most: int = 12) -> str:
    exports = [(v, n) for v, n in exports if n]
    text = ", ".join(f"{n} (v{v})" for v, n in exports[:most])
    return text + (f" and {len(exports) - most} more" if len(exports) > most else "")


def _when(entry: Mapping | None) -> str:
    at = (entry or {}).get("at")
    if at is None:
        return "when is not recorded"
    stamp = pd.Timestamp(int(at), unit="ms", tz="UTC").tz_convert(_network_tz())
    return _stamp(stamp) + ((f", {entry['file']}") if entry.get("file") else "")


def _rebuild(table: str, log: _Log, recorded: Mapping) -> str:
    names = _names(_exports(log, recorded))
    ingest_log = log.path.parent / "_ingest_log.jsonl"
    return (f"without a backup, rebuild the table: move {log.path} aside and ingest again, "
            "oldest first, the exports it was made from"
            + (f": {names}" if names else " (`python -m analysis store history` lists them)")
            + (f" ({ingest_log} has their paths)" if ingest_log.exists() else ""))


def _entry_fix(table: str, log: _Log, version: int, recorded: Mapping) -> str:
    newest = max(log.latest, recorded.get("version", -1))
    known = recorded.get("entries", {})
    export = (known.get(str(version)) or {}).get("file") or _export_of(
        _entry_info(log.entry(version)))
    again = f"ingest {export} again" if export else "ingest that version's export again"
    if version == newest and version == 0:
        return (f"restore it from a backup of the store; or delete {log.path} (the table's "
                f"only version) and {again}")
    if version == newest:
        return (f"restore it from a backup of the store; or go back to version {version - 1}: "
                f"delete it, run `python -m analysis store check {table} --accept --data "
                f"{log.path.parent}` and {again}")
    return (f"restore it from a backup of the store (versions {version} to {newest} cannot be "
            "read without it); " + _rebuild(table, log, recorded))


@dataclass(frozen=True)
class TableCheck:
    """What :func:`check` found in one table: its newest version, log entries, data files
    (bytes and rows, as the log says) and the problems (empty: the table is as its log
    says)."""

    table: str
    version: int | None
    entries: int = 0
    files: int = 0
    bytes: int = 0
    rows: int = 0
    problems: tuple[Problem, ...] = ()
    recorded: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.version is None and not self.problems:
            return f"{self.table}: no table"
        head = (f"{self.table}: version {self.version}, {self.entries} log entries, "
                f"{self.files} data files ({self.bytes / 2**20:,.1f} MB, {self.rows:,} rows)"
                if self.version is not None else self.table)
        if self.ok and not self.recorded:
            return (f"{head}: ok (no record yet of the commits this store made, kept from its "
                    "next ingest on: until then a deleted newest log entry goes unnoticed; "
                    f"`store check {self.table} --accept` records them now)")
        if self.ok:
            return f"{head}: ok"
        return "\n".join([f"{head}: {len(self.problems)} problem(s)",
                          *(f"  {p}" for p in self.problems)])


def check(data_dir: str | os.PathLike | None = None, *, tables: Iterable[str] | None = None,
          full: bool = True) -> list[TableCheck]:
    """Check every table (or ``tables``) against its log: nothing read is silently wrong.

    The log: no entry missing, empty or unreadable (each line a JSON action, as many files
    added and removed as its commit's metrics say), none of another size than when this
    store committed it, none deleted after the newest (:data:`COMMITS_FILE` remembers the
    version this store committed last), the checkpoint readable. The newest version's data
    files: each there, of the size the log says and (``full``) with a readable footer
    holding the rows the log says. A table directory of Parquet files without a log is a
    problem too. ``full=False`` is what every read does first (:func:`snapshot`,
    :func:`load`) and every write (:func:`append`): the log's listing and the files' sizes,
    no file opened.
    """
    directory = _data_dir(data_dir)
    out = []
    for table in dict.fromkeys(tables or TABLES):
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; known tables: {', '.join(TABLES)}")
        path = directory / table
        if not is_delta_table(path):
            if path.is_dir() and _legacy_files(path):
                out.append(TableCheck(table, None, problems=(_not_a_table(table, path),)))
            elif tables:
                out.append(TableCheck(table, None))
            continue
        out.append(_check_table(table, path, full=full))
    return out


def _check_table(table: str, path: Path, *, full: bool) -> TableCheck:
    log = _scan_log(path)
    recorded = _recorded(path)
    # an entry read through says more than its size: first in, first kept (_unique)
    problems = _entry_problems(table, log, recorded) if full else []
    problems += _log_problems(table, log, recorded, None)
    if full:
        problems += _gap_problems(table, log, recorded)
        problems += _checkpoint_problems(table, log, recorded)
        if (path / COMMITS_FILE).exists() and not recorded:
            problems.append(Problem(
                table, path / COMMITS_FILE, "cannot be read: what this store committed last "
                "is unknown, so a deleted newest log entry would go unnoticed",
                f"once the table checks out otherwise, `python -m analysis store check {table}"
                f" --accept --data {path.parent}` writes it again"))
    try:
        delta = _open(path)
        files = _files_of(delta)[0]
    except StoreDamaged as err:
        return TableCheck(table, None, len(log.entries),
                          problems=tuple(_unique([*problems, *err.problems])))
    except StoreError as err:
        return TableCheck(table, None, len(log.entries), problems=tuple(_unique([
            *problems, Problem(table, path / LOG_DIR, str(err), "restore the table from a "
                               "backup of the store; " + _rebuild(table, log, recorded))])))
    problems += _file_problems(table, log, recorded, files, footers=full)
    return TableCheck(table, delta.version(), len(log.entries), len(files),
                      sum(f.size or 0 for f in files), sum(f.rows for f in files),
                      tuple(_unique(problems)), recorded=bool(recorded))


def accept(table: str, *, data_dir: str | os.PathLike | None = None) -> TableCheck:
    """Take the table's log as it is now as the one to expect from here on.

    After a log was rolled back on purpose (its newest entry deleted because it was
    unreadable, or the table restored from a backup older than its last commit), the check
    would keep saying that the newest version is gone; this records the log as it is. Only a
    readable log is accepted: every entry the newest version needs read through. Returns the
    full check of the table afterwards.
    """
    directory = _data_dir(data_dir)
    path = directory / table
    if not is_delta_table(path):
        raise StoreError(f"{path} is not a Delta table: nothing to accept")
    with _writer_lock(directory, table):
        log = _scan_log(path)
        needed = {log.entry(v) for v in range(log.base(log.latest) + 1, log.latest + 1)}
        problems = (_log_problems(table, log, {}, None)
                    + [p for p in _entry_problems(table, log, {}) if p.path in needed]
                    + _checkpoint_problems(table, log, {}))
        if problems:
            raise StoreDamaged(problems)
        _open(path)  # delta-rs reads it too
        _record(path, accept=True)
    return _check_table(table, path, full=True)


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


#: how often a writer waiting for a lock says it still waits (seconds)
LOCK_NOTE_SECONDS = 60


def _say(text: str) -> None:
    """A word to whoever runs the command: on stderr, so that it never mixes with output."""
    print(text, file=sys.stderr, flush=True)


@contextmanager
def _writer_lock(directory: Path, table: str) -> Iterator[None]:
    """One writer of ``table`` at a time on this machine (and on shared folders whose file
    locks work); the OS drops the lock of a killed process.

    The holder writes who it is beside the lock (``<table>.holder.json``: pid, host, since
    when, command); a writer that has to wait says at once who holds the lock (and whether
    that process is stopped) and how long it will wait, then again every
    :data:`LOCK_NOTE_SECONDS`. A store this process cannot write raises
    :class:`StoreReadOnly` before anything is tried."""
    from filelock import FileLock, Timeout

    timeout = float(_settings()["lock_timeout_seconds"])
    path = directory / LOCK_DIR / f"{table}.lock"
    holder = path.with_name(f"{table}.holder.json")
    try:
        _require_writable(directory, table)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            _wait_for(lock, table, directory, holder, timeout)
    except OSError as err:
        if _denied(err):
            raise StoreReadOnly(read_only_message(directory, err)) from None
        raise
    token = secrets.token_hex(8)
    try:
        _write_holder(holder, token)
        yield
    finally:
        try:
            if json.loads(holder.read_text(encoding="utf-8")).get("token") == token:
                holder.unlink()
        except (OSError, ValueError, AttributeError):
            pass
        lock.release()


def _wait_for(lock, table: str, directory: Path, holder: Path, timeout: float) -> None:
    from filelock import Timeout

    start = time.monotonic()
    _say(f"waiting for the lock of {table} in {directory}: {_holder_text(holder)}; waiting up "
         f"to {timeout:.0f} s (lock_timeout_seconds, params/store.yaml)")
    while True:
        waited = time.monotonic() - start
        try:
            lock.acquire(timeout=max(0.0, min(timeout - waited, LOCK_NOTE_SECONDS)))
            _say(f"got the lock of {table} after {time.monotonic() - start:.0f} s")
            return
        except Timeout:
            waited = time.monotonic() - start
            if waited >= timeout:
                raise StoreConflict(
                    f"another process has been writing {table} in {directory} for "
                    f"{timeout:.0f} s ({_holder_text(holder)}; lock file {lock.lock_file}); "
                    "nothing was stored: let it finish, then run this again") from None
            _say(f"still waiting for the lock of {table} ({waited:.0f} s of {timeout:.0f}): "
                 f"{_holder_text(holder)}")


def _write_holder(holder: Path, token: str) -> None:
    state = {"pid": os.getpid(), "host": socket.gethostname(),
             "since": pd.Timestamp.now(tz=_network_tz()).isoformat(timespec="seconds"),
             "command": " ".join(sys.argv)[:300], "token": token}
    tmp = holder.with_name(f".{holder.name}.{os.getpid()}-{token}.tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, holder)


def _holder_text(holder: Path) -> str:
    """Who holds a writer's lock, as its holder wrote it."""
    try:
        who = json.loads(holder.read_text(encoding="utf-8"))
        pid, host = int(who["pid"]), str(who["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return ("held by a process that did not say who it is (another machine, or a version "
                "of this package from before it did)")
    text = f"held by pid {pid}"
    if host != socket.gethostname():
        text += f" on {host}"
    else:
        state = _process_state(pid)
        if state == "stopped":
            text += f" (stopped: `kill -CONT {pid}` lets it finish, `kill {pid}` ends it)"
        elif state == "gone":
            text += " (gone: the lock is free the moment its file is)"
    text += f" since {who.get('since', '?')}"
    if who.get("command"):
        text += f" ({who['command']})"
    return text


def _process_state(pid: int) -> str:
    """``running``, ``stopped`` or ``gone`` (``running`` when the system does not say)."""
    if not _alive(pid):
        return "gone"
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "running"
    return "stopped" if stat.rpartition(")")[2].split()[:1] in (["T"], ["t"]) else "running"


def _denied(err: OSError) -> bool:
    return isinstance(err, PermissionError) or err.errno in (errno.EROFS, errno.EACCES,
                                                              errno.EPERM)


def _require_writable(directory: Path, table: str) -> None:
    """The store (the table's directory and log, when there) can be written by this
    process: :class:`StoreReadOnly` if not, before a lock or a file is touched."""
    for path in (directory, directory / LOCK_DIR, directory / table, directory / table / LOG_DIR):
        if path.exists() and not os.access(path, os.W_OK):
            raise StoreReadOnly(read_only_message(directory, PermissionError(
                errno.EACCES, "not writable", str(path))))


def read_only_message(directory: Path, err: OSError) -> str:
    """What to tell a user whose command could not write to the store ``directory`` (``err``
    the refused write): which path, and what to do (ask for access, or copy the store)."""
    return (f"the store {directory} is read-only here ({err.filename or directory}: "
            f"{err.strerror or err}); this command writes to it (ingest, store migrate, "
            "optimize, vacuum, check --accept), reports and store history, versions and "
            "check only read it: ask for write access, or copy the store to a folder you can "
            "write and point --data there")


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
    if not is_delta_table(path):
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
        if path.is_dir() and not is_delta_table(path):
            files = _legacy_files(path)
            if files and not all(_DELTA_FILE.fullmatch(f.name) for f in files):
                raise StoreError(f"{path} holds Parquet files of another layout; nothing was "
                                 "stored: `python -m analysis store migrate` converts them")
            # what a first ingest of the store before this one left when killed: never stored
            shutil.rmtree(path)
        try:
            os.rename(work, path)
        except OSError as err:
            if is_delta_table(path):  # another writer created it first: merge into it
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


def _check_before_writing(path: Path) -> None:
    """A commit on top of a damaged table would bury the damage under a new version (a
    MERGE rewrites the files it reads): the table's newest version is checked afresh first,
    every file's footer too (:func:`_verify`; a writer can afford it, and a file replaced by
    one of the same size and fewer rows shows only there)."""
    if is_delta_table(path):
        delta = _open(path)
        _verify(path, delta.version(), _files_of(delta)[0], newest=True, footers=True)


def append(
    table: str, frame: pd.DataFrame, *, data_dir: str | os.PathLike | None = None,
    info: Mapping | None = None,
) -> AppendResult:
    """Merge validated rows of ``table`` into its Delta table in one commit; the last wins.

    A row whose key (``analysis.table_specs.KEYS``) is stored replaces the stored row, wherever it
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
    if path.is_dir() and not is_delta_table(path) and any(
            not _DELTA_FILE.fullmatch(p.name) for p in _legacy_files(path)):
        raise StoreError(f"{path} is in the store's layout before Delta Lake; convert it first "
                         f"with `python -m analysis store migrate --data {directory}`")
    frame = schemas.MODELS[table].validate(frame)
    if frame.empty:
        return AppendResult(table)
    data = _arrow(table, frame)
    retries = int(_settings()["commit_retries"])
    with _writer_lock(directory, table):
        _check_before_writing(path)
        for attempt in range(retries + 1):
            try:
                result = _merge(table, path, data, info)
                _record(path)
                return result
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


def commit_log(path: Path, *, limit: int | None = None) -> pd.DataFrame:
    """One row per commit kept in the log of the Delta table at ``path`` (the ``limit``
    newest), oldest first: version, committed_at (network time), operation, the operation's
    metrics and the ingest it records (:func:`history` shows them to readers, newest first)."""
    rows = []
    delta = _open(path)
    with _log_errors(path):
        kept = delta.history(limit)
    for entry in kept:
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


def rows_changed(operation: str, metrics: Mapping) -> tuple[float, float, float]:
    """The rows a commit added, replaced and left unchanged, from its ``operation`` and
    ``metrics`` (a row of :func:`commit_log`); NaN where the operation does not say."""
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
    tables = [table] if table else delta_tables(directory)
    if table is not None and not is_delta_table(directory / table):
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; known tables: {', '.join(TABLES)}")
        raise StoreError(f"{directory / table} is not a Delta table (absent, or in an older "
                         "layout: `python -m analysis store migrate` converts it)")
    frames = []
    for name in tables:
        commits = commit_log(directory / name)
        changed = [rows_changed(op, m) for op, m in zip(commits["operation"],
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
        if old.exists() and not is_delta_table(target):
            if home.exists():
                shutil.rmtree(home) if home.is_dir() else home.unlink()
            os.replace(old, home)
        elif old.exists():  # the new table is in place: the backup has done its job
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    shutil.rmtree(directory / f".{table}.migrating", ignore_errors=True)


def _legacy_source(table: str, directory: Path) -> Path | None:
    """The table's directory or file in the layout before Delta Lake, if it has one."""
    target, single = directory / table, directory / f"{table}.parquet"
    if is_delta_table(target):
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
    _record(work)
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
    for table in tables or delta_tables(directory):
        with _writer_lock(directory, table):
            _check_before_writing(directory / table)
            metrics = _open(directory / table).optimize.compact(
                target_size=target, commit_properties=CommitProperties(
                    custom_metadata={"ingest": {"source": "store optimize"}}))
            _record(directory / table)
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
    for table in tables or delta_tables(directory):
        with _writer_lock(directory, table):
            _check_before_writing(directory / table)
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
                _record(directory / table)
    return out
