"""pandera models of every table that crosses a boundary (exports in, the Parquet store out).

The models describe the tables exactly as the demo network (``analysis.synthetic``) and the
store hold them: strict (no unknown column), no coercion (raw text is parsed by
``analysis.ingest``, which says why a value cannot be read), types, ranges and the allowed codes
of coded columns from params. Two rules depend on the run and are added by :func:`schema_for`:
``dealer_id`` must be in the dealers table of the store, and no timestamp may lie in the future.

``Actions`` (the dealers' improvement plans) and ``Contacts`` (the survey funnel) close the
loop (issue 17): an action's ``target`` is a driver or a root cause of params/taxonomy.yaml, a
funnel's ``channel`` one of params/loop.yaml ``funnel.channels``.

``Responses`` carries one rating column per loyalty driver of params/drivers.yaml (the column
may not be missing, a value may: an export without a driver stores it all empty) and,
optionally, the CSS attributes of params/css.yaml (present only in exports that have them).
Ratings are stored in the scale they came in (1-5, 1-7, 1-10 or 0-10: params/columns.yaml
``rating_scales``; the scale of each driver is ``analysis.ingest.rating_scales``), so a rating
is checked against the union of those scales; the ingest checks each column against its own.

Nothing is read on import. The models are built from the params of a directory on first use
(:func:`for_params`, cached per directory): every function here takes ``params_dir`` (default
``params/``), so an override reaches validation. The module's constants (``DRIVERS``,
``TOUCHPOINTS``, ``ALLOWED``, ``MODELS``, ``Responses``, ...) are those of ``params/``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd
import pandera.pandas as pdr
import pyarrow as pa
from pandera.typing import Series

from analysis.config import PARAMS_DIR, load_params
from analysis.table_specs import KEYS, TABLES
from analysis.table_specs import spec as table_spec

# KEYS is analysis.table_specs', re-exported for callers. The constants and models built from
# params/ on first use (TOUCHPOINTS, DRIVERS, CSS_ATTRIBUTES, ALLOWED, MODELS, Responses, ...:
# see __getattr__) are public too, but left out so that `import *` reads no params
__all__ = [
    "Dealers",
    "KEYS",
    "MAY_BE_FUTURE",
    "MONTH_PATTERN",
    "ParamsSchemas",
    "QuarantineSummary",
    "ROW_RULES",
    "arrow_schema",
    "columns",
    "for_params",
    "kind_of",
    "model",
    "required_columns",
    "schema_for",
    "validate",
]


def _time_column(table: str) -> str | None:
    """The table's time column (None: not partitioned)."""
    return table_spec(table).time

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"

# datetime columns that may lie after "now" (a plan's due date); others may not
MAY_BE_FUTURE = {("actions", "due_at")}

# row-level rules: the error text pandera reports -> the column a user has to fix
ROW_RULES = {
    "first_contact_at before opened_at": "first_contact_at",
    "closed_at before opened_at": "closed_at",
    "closed_at before created_at": "closed_at",
    "due_at before opened_at": "due_at",
    "reached more than attempted": "reached",
    "answered more than reached": "answered",
    "done without closed_at": "closed_at",
}


def _not_before(later: str, earlier: str):
    def check(cls, df: pd.DataFrame) -> Series[bool]:
        return df[later].isna() | df[earlier].isna() | (df[later] >= df[earlier])

    check.__name__ = f"_{later}_not_before_{earlier}"
    return pdr.dataframe_check(name=f"{later}_not_before_{earlier}",
                              error=f"{later} before {earlier}")(classmethod(check))


class _Strict(pdr.DataFrameModel):
    class Config:
        strict = True
        coerce = False


class Dealers(_Strict):
    """The dealer network: one row per dealer centre."""

    dealer_id: Series[str] = pdr.Field(unique=True)
    dealer_name: Series[str]
    region: Series[str]
    city: Series[str] = pdr.Field(nullable=True, required=False)


@dataclass(frozen=True)
class ParamsSchemas:
    """The models of every table, built from the params of one directory."""

    params_dir: Path
    touchpoints: tuple[str, ...]
    drivers: tuple[str, ...]
    css_attributes: tuple[str, ...]
    allowed: dict[str, tuple[str, ...]]
    models: dict[str, type[pdr.DataFrameModel]]


def _whole(cls, series: pd.Series) -> Series[bool]:
    return series % 1 == 0


@cache
def _build(directory: Path) -> ParamsSchemas:
    """Read params/nps, drivers, css and columns.yaml of ``directory`` and build the models."""
    _NPS = load_params("nps", params_dir=directory)
    _DRIVERS = load_params("drivers", params_dir=directory)
    _CSS = load_params("css", params_dir=directory)
    _TAXONOMY = load_params("taxonomy", params_dir=directory)
    _LOOP = load_params("loop", params_dir=directory)
    _COLUMNS = load_params("columns", params_dir=directory)
    TOUCHPOINTS: tuple[str, ...] = tuple(_NPS["touchpoints"])
    DRIVERS: tuple[str, ...] = tuple(_DRIVERS["drivers"])
    CSS_ATTRIBUTES: tuple[str, ...] = tuple(_CSS["attributes"])
    ROOT_CAUSES: tuple[str, ...] = tuple(_TAXONOMY["seeds"])
    ALLOWED: dict[str, tuple[str, ...]] = {
        "touchpoint": TOUCHPOINTS, **{k: tuple(v) for k, v in _COLUMNS["allowed"].items()},
        # an action's target: a driver or a root cause (the taxonomy's seeds)
        "target": (*DRIVERS, *(c for c in _TAXONOMY["seeds"] if c not in DRIVERS)),
        "root_cause": ROOT_CAUSES,
    }
    FUNNEL_CHANNELS = tuple(_LOOP["funnel"]["channels"])
    NPS_MIN, NPS_MAX = int(_NPS["scale"]["min"]), int(_NPS["scale"]["max"])
    # ratings come on several scales and are stored as they came: the union of them all
    scales = [(int(_DRIVERS["rating_scale"]["min"]), int(_DRIVERS["rating_scale"]["max"])),
              *((int(lo), int(hi)) for lo, hi in _COLUMNS.get("rating_scales") or [])]
    RATING_MIN, RATING_MAX = min(lo for lo, _ in scales), max(hi for _, hi in scales)
    CSS_MIN, CSS_MAX = int(_CSS["scale"]["min"]), int(_CSS["scale"]["max"])

    class Invitations(_Strict):
        """Survey invitations sent, per dealer, touchpoint and month (the response-rate base)."""

        dealer_id: Series[str]
        touchpoint: Series[str] = pdr.Field(isin=list(TOUCHPOINTS))
        month: Series[str] = pdr.Field(str_matches=MONTH_PATTERN)
        invited: Series[int] = pdr.Field(ge=0)

        class Config:
            unique = ["dealer_id", "touchpoint", "month"]

    def _responses_model() -> type[pdr.DataFrameModel]:
        """Responses, built from params: the demo's column order, a rating column per driver and
        an optional one per CSS attribute."""
        F = pdr.Field
        fields: dict[str, tuple[type, object]] = {
            "response_id": (str, F(unique=True)),
            "dealer_id": (str, F()),
            "touchpoint": (str, F(isin=list(TOUCHPOINTS))),
            "responded_at": (pd.Timestamp, F()),
            "vin": (str, F(nullable=True, required=False)),
            "nps": (int, F(ge=NPS_MIN, le=NPS_MAX)),
            **{d: (float, F(ge=RATING_MIN, le=RATING_MAX, nullable=True)) for d in DRIVERS},
            **{c: (float, F(ge=CSS_MIN, le=CSS_MAX, nullable=True, required=False))
               for c in CSS_ATTRIBUTES},
            "comment": (str, F(nullable=True, required=False)),
            "open_to_dealer": (bool, F()),
            "phone": (str, F(nullable=True, required=False)),
            "email": (str, F(nullable=True, required=False)),
        }
        ratings = [*DRIVERS, *CSS_ATTRIBUTES]
        namespace = {
            "__annotations__": {name: Series[kind] for name, (kind, _) in fields.items()},
            "__module__": __name__,
            "__qualname__": "Responses",
            "__doc__": "Survey answers: the 0-10 NPS score, driver ratings (each on its own "
                       "scale), optional CSS attributes, the comment and the customer's "
                       "contacts (personal data).",
            **{name: spec for name, (_, spec) in fields.items()},
            "_whole_ratings": pdr.check(*ratings, name="whole_number",
                                       error="not a whole number")(classmethod(_whole)),
        }
        return type("Responses", (_Strict,), namespace)

    Responses = _responses_model()

    class Cases(_Strict):
        """Red-flag cases opened by detractor responses, with the 72-hour contact SLA's times."""

        case_id: Series[str] = pdr.Field(unique=True)
        response_id: Series[str]
        dealer_id: Series[str]
        owner: Series[str] = pdr.Field(isin=list(ALLOWED["owner"]))
        opened_at: Series[pd.Timestamp]
        first_contact_at: Series[pd.Timestamp] = pdr.Field(nullable=True)
        closed_at: Series[pd.Timestamp] = pdr.Field(nullable=True)
        resolution: Series[str] = pdr.Field(nullable=True, required=False)
        # the team's finding; an unknown cause is quarantined unless params/taxonomy.yaml
        # accepts it
        root_cause: Series[str] = pdr.Field(
            nullable=True, required=False,
            **({} if _TAXONOMY["labels"]["unknown_causes"] == "accept"
               else {"isin": list(ROOT_CAUSES)}))
        root_cause_note: Series[str] = pdr.Field(nullable=True, required=False)

        _contact_after_open = _not_before("first_contact_at", "opened_at")
        _closed_after_open = _not_before("closed_at", "opened_at")

    class RepairOrders(_Strict):
        """Workshop repair orders (the base of repeat-repair statistics)."""

        ro_id: Series[str] = pdr.Field(unique=True)
        vin: Series[str]
        dealer_id: Series[str]
        opened_at: Series[pd.Timestamp]
        closed_at: Series[pd.Timestamp] = pdr.Field(nullable=True)
        fault_code: Series[str] = pdr.Field(nullable=True)
        fault: Series[str] = pdr.Field(nullable=True)
        mechanic: Series[str] = pdr.Field(nullable=True)
        foreman: Series[str] = pdr.Field(nullable=True)

        _closed_after_open = _not_before("closed_at", "opened_at")

    class Incidents(_Strict):
        """Complaints and thanks received by customer service, with channel and category."""

        incident_id: Series[str] = pdr.Field(unique=True)
        created_at: Series[pd.Timestamp]
        closed_at: Series[pd.Timestamp] = pdr.Field(nullable=True)
        channel: Series[str] = pdr.Field(isin=list(ALLOWED["channel"]))
        category: Series[str]
        reason: Series[str] = pdr.Field(nullable=True, required=False)
        kind: Series[str] = pdr.Field(isin=list(ALLOWED["kind"]))
        dealer_id: Series[str]
        text: Series[str] = pdr.Field(nullable=True)

        _closed_after_created = _not_before("closed_at", "created_at")

    class Actions(_Strict):
        """Improvement actions of the dealers' action plans: a target (a driver or a root cause),
        who owns it, when it was opened, due and closed, and its status."""

        action_id: Series[str] = pdr.Field(unique=True)
        dealer_id: Series[str]
        target: Series[str] = pdr.Field(isin=list(ALLOWED["target"]))
        description: Series[str] = pdr.Field(nullable=True)
        owner: Series[str] = pdr.Field(nullable=True)
        opened_at: Series[pd.Timestamp]
        due_at: Series[pd.Timestamp] = pdr.Field(nullable=True)
        closed_at: Series[pd.Timestamp] = pdr.Field(nullable=True)
        status: Series[str] = pdr.Field(isin=list(ALLOWED["status"]))

        _due_after_open = _not_before("due_at", "opened_at")
        _closed_after_open = _not_before("closed_at", "opened_at")

        @pdr.dataframe_check(name="done_has_closed_at", error="done without closed_at")
        @classmethod
        def _done_is_closed(cls, df: pd.DataFrame) -> Series[bool]:
            return (df["status"] != "done") | df["closed_at"].notna()

    class Contacts(_Strict):
        """The survey funnel: customers the call centre tried to reach per dealer, channel and
        month, how many it reached and how many answered."""

        dealer_id: Series[str]
        channel: Series[str] = pdr.Field(isin=list(FUNNEL_CHANNELS))
        month: Series[str] = pdr.Field(str_matches=MONTH_PATTERN)
        attempted: Series[int] = pdr.Field(ge=0)
        reached: Series[int] = pdr.Field(ge=0)
        answered: Series[int] = pdr.Field(ge=0)

        class Config:
            unique = ["dealer_id", "channel", "month"]

        @pdr.dataframe_check(name="reached_le_attempted", error="reached more than attempted")
        @classmethod
        def _reached(cls, df: pd.DataFrame) -> Series[bool]:
            return df["reached"] <= df["attempted"]

        @pdr.dataframe_check(name="answered_le_reached", error="answered more than reached")
        @classmethod
        def _answered(cls, df: pd.DataFrame) -> Series[bool]:
            return df["answered"] <= df["reached"]

    MODELS: dict[str, type[pdr.DataFrameModel]] = {
        "dealers": Dealers, "invitations": Invitations, "responses": Responses, "cases": Cases,
        "repair_orders": RepairOrders, "incidents": Incidents, "actions": Actions,
        "contacts": Contacts,
    }

    return ParamsSchemas(directory, TOUCHPOINTS, DRIVERS, CSS_ATTRIBUTES, ALLOWED, MODELS)


@cache
def for_params(params_dir: str | os.PathLike | None = None) -> ParamsSchemas:
    """The models built from the params of ``params_dir`` (default ``params/``), once per
    directory; nothing is read before the first call."""
    return _build(Path(params_dir or PARAMS_DIR).resolve())


# the module's constants, from params/ on first use (PEP 562)
_DEFAULTS = {"TOUCHPOINTS": "touchpoints", "DRIVERS": "drivers",
             "CSS_ATTRIBUTES": "css_attributes", "ALLOWED": "allowed", "MODELS": "models"}


def __getattr__(name: str):
    if name in _DEFAULTS:
        return getattr(for_params(), _DEFAULTS[name])
    models = {m.__name__: m for m in for_params().models.values()} if name[:1].isupper() else {}
    if name in models:
        return models[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def model(table: str, *, params_dir: str | os.PathLike | None = None
          ) -> type[pdr.DataFrameModel]:
    """The pandera model of ``table`` (a ValueError names the known tables)."""
    table_spec(table)
    return for_params(params_dir).models[table]


def columns(table: str, *, params_dir: str | os.PathLike | None = None) -> dict[str, pdr.Column]:
    """The table's columns in order (name -> pandera Column, with ``.required``, ``.dtype``)."""
    return dict(model(table, params_dir=params_dir).to_schema().columns)


def required_columns(table: str, *, params_dir: str | os.PathLike | None = None) -> list[str]:
    """Columns an export of ``table`` must have (their values may still be nullable)."""
    return [name for name, col in columns(table, params_dir=params_dir).items() if col.required]


def kind_of(table: str, column: str, *, params_dir: str | os.PathLike | None = None) -> str:
    """How a column is read from text: str, code, month, int, float, bool or datetime."""
    col = columns(table, params_dir=params_dir)[column]
    # a coded column name (owner, channel, ...) is a code only where the table restricts it:
    # a case's owner is dealer/importer, an action's owner is a person
    if column in for_params(params_dir).allowed and any(
            "allowed_values" in (c.statistics or {}) for c in col.checks):
        return "code"
    if column == "month" and _time_column(table) == "month":
        return "month"
    dtype = str(col.dtype)
    if dtype.startswith("datetime64"):
        return "datetime"
    for kind in ("int", "float", "bool"):
        if dtype.startswith(kind):
            return kind
    return "str"


def schema_for(
    table: str,
    *,
    dealers: Iterable[str] | pd.DataFrame | None = None,
    now: pd.Timestamp | None = None,
    unique: bool = True,
    params_dir: str | os.PathLike | None = None,
) -> pdr.DataFrameSchema:
    """The table's schema with the run's rules: known dealers and no future timestamps.

    Parameters
    ----------
    dealers
        The dealers table (or its ids); ``dealer_id`` must be one of them. None: not checked.
    now
        Timestamps after this (a month after its month) are in the future. None: not checked.
        A plan's due date (``MAY_BE_FUTURE``) may lie after it.
    unique
        Keep the uniqueness rules; ``analysis.ingest`` drops them because it reports duplicates
        itself, naming the line where the id was first seen.
    params_dir
        The params the model is built from (default ``params/``).
    """
    schema = model(table, params_dir=params_dir).to_schema()
    updates: dict[str, dict] = {}
    if dealers is not None and "dealer_id" in schema.columns and table != "dealers":
        ids = dealers["dealer_id"] if isinstance(dealers, pd.DataFrame) else dealers
        known = frozenset(pd.Series(list(ids), dtype="str").dropna())
        updates["dealer_id"] = {"checks": [pdr.Check(
            lambda s: s.isin(known), name="known_dealer",
            error="unknown dealer (not in the dealers table)")]}
    if now is not None:
        now = pd.Timestamp(now)
        for name, col in schema.columns.items():
            kind = kind_of(table, name, params_dir=params_dir)
            if kind == "datetime" and (table, name) not in MAY_BE_FUTURE:
                updates[name] = {"checks": [*col.checks, pdr.Check(
                    lambda s, now=now: s <= now, name="not_future",
                    error=f"in the future (after {now:%d.%m.%Y %H:%M})")]}
            elif kind == "month":
                month = f"{now:%Y-%m}"
                updates[name] = {"checks": [*col.checks, pdr.Check(
                    lambda s, month=month: s <= month, name="not_future",
                    error=f"in the future (after {month})")]}
    if not unique:
        for name, col in schema.columns.items():
            if col.unique:
                updates.setdefault(name, {})["unique"] = False
    schema = schema.update_columns(updates) if updates else copy.deepcopy(schema)
    if not unique:
        schema.unique = None  # a copy: the model's own schema keeps its rule
    return schema


def validate(
    table: str,
    frame: pd.DataFrame,
    *,
    dealers: Iterable[str] | pd.DataFrame | None = None,
    now: pd.Timestamp | None = None,
    lazy: bool = True,
    params_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Validate ``frame`` as ``table``; raises ``pandera.errors.SchemaErrors`` (lazy) on failure."""
    return schema_for(table, dealers=dealers, now=now, params_dir=params_dir).validate(
        frame, lazy=lazy)


_ARROW = {"str": pa.string(), "int": pa.int64(), "code": pa.string(),
          "month": pa.string(), "float": pa.float64(), "bool": pa.bool_(),
          "datetime": pa.timestamp("ns")}


def arrow_schema(table: str, names: Iterable[str] | None = None, *,
                 params_dir: str | os.PathLike | None = None) -> pa.Schema:
    """The Parquet schema of ``table`` (all its columns, or ``names`` in the model's order)."""
    wanted = None if names is None else set(names)
    return pa.schema([(c, _ARROW[kind_of(table, c, params_dir=params_dir)])
                            for c in columns(table, params_dir=params_dir)
                            if wanted is None or c in wanted])


class QuarantineSummary(_Strict):
    """What the ingest log says about each file's latest ingest (the reports' appendix)."""

    file: Series[str]
    table: Series[str] = pdr.Field(isin=list(TABLES))
    ingested_at: Series[str]
    read: Series[int] = pdr.Field(ge=0)
    accepted: Series[int] = pdr.Field(ge=0)
    quarantined: Series[int] = pdr.Field(ge=0)
    top_reasons: Series[str]
    quarantine_file: Series[str] = pdr.Field(nullable=True)

    @pdr.dataframe_check(error="read != accepted + quarantined")
    @classmethod
    def _every_row_counted(cls, df: pd.DataFrame) -> Series[bool]:
        return df["read"] == df["accepted"] + df["quarantined"]
