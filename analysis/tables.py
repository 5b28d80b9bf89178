"""The old name of :mod:`analysis.table_specs` (the tables of the workbench), kept while
callers outside the data layer still import it: ``analysis.report.data``,
``analysis.report.shared`` and ``analysis.demo_exports``. New code imports
:mod:`analysis.table_specs`."""

from analysis.table_specs import (
    KEYS,
    OPTIONAL,
    SPECS,
    TABLES,
    TIME_COLUMNS,
    Table,
    spec,
)

__all__ = ["KEYS", "OPTIONAL", "SPECS", "TABLES", "TIME_COLUMNS", "Table", "spec"]
