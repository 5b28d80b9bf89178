"""Read tables from the data directory: the only way reports and notebooks get data.

A data directory holds, per table, either one Parquet file ``<table>.parquet`` (what the demo
generator writes) or a Parquet dataset directory ``<table>/`` (hive-partitioned by month).
Month and region filters are pushed down to Parquet where the layout allows it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

from analysis.config import data_dir as _data_dir

# the column that places each table's rows in time ("month" is a YYYY-MM string)
TIME_COLUMNS = {
    "responses": "responded_at",
    "cases": "opened_at",
    "repair_orders": "opened_at",
    "incidents": "created_at",
    "invitations": "month",
}
TABLES = ("dealers", *TIME_COLUMNS)


class StoreError(FileNotFoundError):
    """A table is not in the data directory; the message says where we looked."""


def _source(table: str, directory: Path) -> Path:
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; known tables: {', '.join(TABLES)}")
    for candidate in (directory / table, directory / f"{table}.parquet"):
        if candidate.exists():
            return candidate
    raise StoreError(
        f"table {table!r} not found in {directory} (looked for {table}/ and {table}.parquet); "
        "run `make report` for demo data or `python -m analysis ingest` for your exports"
    )


def available(table: str, *, data_dir: str | os.PathLike | None = None) -> bool:
    """Whether the data directory holds ``table``."""
    try:
        _source(table, _data_dir(data_dir))
    except StoreError:
        return False
    return True


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
    directory = _data_dir(data_dir)
    src = _source(table, directory)
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


def with_region(frame: pd.DataFrame, dealers: pd.DataFrame) -> pd.DataFrame:
    """Attach dealer_name, region and city to a frame keyed by dealer_id."""
    extra = [c for c in ("dealer_name", "region", "city") if c not in frame]
    return frame.merge(dealers[["dealer_id", *extra]], on="dealer_id", how="left",
                       validate="many_to_one")


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
