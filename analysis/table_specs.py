"""The tables of the workbench: the one list that schemas, store, synthetic, ingest and the CLI
read (named ``table_specs``, not ``tables``: :mod:`analysis.report.tables` is the tables a
report shows).

Their columns are in :mod:`analysis.schemas` (built from params); what is here does not depend
on params: the name, the key, the column that places a row in time and whether a report can
do without the table. The order is the order of ingest (dealers first: the other tables are
checked against them).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KEYS", "OPTIONAL", "SPECS", "TABLES", "TIME_COLUMNS", "Table", "spec"]


@dataclass(frozen=True)
class Table:
    """One table.

    Attributes
    ----------
    name
        As in the store (``<data>/<name>/``), the demo network and ``--table``.
    key
        The columns a row is unique on, in one export and in the store (the last ingest wins).
    time
        The column that places a row in time; the store partitions by its month
        (``month=YYYY-MM``). None: not partitioned (dealers). ``"month"`` is a YYYY-MM string.
    optional
        Whether a report can do without it (its sections then say the data is missing).
    description
        One line for people.
    """

    name: str
    key: tuple[str, ...]
    time: str | None
    optional: bool
    description: str


SPECS: tuple[Table, ...] = (
    Table("dealers", ("dealer_id",), None, False,
          "the dealer network: one row per dealer centre"),
    Table("invitations", ("dealer_id", "touchpoint", "month"), "month", True,
          "survey invitations sent, per dealer, touchpoint and month"),
    Table("responses", ("response_id",), "responded_at", False,
          "survey answers: NPS, driver ratings, comment, contacts"),
    Table("cases", ("case_id",), "opened_at", True,
          "red-flag cases opened by detractor answers"),
    Table("repair_orders", ("ro_id",), "opened_at", True,
          "workshop repair orders"),
    Table("incidents", ("incident_id",), "created_at", True,
          "complaints and thanks received by customer service"),
    Table("actions", ("action_id",), "opened_at", True,
          "improvement actions from the dealers' action-plan sheets"),
    Table("contacts", ("dealer_id", "channel", "month"), "month", True,
          "the survey funnel: contacts attempted, reached and answered per channel and month"),
)

TABLES: tuple[str, ...] = tuple(t.name for t in SPECS)
KEYS: dict[str, tuple[str, ...]] = {t.name: t.key for t in SPECS}
TIME_COLUMNS: dict[str, str] = {t.name: t.time for t in SPECS if t.time is not None}
OPTIONAL: tuple[str, ...] = tuple(t.name for t in SPECS if t.optional)


def spec(name: str) -> Table:
    """The table called ``name``; a ValueError listing the known tables otherwise."""
    for table in SPECS:
        if table.name == name:
            return table
    raise ValueError(f"unknown table {name!r}; known tables: {', '.join(TABLES)}")
