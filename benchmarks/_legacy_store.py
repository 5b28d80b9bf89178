"""The store before Delta Lake (its write side and reader, as on main before issue 19): the
baseline that ``bench_store`` measures the Delta store against in the same run. Kept only
for benchmarks; the package no longer reads such a store as it is: ``store migrate``
converts it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from analysis.store import TABLES, TIME_COLUMNS, AppendResult, StoreError, processed_dir

PART_FILE = "part-0.parquet"


def _month_filter(table: str, months: Iterable[str]):
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


def load(
    table: str,
    *,
    months: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    columns: list[str] | None = None,
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
        Override of the configured data directory.
    """
    directory = Path(data_dir)
    src = directory / table
    dataset = ds.dataset(src, format="parquet", partitioning="hive")
    expr = None
    if months is not None and table in TIME_COLUMNS:
        expr = _month_filter(table, months)
    if regions is not None:
        regions = list(regions)
        if table == "dealers":
            region_expr = ds.field("region").isin(regions)
        else:
            dealers = load("dealers", regions=regions, data_dir=directory)
            region_expr = ds.field("dealer_id").isin(dealers["dealer_id"].tolist())
        expr = region_expr if expr is None else expr & region_expr
    frame = dataset.to_table(filter=expr, columns=columns).to_pandas()
    # hive partition columns come back as categories; callers expect plain values
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype(str)
    return frame


def _partition_of(table: str, frame: pd.DataFrame) -> pd.Series:
    """The partition directory of each row: ``month=YYYY-MM`` by the table's time column."""
    if table not in TIME_COLUMNS:
        return pd.Series(".", index=frame.index, dtype="object")
    col = TIME_COLUMNS[table]
    month = frame[col] if col == "month" else frame[col].dt.strftime("%Y-%m")
    return "month=" + month.astype("object")


def _stored_parts(root: Path) -> list[Path]:
    return sorted(root.glob(f"**/{PART_FILE}"))


def _read_part(path: Path) -> pd.DataFrame:
    frame = pq.read_table(path, partitioning=None).to_pandas()
    for col in frame.columns:  # same dtypes as `load` returns
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype(str)
    return frame


def _write_part(frame: pd.DataFrame, path: Path, table: str, names: list[str]) -> None:
    from analysis import schemas

    sort = [c for c in (TIME_COLUMNS.get(table), *schemas.KEYS[table]) if c and c != "month"]
    frame = frame.sort_values(sort, kind="stable") if sort else frame
    for col in names:
        if col not in frame:
            frame = frame.assign(**{col: None})
    data = pa.Table.from_pandas(frame[names], schema=schemas.arrow_schema(table, names),
                                preserve_index=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")  # dot files are invisible to readers
    pq.write_table(data, tmp)
    os.replace(tmp, path)


def _same_rows(old: pd.DataFrame, new: pd.DataFrame, names: list[str]) -> pd.Series:
    """Whether each row of ``new`` equals the row of ``old`` at the same index (NaN == NaN)."""
    equal = pd.Series(True, index=new.index)
    for col in names:
        a = old[col] if col in old else pd.Series(None, index=old.index, dtype="object")
        b = new[col] if col in new else pd.Series(None, index=new.index, dtype="object")
        a = a.reindex(new.index)
        both_na = a.isna().to_numpy() & b.isna().to_numpy()
        same = (a.astype("object").to_numpy() == b.astype("object").to_numpy())
        equal &= same | both_na
    return equal


def append(
    table: str, frame: pd.DataFrame, *, data_dir: str | os.PathLike | None = None
) -> AppendResult:
    """Add validated rows of ``table`` to the Parquet store; the last append wins.

    The store is ``<data_dir>/<table>/month=YYYY-MM/part-0.parquet`` by the table's time column
    (``dealers/part-0.parquet`` unpartitioned), read back by :func:`load`. A row whose key
    (``analysis.schemas.KEYS``) is already stored replaces the stored row, wherever it was
    (an updated case, a corrected date); so appending the same rows twice changes nothing.
    Nothing is ever deleted. Each partition file is replaced atomically (a crash leaves the
    store as before or after that partition; ingesting again completes it); run one ingest at
    a time.

    Parameters
    ----------
    frame
        Rows valid for ``analysis.schemas`` (``analysis.ingest.read_export(...).accepted``);
        optional columns may be missing and are stored empty.
    data_dir
        The store directory (default ``data/processed``), what ``load(data_dir=...)`` reads.
    """
    from analysis import schemas

    directory = processed_dir(data_dir)
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; known tables: {', '.join(TABLES)}")
    if (directory / f"{table}.parquet").exists():
        raise StoreError(f"{directory / f'{table}.parquet'} is a single-file table (a demo "
                         f"network?); append writes a dataset {directory / table}/: use another "
                         "data directory")
    frame = schemas.MODELS[table].validate(frame)
    key = list(schemas.KEYS[table])
    root = directory / table
    parts = _stored_parts(root)
    stored_names = pq.read_schema(parts[0]).names if parts else []
    names = [c for c in schemas.columns(table) if c in frame or c in stored_names]
    if frame.empty:
        return AppendResult(table)
    if parts and names != stored_names:
        # a column no stored file has (a first export with CSS attributes): rewrite them all
        for path in parts:
            _write_part(_read_part(path), path, table, names)

    new_part = _partition_of(table, frame)
    new_keys = pd.MultiIndex.from_frame(frame[key])
    stored_in: dict[Path, pd.DataFrame] = {}
    for path in parts:  # where each incoming key is stored now (it may change partition)
        keys = pq.read_table(path, columns=key, partitioning=None).to_pandas()
        if pd.MultiIndex.from_frame(keys).isin(new_keys).any():
            stored_in[path] = keys
    targets = {root / p / PART_FILE for p in new_part.unique()} | set(stored_in)
    added = replaced = unchanged = 0
    written = []
    for path in sorted(targets):
        old = _read_part(path) if path.exists() else pd.DataFrame(columns=names)
        part = path.parent.name if path.parent != root else "."
        incoming = frame.loc[(new_part == part).to_numpy()]
        old_keys = pd.MultiIndex.from_frame(old[key]) if len(old) else pd.MultiIndex.from_tuples(
            [], names=key)
        clash = old_keys.isin(new_keys)
        if len(incoming):
            inc_keys = pd.MultiIndex.from_frame(incoming[key])
            here = inc_keys.isin(old_keys)
            same = _same_rows(old.set_index(old_keys), incoming.set_index(inc_keys)[here], names)
            unchanged += int(same.sum())
        kept = old.loc[~clash]
        merged = pd.concat([kept, incoming], ignore_index=True) if len(kept) else incoming
        if merged.empty:  # its only rows moved to another month
            path.unlink()
            if not any(path.parent.iterdir()):
                path.parent.rmdir()
        else:
            _write_part(merged, path, table, names)
        written.append(part)
    stored_before = set()
    for keys in stored_in.values():
        stored_before |= set(pd.MultiIndex.from_frame(keys).intersection(new_keys))
    added = len(frame) - len(stored_before)
    replaced = len(stored_before) - unchanged
    return AppendResult(table, added, replaced, unchanged, tuple(written))
