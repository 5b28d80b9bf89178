"""Errors about input data: one family, each naming the table, the column and what to do.

:class:`DataError` (a ``ValueError``) is the base. Each stage keeps its own subclass, in its own
module, so a caller can catch narrowly or broadly (``except DataError``):

- ``analysis.ingest.IngestError``: an export cannot be read at all;
- ``analysis.drivers.DriverDataError``, ``analysis.growth.GrowthDataError``,
  ``analysis.rootcause.RootCauseError``: a statistics function cannot use its input;
- :class:`OperationsDataError` (``analysis.cases.OperationsDataError``): the operational
  rules of ``cases``, ``incidents``, ``repairs`` and ``keywords`` cannot use their input;
- :class:`MissingColumnsError`: a table lacks columns (what :func:`require_columns` raises
  unless told otherwise); it is also a ``KeyError``, as pandas' own error for a missing column.

Bad params are not bad data: ``analysis.config.ParamsError`` is a separate branch (fix the
YAML, not the export), as are the store's ``StoreError`` (a table that is not there at all, or
``StoreDamaged``: its log and files disagree, and the message names the file and the fix) and
the engine's ``EngineError`` (how the engine is asked for, not what it reads).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from analysis.table_specs import TABLES

__all__ = [
    "DataError",
    "MissingColumnsError",
    "OperationsDataError",
    "require_columns",
]


class DataError(ValueError):
    """Input data a function cannot use.

    Parameters
    ----------
    problem
        What is wrong, as a sentence that names the table and the column.
    table
        The table (``"responses"``, ``"cases"``, ...) or what stands for it.
    column
        The column at fault, or several; None when the problem is not about one column.
    fix
        What to do about it; appended to the message after ``"; "``.
    """

    def __init__(self, problem: str, *, table: str | None = None,
                 column: str | Sequence[str] | None = None, fix: str | None = None):
        super().__init__(problem)
        self.problem = problem
        self.table = table
        self.column = column
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem}; {self.fix}" if self.fix else self.problem


class OperationsDataError(DataError):
    """An input table lacks columns or holds values a rule cannot use; the message says which.

    Raised by the operational rules: ``analysis.cases`` (where callers find it), ``incidents``,
    ``repairs`` and ``keywords``."""


class MissingColumnsError(DataError, KeyError):
    """A table lacks columns a function needs (a ``KeyError`` too, as in pandas)."""


def require_columns(
    frame: pd.DataFrame | Iterable[str],
    columns: Iterable[str],
    *,
    table: str,
    error: type[DataError] = MissingColumnsError,
    fix: str | None = None,
) -> None:
    """Raise ``error`` when ``frame`` lacks any of ``columns``.

    The message names the table, the missing columns, the columns it has and the fix:
    ``"responses lack column(s) ['region']; available: [...]; attach it with ..."``.

    Parameters
    ----------
    frame
        The table (pandas or Dask), or its column names.
    table
        How the message names the table: a plural noun (``"responses"``, ``"the counts"``).
    error
        The :class:`DataError` subclass to raise (the calling module's own).
    fix
        What to do, e.g. ``"attach region with analysis.store.with_region(responses, dealers)"``.
        None: for a table of the store, load it from there or rename the export's columns.
    """
    have = list(getattr(frame, "columns", frame))
    known = set(have)
    missing = [c for c in dict.fromkeys(columns) if c not in known]
    if missing:
        if fix is None and table in TABLES:
            fix = (f"load it with analysis.store.load({table!r}) or rename your export's "
                   "columns (params/columns.yaml)")
        raise error(f"{table} lack column(s) {missing}; available: {have}", table=table,
                    column=missing[0] if len(missing) == 1 else tuple(missing), fix=fix)
