"""Each dealer's region (and name and city) attached to a frame keyed by ``dealer_id``.

Statistics that group by region take the region from the dealers table; these are the one
merge they share. A small module of its own, so that a statistic needs neither the store
nor its I/O to attach a region (:mod:`analysis.store` re-exports both names).

    >>> dealers = pd.DataFrame({"dealer_id": ["D1", "D2"], "region": ["north", "south"]})
    >>> with_region(pd.DataFrame({"dealer_id": ["D2", "D1"], "nps": [9, 3]}), dealers)
      dealer_id  nps region
    0        D2    9  south
    1        D1    3  north
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

__all__ = ["DEALER_ATTRIBUTES", "dealer_attributes", "region_for", "with_region"]

#: The dealers table's columns :func:`with_region` attaches, when the dealers table has them.
DEALER_ATTRIBUTES = ("dealer_name", "region", "city")


def dealer_attributes(columns: Iterable[str], dealers: pd.DataFrame) -> list[str]:
    """The :data:`DEALER_ATTRIBUTES` that :func:`with_region` would attach to a frame with
    ``columns``: those the dealers table has and the frame lacks."""
    columns = set(columns)
    return [c for c in DEALER_ATTRIBUTES if c not in columns and c in dealers]


def with_region(frame: pd.DataFrame, dealers: pd.DataFrame) -> pd.DataFrame:
    """Attach dealer_name, region and city to a frame keyed by dealer_id.

    A column the dealers table lacks (a dealers export without a city) is not attached: the
    sections that need it say so (:mod:`analysis.coverage`).
    """
    extra = dealer_attributes(frame.columns, dealers)
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
