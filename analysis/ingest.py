"""Exports (CSV/XLSX/Parquet, RU/EN headers) -> validated frames + quarantine -> the store.

Every data row of an export ends up either accepted or quarantined, never dropped:
``len(result.accepted) + len(result.quarantined) == result.n_read``. A quarantined row keeps its
original values, its file and line, the columns at fault and every reason, joined by "; ".

How an export is read
---------------------
- Format by content, not by name: .xlsx (first sheet, or ``sheet=``), Parquet, otherwise text.
  Old .xls and anything else raise :class:`IngestError`.
- Text: UTF-8 with or without BOM, UTF-16 with BOM, else Windows-1251; separated by ``;``,
  ``,`` or tab, whichever yields the header row that names the most columns. A quoted value may
  hold the separator and line breaks. A file that is not UTF-8 as a whole is read line by line:
  UTF-8 lines as UTF-8, the others as Windows-1251 (two exports pasted into one: a note names
  the lines); a line that is neither raises :class:`IngestError` naming it.
- .xlsx: the workbook's XML is scanned first, a chunk at a time: a sheet whose grid (A1 to
  its farthest cell holding a value) would not fit ``xlsx_memory_mb`` (params/columns.yaml),
  or a part that unpacks to more, raises :class:`IngestError` naming that cell before anything
  reads it (one value in XFD1048576 made the reader abort the process). Then every cell the
  sheet holds is read by calamine (the sheet's ``<dimension>`` tag, which some exporters never
  update, is not trusted; one that claims a grid beyond the budget is noted) and checked
  against the XML: a row with values beyond those read raises :class:`IngestError`; a formula
  cell without a value saved by Excel is quarantined with that reason (:data:`FORMULA_RULE`),
  and so is one whose value is a placeholder of a program that does not calculate
  (:data:`UNCOMPUTED_RULE`: the workbook asks to be recalculated on load, ``fullCalcOnLoad``,
  or it has no calculation chain and the value is 0 or empty), the formula in the quarantine.
  The workbook's other worksheets that hold rows are named in a note (``--sheet``).
- A value longer than ``max_cell_chars`` (params/columns.yaml) quarantines its row, and a
  note names its line and the limit; the rest of the file is read.
- The header row is the row among the first ``header_scan_rows`` (params/columns.yaml) that
  names the most columns, so title rows above it are skipped. Names are matched through the
  aliases of params/columns.yaml, ignoring case, spacing and punctuation; then through
  ``ranked_aliases`` (of a survey's start, end and recorded dates the first listed wins).
  A column map (``--columns MAP.yaml``, :class:`ColumnMap`) is matched before the aliases.
- Survey tools' headers of several rows are one: SurveyMonkey's two (the question, then
  "Response" or a matrix's items under its merged question cell) and Qualtrics' three
  (internal ids ``Q1``, ``Q2_1``, the question text, a row of ``{"ImportId": ...}``). Rows
  next to the header row that name columns themselves, or hold "Response" or ImportId, and
  hold no number or date, are header rows (not read rows); a column is matched by its joined
  name ("Please rate - Booking") or by any of its own cells ("Booking", "Q2_1"). A note says
  which rows were combined. Without an NPS alias, the question asking how likely one is to
  recommend (params/columns.yaml ``wording``) is the score (the dealer and the comment likewise), and the mapping says so.
- Line numbers are those a person sees: the line in a text editor where the row starts, the
  Excel row number, or the row number (from 1) of a Parquet file.
- Blank rows (every cell empty or spaces) are skipped and not counted as read rows; so are rows
  above the header row.
- Columns that the table does not know are dropped from the accepted rows (listed in
  ``ignored_columns`` and kept in the quarantine file with the rest of the original row).
  A missing required column raises :class:`IngestError` naming the accepted aliases; a missing
  optional column (e.g. ``comment``, the CSS attributes) is allowed.
- Values: scores and counts "9", "9,0", "9.0", "девять"/"nine" read as 9; "9,5" is not a whole
  number; dates as 31.10.2026, 31.10.2026 14:05, 2026-10-31, 2026-10-31T14:05:00, US
  10/31/2026 2:05:00 PM, Excel serial numbers (46300.5) and date cells (and ISO 8601 with a
  time zone, converted to the network's zone), the format decided per column from all its
  values and stated; a column whose every date reads both as day/month and as month/day is
  refused with the fix (``--date-format`` or the map's ``formats``). Yes/no as да/нет, yes/no,
  1/0, true/false; codes (touchpoint, channel, ...) through their aliases and, for
  touchpoints, their names in params/labels.yaml (a bad one's reason lists those words).
  Identifiers are stripped of spaces; free text is kept exactly as written. Timestamps after
  ``now`` are in the future.

The minimum responses export is a date, a dealer (code or name) and the 0-10 score. What it
lacks is filled and said so (:attr:`IngestResult.derived`): the answer id is derived from
the row (:func:`row_ids`: re-sending a file stores nothing new, two identical rows are two
answers); the touchpoint and ``open_to_dealer`` come from params/columns.yaml ``defaults``
(or ``touchpoint=``, ``--touchpoint``); an absent driver is stored as an empty column (the
stored table keeps every driver column). Driver ratings are read on their own scale
(:attr:`IngestResult.scales`): declared (``scales=``, ``--scale``, the map's ``scales``)
or the smallest of ``rating_scales`` holding the column's values (a 0 means 0-10); values
outside it are quarantined; ratings are stored as they came, and each ingest records the
scales (``scales`` in its log entry and commit: :func:`rating_scales`). The dealer cell is
matched to the dealers table's ids, else its names (ignoring case, spaces and punctuation);
while the store has no dealers table, a responses export brings its dealers (its dealer,
name, region and city columns, else ``defaults.region``: :attr:`IngestResult.dealers`), one
commit of the dealers table; a later dealers export completes them.

A column map (``python -m analysis ingest FILE --columns map.yaml``)::

    responses:            # per table: the export's header -> the column
      Q1: nps
      Q2_1: booking
      DealerCode: dealer_id
    scales: {booking: 1-5}                     # optional: a driver's scale
    formats: {responded_at: "%m/%d/%Y %H:%M"}  # optional: a date column's strptime format

:func:`check_export` (``ingest FILE --check``) reads and validates without writing anything.
- Duplicates: the first row with a key (``analysis.table_specs.KEYS``) is kept; later rows with the
  same key are quarantined as "duplicate row: same as line N" (identical) or "duplicate id ...:
  first seen at line N" (different), even if the first row itself is quarantined.

The store (:func:`ingest_file`, ``python -m analysis ingest``): accepted rows are merged into
the Delta table ``<data>/processed/<table>/`` through :func:`analysis.store.append`, one
commit per file, where the last ingest wins (a re-sent export updates its rows; re-ingesting a
file changes nothing). Quarantined rows go first to ``<data>/quarantine/<file name>.csv``
(``;``-separated UTF-8 with BOM, for Excel; ``<file name>-<hash of its path>.csv`` when an
export of another folder has that name; text Excel would run as a formula is prefixed with
``'``, which ingesting the file back removes). Every ingest is recorded, without personal
data, in its commit (``store history``) and in ``<data>/processed/_ingest_log.jsonl`` with
the table version it left, for :func:`quarantine_summary`.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import io
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pdr
from pandera.typing import DataFrame

from analysis import schemas, store
from analysis.config import DATA_ROOT, ParamsError, load_params, params_or
from analysis.config import data_dir as _data_dir
from analysis.errors import DataError
from analysis.keywords import normalize
from analysis.table_specs import KEYS, TABLES

__all__ = [
    "ColumnMap",
    "DELIMITERS",
    "DERIVED",
    "EXCEL_EPOCH",
    "FORMULA_PREFIXES",
    "FORMULA_RULE",
    "IngestError",
    "IngestRecord",
    "IngestResult",
    "LATEST",
    "LOG_COLUMNS",
    "LOG_NAME",
    "META",
    "QUARANTINE_COLUMNS",
    "SIDE_COLUMNS",
    "UNCOMPUTED_RULE",
    "aliases",
    "cell_text",
    "check_export",
    "demo_now",
    "format_label",
    "ingest_file",
    "ingest_log",
    "load_column_map",
    "network_now",
    "normalize",
    "quarantine_reasons",
    "quarantine_summary",
    "rating_scales",
    "read_export",
    "row_ids",
]

DELIMITERS = (";", "\t", ",")
META = ("source_file", "source_line", "bad_columns", "problem")
LOG_NAME = "_ingest_log.jsonl"
LATEST = pd.Timestamp("2200-01-01")  # beyond any real date; keeps nanosecond timestamps valid
QUARANTINE_COLUMNS = ("file", "table", "ingested_at", "read", "accepted", "quarantined",
                      "top_reasons", "quarantine_file")


# a responses export may name its dealers' names, regions and cities: they make the dealers
# table while the store has none, and are not stored with the answers
SIDE_COLUMNS = {"responses": ("dealer_name", "region", "city")}
# columns of an export that the ingest fills when it lacks them (and every driver rating)
DERIVED = {"responses": ("response_id", "touchpoint", "open_to_dealer")}


@dataclass(frozen=True)
class ColumnMap:
    """A ``--columns`` map: per table, source header -> column; declared driver ``scales``
    and date ``formats`` (strptime) per column.

    The YAML file reads::

        responses:             # the table
          Q1: nps              # the export's header: the column it holds
          Q2_1: booking
          DealerCode: dealer_id
        scales: {booking: 1-5}            # optional: a driver's scale (else detected)
        formats: {responded_at: "%m/%d/%Y %I:%M %p"}   # optional: a date column's format
    """

    tables: dict[str, dict[str, str]] = field(default_factory=dict)
    scales: dict[str, tuple[int, int]] = field(default_factory=dict)
    formats: dict[str, list[str]] = field(default_factory=dict)
    source: str | None = None


def load_column_map(value: ColumnMap | Mapping | str | os.PathLike | None, *,
                    params_dir: str | os.PathLike | None = None) -> ColumnMap:
    """A :class:`ColumnMap` from a YAML file or a mapping; an :class:`IngestError` names an
    unknown table or column, or a bad scale or format."""
    import yaml

    if value is None:
        return ColumnMap()
    if isinstance(value, ColumnMap):
        return value
    where = "the column map"
    if isinstance(value, str | os.PathLike):
        where = str(value)
        try:
            value = yaml.safe_load(Path(value).read_text(encoding="utf-8-sig")) or {}
        except OSError as err:
            raise IngestError(f"{where}: cannot be read ({err.strerror or err})") from None
        except yaml.YAMLError as err:
            raise IngestError(f"{where}: not valid YAML ({err})") from None
    if not isinstance(value, Mapping):
        raise IngestError(f"{where}: must map table names to {{source header: column}}")
    tables, scales, formats = {}, {}, {}
    for key, spec in value.items():
        if key == "scales":
            scales = {str(d): _scale(s, f"{where}, scales.{d}") for d, s in (spec or {}).items()}
            continue
        if key == "formats":
            for col, fmt in (spec or {}).items():
                fmts = [fmt] if isinstance(fmt, str) else list(fmt or [])
                if not fmts or not all(isinstance(f, str) and "%" in f for f in fmts):
                    raise IngestError(f"{where}, formats.{col}: {fmt!r} is not a strptime "
                                      "format such as \"%m/%d/%Y %H:%M\"")
                formats[str(col)] = fmts
            continue
        if key not in TABLES:
            raise IngestError(f"{where}: {key!r} is neither a table ({', '.join(TABLES)}) nor "
                              "scales or formats")
        if not isinstance(spec, Mapping):
            raise IngestError(f"{where}, {key}: must map the export's headers to columns")
        known = [*schemas.columns(key, params_dir=params_dir), *SIDE_COLUMNS.get(key, ())]
        bad = {str(h): c for h, c in spec.items() if c not in known}
        if bad:
            raise IngestError(f"{where}, {key}: unknown column(s) "
                              f"{', '.join(f'{c!r} (for {h!r})' for h, c in bad.items())}; "
                              f"the columns of {key} are {', '.join(known)}")
        tables[key] = {str(h): str(c) for h, c in spec.items()}
    return ColumnMap(tables, scales, formats, where)


class IngestError(DataError):
    """An export cannot be read at all; the message names the file and what to do."""


@dataclass(frozen=True)
class IngestResult:
    """One export read and validated.

    Attributes
    ----------
    accepted
        Valid rows, typed as ``analysis.schemas`` says, in the file's order.
    quarantined
        Rejected rows: ``source_file``, ``source_line``, ``bad_columns``, ``problem``, then the
        original cells under the file's own headers.
    n_read
        Data rows read (blank rows and rows above the header row are not rows).
    reasons
        Tidy counts: ``column``, ``reason`` (without values, so no personal data) and ``rows``;
        a row failing two checks counts under both.
    """

    table: str
    source: Path
    accepted: pd.DataFrame
    quarantined: pd.DataFrame
    n_read: int
    reasons: pd.DataFrame
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: tuple[str, ...] = ()
    missing_optional: tuple[str, ...] = ()
    header_line: int = 1
    encoding: str | None = None
    delimiter: str | None = None
    notes: tuple[str, ...] = ()
    details: dict[str, str] = field(default_factory=dict)
    derived: dict[str, str] = field(default_factory=dict)
    scales: dict[str, tuple[int, int]] = field(default_factory=dict)
    dealers: pd.DataFrame | None = None

    def mapping(self, *, everything: bool = False) -> list[str]:
        """What was taken from each column (``'Дата' -> responded_at (dd.mm.yyyy HH:MM)``)
        and how each missing one is filled; only the decisions unless ``everything``."""
        lines = []
        for header, col in self.columns.items():
            detail = self.details.get(col)
            if col == "dealer_name" and "dealer_id" not in self.columns.values():
                detail = "the dealer" + (f"; {self.details['dealer_id']}"
                                         if "dealer_id" in self.details else "")
            if everything or detail:
                lines.append(f"{header!r} -> {col}" + (f" ({detail})" if detail else ""))
        lines += [f"{col}: {how}" for col, how in self.derived.items()]
        return lines

    def left_empty(self) -> list[str]:
        """The optional columns this export lacks (the CSS attributes only when it has some)."""
        missing = [c for c in self.missing_optional if c not in schemas.CSS_ATTRIBUTES]
        if len(missing) < len(self.missing_optional) < len(schemas.CSS_ATTRIBUTES) + len(missing):
            missing.append("some CSS attributes")
        return missing

    def read_as(self) -> str:
        """How the file was read, for the first line of a summary: ``, cp1251, ';'``."""
        fmt = f", {self.encoding}" if self.encoding else ""
        if self.delimiter:
            fmt += ", tab" if self.delimiter == "\t" else f", '{self.delimiter}'"
        return fmt

    def dealers_line(self) -> str | None:
        """The line saying how many dealers this export brings (None when it brings none)."""
        if self.dealers is None:
            return None
        return (f"dealers taken from this export: {len(self.dealers)} (new to the store, "
                "which had no dealers export yet; one completes them)")

    def summary(self) -> str:
        """A few lines for people: counts, reasons, ignored columns."""
        lines = [f"{self.source.name} ({self.table}{self.read_as()}): read {self.n_read}, accepted "
                 f"{len(self.accepted)}, quarantined {len(self.quarantined)}"]
        for row in self.reasons.itertuples():
            lines.append(f"  {row.rows:>7}  {row.column}: {row.reason}")
        if self.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(self.ignored_columns)}")
        missing = self.left_empty()
        if missing:
            lines.append(f"  not in this export (left empty): {', '.join(missing)}")
        lines += [f"  note: {note}" for note in self.notes]
        lines[1:1] = [f"  {line}" for line in self.mapping()]
        return "\n".join(lines)


# --- headers ---------------------------------------------------------------------------------


def aliases(table: str, params: Mapping | None = None, *,
            params_dir: str | os.PathLike | None = None,
            ranked: bool = True) -> dict[str, list[str]]:
    """Accepted header names per column of ``table`` (the column's own name first).

    ``params`` is params/columns.yaml (read from ``params_dir`` when omitted); the driver and
    CSS labels and the table's columns come from ``params_dir`` (default ``params/``). A
    responses export's dealer name, region and city (:data:`SIDE_COLUMNS`) are listed too;
    ``ranked`` adds the ranked alternatives of ``ranked_aliases`` (the first an export has wins).
    """
    params = params_or("columns", params, params_dir=params_dir)
    try:
        listed = params["tables"][table]
    except KeyError:
        raise ParamsError(f"params/columns.yaml has no aliases for table {table!r} under "
                          f"'tables:'; it has {sorted(params.get('tables', {}))}") from None
    labels: dict[str, list[str]] = {}
    if table == "responses":
        for d, names in load_params("labels", params_dir=params_dir)["drivers"].items():
            labels[d] = [str(n) for n in names.values() if n]  # every language's name
        for c, spec in load_params("css", params_dir=params_dir)["attributes"].items():
            labels[c] = [spec.get("label", "")]
    alternatives = (params.get("ranked_aliases") or {}).get(table) or {} if ranked else {}
    out = {}
    for col in [*schemas.columns(table, params_dir=params_dir), *SIDE_COLUMNS.get(table, ())]:
        names = [col, *(listed.get(col) or []), *labels.get(col, []),
                 *(alternatives.get(col) or [])]
        out[col] = list(dict.fromkeys(str(n) for n in names if str(n).strip()))
    unknown = sorted((set(listed) | set(alternatives)) - set(out))
    if unknown:
        raise ParamsError(f"params/columns.yaml, tables.{table}: unknown column(s) {unknown}; "
                          f"the table's columns are {list(out)}")
    return out


def _alias_index(table: str, params: Mapping, params_dir=None) -> dict[str, str]:
    index: dict[str, str] = {}
    for col, names in aliases(table, params, params_dir=params_dir, ranked=False).items():
        for name in names:
            key = normalize(name)
            if index.get(key, col) != col:
                raise ParamsError(f"params/columns.yaml, tables.{table}: alias {name!r} names "
                                  f"both {index[key]!r} and {col!r}; keep it under one column")
            index[key] = col
    return index


def _ranked_index(table: str, params: Mapping, index: Mapping[str, str]
                  ) -> dict[str, tuple[str, int]]:
    """``ranked_aliases`` of ``table``: normalized name -> (column, rank, 0 the preferred)."""
    out: dict[str, tuple[str, int]] = {}
    for col, names in ((params.get("ranked_aliases") or {}).get(table) or {}).items():
        for rank, name in enumerate(names):
            key = normalize(name)
            if index.get(key, col) != col or out.get(key, (col,))[0] != col:
                raise ParamsError(f"params/columns.yaml, ranked_aliases.{table}: {name!r} "
                                  f"also names another column; keep it under one column")
            out.setdefault(key, (col, rank))
    return out


_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]")


def _stems_in(phrase: str, text: str) -> bool:
    """Whether the words of ``phrase`` begin consecutive words of ``text``: "качеств ремонт"
    is in "оценка качества ремонта 1 5" (a question words a driver in any case ending)."""
    stems, words = phrase.split(), text.split()
    return bool(stems) and any(
        all(word.startswith(stem) for word, stem in zip(words[i:i + len(stems)], stems))
        for i in range(len(words) - len(stems) + 1))


@dataclass(frozen=True)
class _Matcher:
    """How header cells name columns: the ``--columns`` map first, then the aliases, then the
    ranked alternatives; for responses, questions written out (the NPS question, the dealer,
    the comment) by their wording (params/columns.yaml ``wording``)."""

    table: str
    index: Mapping[str, str]
    ranked: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    mapped: Mapping[str, str] = field(default_factory=dict)   # --columns: header -> column
    # column -> (words, scale words): in the order columns are looked for
    wording: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(
        default_factory=dict)
    subheaders: frozenset[str] = frozenset()

    def column_of(self, name: str) -> tuple[str, int] | None:
        """(column, rank) that a header names: rank -2 the map, -1 an alias, 0.. ranked."""
        key = normalize(name)
        if key in self.mapped:
            return self.mapped[key], -2
        if key in self.index:
            return self.index[key], -1
        if key in self.ranked:
            return self.ranked[key]
        # a unit or scale in brackets does not rename a column: "Оценка (0-10)", "Date (UTC)"
        bare = normalize(_BRACKETED.sub(" ", str(name)))
        if bare and bare != key:
            if bare in self.index:
                return self.index[bare], -1
            return self.ranked.get(bare)
        return None

    def by_wording(self, name: str, column: str = "nps") -> int:
        """0: not ``column``'s question; 1: its wording; 2: its wording and its scale."""
        if self.table != "responses" or column not in self.wording:
            return 0
        words, scale = self.wording[column]
        key = f" {normalize(name)} "
        if not any(w in key or _stems_in(w, key) for w in words):
            return 0
        return 2 if any(s in key for s in scale) else 1

    def is_subheader(self, name: str) -> bool:
        return normalize(name) in self.subheaders

    def score(self, cells: Sequence[object]) -> int:
        names = [t for t in (cell_text(c) for c in cells) if t]
        found = {m[0] for m in map(self.column_of, names) if m is not None}
        if "nps" not in found and any(self.by_wording(n) for n in names):
            found.add("nps")
        return len(found)


def _matcher(table: str, params: Mapping, params_dir=None,
             mapped: Mapping[str, str] | None = None) -> _Matcher:
    index = _alias_index(table, params, params_dir)
    wording = {col: (tuple(normalize(w) for w in spec.get("words") or ()),
                     tuple(normalize(w) for w in spec.get("scale") or ()))
               for col, spec in (params.get("wording") or {}).items()}
    return _Matcher(table, index, _ranked_index(table, params, index),
                    {normalize(k): v for k, v in (mapped or {}).items()}, wording,
                    frozenset(normalize(w) for w in params.get("subheader_words") or ()))


# --- reading raw cells -----------------------------------------------------------------------
@dataclass
class _Raw:
    headers: list[str]               # the file's header cells, made unique
    rows: list[list[object]]         # data rows, cells as read (blank rows left out)
    lines: list[int]                 # where each row is, as a person counts
    header_line: int
    encoding: str | None = None
    delimiter: str | None = None
    malformed: dict[int, str] = field(default_factory=dict)  # row position -> problem
    frame: pd.DataFrame | None = None  # Parquet: the typed columns as stored
    # .xlsx: formula cells whose value cannot be trusted (none saved, or a writer's
    # placeholder), row position -> {column: (formula, reason)}
    formulas: dict[int, dict[int, tuple[str, str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the reader had to decide
    # per header, the names it may be matched by (a header of several rows: each row's cell)
    parts: list[list[str]] = field(default_factory=list)
    # the most characters a cell of the source can hold (None: unknown, every cell is checked)
    longest: int | None = None


def cell_text(value: object) -> str | None:
    """A cell as text: None for empty; whole floats without ".0"; timestamps in ISO form."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, pd.Timestamp | np.datetime64):
        stamp = pd.Timestamp(value)
        return None if pd.isna(stamp) else stamp.isoformat()
    if hasattr(value, "isoformat"):  # datetime, date, time from Excel
        return value.isoformat()
    return str(value)


def _blank(row: Sequence[object]) -> bool:
    return all(cell_text(v) is None for v in row)


def _unique_headers(cells: Sequence[object]) -> list[str]:
    out: list[str] = []
    for i, cell in enumerate(cells, start=1):
        name = (cell_text(cell) or "").strip() or f"(column {i})"
        base, k = name, 1
        while name in out:
            k += 1
            name = f"{base} ({k})"
        out.append(name)
    return out


def _find_header(records: Sequence[tuple[int, Sequence[object]]], matcher: _Matcher,
                 scan: int) -> tuple[int, int]:
    """(position in ``records``, score) of the row naming the most columns (first of ties)."""
    best, best_score, seen = -1, 0, 0
    for pos, (_, cells) in enumerate(records):
        if _blank(cells):
            continue
        seen += 1
        if seen > scan:
            break
        score = matcher.score(cells)
        if score > best_score:
            best, best_score = pos, score
    return best, best_score


_IMPORT_ID = re.compile(r"""^\s*\{\s*["']?importid["']?\s*:""", re.I)
_DATA_LIKE = re.compile(r"[\s\d.,:/+\-]*\d[\s\d.,:/+\-]*(am|pm)?", re.I)


def _import_row(cells: Sequence[object]) -> bool:
    """Qualtrics' third header row: every cell a ``{"ImportId": ...}`` JSON object."""
    texts = [t for t in (cell_text(c) for c in cells) if t]
    return bool(texts) and all(_IMPORT_ID.match(t) for t in texts)


def _data_like(cells: Sequence[object]) -> bool:
    """Whether a row holds a number or a date (a data row; header rows hold names)."""
    for cell in cells:
        if isinstance(cell, bool | np.bool_) or cell_text(cell) is None:
            continue
        if not isinstance(cell, str) or _DATA_LIKE.fullmatch(cell.strip()):
            return True
    return False


def _header_block(records: Sequence[tuple[int, Sequence[object]]], pos: int,
                  matcher: _Matcher) -> list[int]:
    """The rows of a header that survey tools spread over two or three rows: the best row,
    rows above it that name two columns or more (Qualtrics' internal ids over the question
    text), and rows below it that name a column, hold SurveyMonkey's "Response" or a matrix's
    items, or Qualtrics' ImportId JSON; never a row holding a number or a date."""
    block = [pos]
    p = pos - 1
    while p >= 0 and len(block) < 3:
        cells = records[p][1]
        if _blank(cells) or _data_like(cells) or matcher.score(cells) < 2:
            break
        block.insert(0, p)
        p -= 1
    p = pos + 1
    while p < len(records) and len(block) < 3:
        cells = records[p][1]
        if _blank(cells):
            break
        texts = [t for t in (cell_text(c) for c in cells) if t]
        if not (_import_row(cells) or (not _data_like(cells) and (
                matcher.score(cells) or any(matcher.is_subheader(t) for t in texts)))):
            break
        block.append(p)
        p += 1
    return block


def _combine(rows: Sequence[Sequence[object]], matcher: _Matcher
             ) -> tuple[list[str], list[list[str]]]:
    """One name per column from header rows, and the names it may be matched by.

    A blank cell over a named one continues the merged question cell to its left (a matrix's
    question over its items); SurveyMonkey's "Response" and Qualtrics' ImportId name nothing.
    The name shown joins the parts ("Please rate - Booking"); it is matched as a whole, then
    by each of its own cells from the bottom up (the item "Booking", the id "Q2_1").
    """
    width = max((len(r) for r in rows), default=0)
    grid = [[(cell_text(c) or "").strip() for c in r] + [""] * (width - len(r))
            for r in rows if not _import_row(r)]
    names, parts = [], []
    for i in range(width):
        own = [row[i] for row in grid]
        shown = list(own)
        for k, row in enumerate(grid[:-1]):
            if not own[k] and any(own[k + 1:]):
                shown[k] = next((row[j] for j in range(i - 1, -1, -1) if row[j]), "")
        words = [s for s in dict.fromkeys(shown) if s and not matcher.is_subheader(s)]
        name = " - ".join(words) or next((s for s in own if s), "")
        mine = [s for s in reversed(own) if s and not matcher.is_subheader(s)]
        names.append(name)
        parts.append(list(dict.fromkeys(c for c in [name, *mine] if c)))
    return names, parts


def _block_note(lines: Sequence[int], rows: Sequence[Sequence[object]], what: str) -> str | None:
    if len(lines) < 2:
        return None
    extra = "; the ImportId row names nothing" if any(_import_row(r) for r in rows) else ""
    return f"header: {what} {lines[0]}-{lines[-1]} combined{extra}"


def _decode(data: bytes, path: Path, encoding: str | None) -> tuple[str, str, list[str]]:
    """The text, the encoding read, and notes. Not UTF-8 as a whole: each line is read as
    UTF-8 if it is valid UTF-8, else as Windows-1251 (so a file that two exports were pasted
    into, one of each, is read right, never as mojibake); a line neither is an error."""
    if encoding:
        try:
            return data.decode(encoding), encoding, []
        except (UnicodeDecodeError, LookupError) as err:
            raise IngestError(f"{path}: cannot be read as {encoding}: {err}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16", []
        except UnicodeDecodeError as err:
            raise IngestError(f"{path}: byte {err.start} breaks its UTF-16 text; save the "
                              "export again as CSV UTF-8") from None
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[len(codecs.BOM_UTF8):] if bom else data
    try:
        return body.decode("utf-8"), "utf-8-sig" if bom else "utf-8", []
    except UnicodeDecodeError:
        pass
    texts, utf8, cp1251, offset = [], [], [], len(data) - len(body)
    for number, line in enumerate(body.splitlines(keepends=True), start=1):
        try:
            texts.append(line.decode("utf-8"))
            if not line.isascii():
                utf8.append(number)
        except UnicodeDecodeError:
            try:
                texts.append(line.decode("cp1251"))
            except UnicodeDecodeError as err:
                raise IngestError(
                    f"{path}: byte {offset + err.start} is neither UTF-8 nor Windows-1251 text "
                    f"(line {number}); save the export as CSV UTF-8 or .xlsx, or name its "
                    "encoding (--encoding)") from None
            cp1251.append(number)
        offset += len(line)
    if not utf8:
        return "".join(texts), "cp1251", []
    note = (f"mixed encodings: lines {_line_list(cp1251)} read as Windows-1251, lines "
            f"{_line_list(utf8)} as UTF-8 (each line in its own; check them)")
    return "".join(texts), "utf-8+cp1251", [note]


def _line_list(numbers: Sequence[int], shown: int = 6) -> str:
    """``2-4, 9`` for [2, 3, 4, 9]; long lists end in "...": for messages."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs[:shown])
    return text + (", ..." if len(runs) > shown else "")


def _csv_records(text: str, delimiter: str, *, strict: bool, path: Path,
                 limit: int | None = None) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=strict)
    out, start = [], 1
    # no field is refused for its length here (csv's own limit, 131,072 characters, refused
    # the whole file): a long value quarantines its row (max_cell_chars, read_export)
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, len(text) + 1))
    try:
        for row in reader:
            out.append((start, row))
            start = reader.line_num + 1
            if limit is not None and len(out) >= limit:
                break
    except csv.Error as err:
        if not strict:
            return out
        raise IngestError(f"{path}, line {start}: {err} (a quote that is opened and never "
                          "closed?); fix that line and ingest again") from None
    finally:
        csv.field_size_limit(previous)
    return out


def _read_text(path: Path, data: bytes, matcher: _Matcher, scan: int,
               encoding: str | None) -> _Raw:
    text, used, notes = _decode(data, path, encoding)
    if "\x00" in text:
        raise IngestError(f"{path}: not a text file (it holds NUL bytes) nor .xlsx or Parquet; "
                          "save the export as CSV or .xlsx")
    best: tuple[int, int, str] | None = None   # (score, header position, delimiter)
    for delim in DELIMITERS:
        head = _csv_records(text, delim, strict=False, path=path, limit=4 * scan + 20)
        pos, score = _find_header(head, matcher, scan)
        if score and (best is None or score > best[0]):
            best = (score, pos, delim)
    if best is None:
        _no_header(path, matcher)
    _, pos, delim = best
    records = _csv_records(text, delim, strict=True, path=path)
    block = _header_block(records, pos, matcher)
    rows = [records[p][1] for p in block]
    names, parts = _combine(rows, matcher)
    headers = _unique_headers(names)
    note = _block_note([records[p][0] for p in block], rows, "lines")
    raw = _Raw(headers, [], [], records[block[0]][0], used, delim,
               notes=[*notes, *([note] if note else [])], parts=parts, longest=len(text))
    width = len(headers)
    for line, cells in records[block[-1] + 1:]:
        if _blank(cells):
            continue
        if len(cells) > width:
            extra = [c for c in cells[width:] if c.strip()]
            if extra:
                raw.malformed[len(raw.rows)] = (
                    f"the row has {len(cells)} cells, the header {width} (an unquoted "
                    f"'{delim}' inside a value?); extra cells: {extra}")
            cells = cells[:width]
        raw.rows.append(cells + [""] * (width - len(cells)))
        raw.lines.append(line)
    return raw


@dataclass(frozen=True)
class _Limits:
    """What a file may ask of the reader (params/columns.yaml): the memory an .xlsx sheet's
    grid may take and the characters a cell may hold."""

    memory_bytes: int
    bytes_per_cell: int
    max_cell_chars: int

    @classmethod
    def of(cls, params: Mapping) -> _Limits:
        try:
            return cls(int(params["xlsx_memory_mb"]) * 2**20, int(params["xlsx_bytes_per_cell"]),
                       int(params["max_cell_chars"]))
        except (KeyError, TypeError, ValueError) as err:
            raise ParamsError(f"params/columns.yaml: xlsx_memory_mb, xlsx_bytes_per_cell and "
                              f"max_cell_chars must be whole numbers ({err})") from None

    def mb(self, n_bytes: float) -> str:
        return f"{n_bytes / 2**20:,.0f} MB" if n_bytes < 2**30 else f"{n_bytes / 2**30:,.0f} GB"


def _column_letters(col: int) -> str:
    """1 -> A, 27 -> AA, 16384 -> XFD."""
    letters = ""
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _read_xlsx(path: Path, matcher: _Matcher, scan: int, sheet: str | None,
               limits: _Limits) -> _Raw:
    """Every row of a sheet, read by calamine from the cells themselves (the ``<dimension>``
    tag that some exporters never update is not trusted).

    The workbook's XML is scanned first (:func:`_workbook_scan`, :func:`_sheet_scan`): a sheet
    whose grid would not fit ``limits`` is refused naming its farthest cell (calamine would
    abort the process allocating it), other sheets that hold rows are named in a note, and
    formula cells whose value cannot be trusted are kept for the quarantine; after reading,
    rows holding values beyond those read raise :class:`IngestError`."""
    from python_calamine import CalamineWorkbook

    layout = _workbook_scan(path, limits)
    names = [s.name for s in layout.sheets if s.worksheet] if layout else None
    if layout is not None:
        if sheet is None:
            if not names:
                raise IngestError(f"{path}: the workbook has no worksheet")
            sheet = names[0]
        elif sheet not in names:
            raise IngestError(f"{path}: no sheet {sheet!r}; its sheets are "
                              f"{[s.name for s in layout.sheets]}")
    scanned = _sheet_scan(path, layout, sheet, limits) if layout else _SheetScan()
    try:
        book = CalamineWorkbook.from_path(str(path))
        sheets = [m.name for m in book.sheets_metadata if "WorkSheet" in str(m.typ)]
    except Exception as err:  # calamine raises several kinds on a damaged workbook
        raise IngestError(f"{path}: not a readable .xlsx workbook ({err}); open it in Excel "
                          "and save it again, or save it as CSV") from None
    try:
        if sheet is None:
            if not sheets:
                raise IngestError(f"{path}: the workbook has no worksheet")
            name = sheets[0]
        elif sheet in book.sheet_names:
            name = sheet
        else:
            raise IngestError(f"{path}: no sheet {sheet!r}; its sheets are {book.sheet_names}")
        cells = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    finally:
        book.close()
    records = [(n, list(row)) for n, row in enumerate(cells, start=1)]
    extent, formulas = scanned.last_row, scanned.formulas
    read_to = max((n for n, row in records if not _blank(row)), default=0)
    if extent > read_to:
        raise IngestError(
            f"{path} (sheet {name!r}): row {extent} holds values but only rows up to {read_to} "
            "could be read; open the workbook in Excel and save it again, or save it as CSV")
    pos, score = _find_header(records, matcher, scan)
    if not score:
        _no_header(path, matcher, sheet=name)
    block = _header_block(records, pos, matcher)
    header_line = records[block[-1]][0]
    names_, parts = _combine([records[p][1] for p in block], matcher)
    while names_ and not names_[-1]:
        names_, parts = names_[:-1], parts[:-1]
    # cells right of the header's last name are a column without a name: kept, then ignored
    used = max((max((i + 1 for i, v in enumerate(cells) if cell_text(v) is not None),
                    default=0) for _, cells in records[block[-1] + 1:]), default=0)
    used = max([used, *(c + 1 for (r, c) in formulas if r > header_line)])
    pad = max(0, used - len(names_))
    headers = _unique_headers([*names_, *[None] * pad])
    note = _block_note([records[p][0] for p in block], [records[p][1] for p in block], "rows")
    raw = _Raw(headers, [], [], records[block[0]][0],
               notes=[*([note] if note else []), *scanned.notes,
                      *(layout.others_note(name) if layout else [])],
               parts=[*parts, *[[]] * pad])
    width = len(headers)
    for line, cells in records[block[-1] + 1:]:
        cells = list(cells[:width]) + [None] * (width - len(cells))
        own = {c: f for (r, c), f in formulas.items() if r == line and c < width}
        if _blank(cells) and not own:
            continue
        if own:
            raw.formulas[len(raw.rows)] = own
        raw.rows.append(cells)
        raw.lines.append(line)
    raw.longest = layout.largest_part if layout else None
    return raw


_XML_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
_XML_FORMULA = re.compile(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?f>)", re.S)
_XML_VALUE = re.compile(rb"<(?:\w+:)?(?:v|is)\b[^>]*?>(.+?)</(?:\w+:)?(?:v|is)>", re.S)
# what calamine counts as a cell: a value (even an empty inline string), not a bare <v/>
_XML_ANY_VALUE = re.compile(rb"<(?:\w+:)?(?:v\b[^>]*?>[^<]|is\b)", re.S)
_XML_CACHED = re.compile(rb"<(?:\w+:)?v\b[^>]*?>([^<]*)</(?:\w+:)?v>", re.S)
_XML_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*?\bref="([^"]*)"')
# where a chunk of a sheet's XML may be cut: after a cell or a row, never inside one
_CELL_END = re.compile(rb"</(?:\w+:)?c>|</(?:\w+:)?row>|<(?:\w+:)?c\b[^>]*/>")
# formula values that a writer which does not calculate puts in place of the result
_PLACEHOLDERS = (b"", b"0")

UNCOMPUTED_RULE = ("formula never computed: its saved value is a placeholder of the program "
                   "that wrote the file (open and save the file in Excel)")


@dataclass(frozen=True)
class _SheetPart:
    name: str
    member: str | None   # the zip member of its XML
    worksheet: bool      # a chart sheet or a dialog sheet holds no rows


@dataclass
class _Layout:
    """What the workbook's own XML says, read before calamine is asked for anything."""

    sheets: list[_SheetPart]
    uncomputed: bool          # calcPr fullCalcOnLoad: no formula value was computed
    calc_chain: bool          # a calculation chain: a program that calculates saved it
    largest_part: int         # bytes of the largest part unpacked (for max_cell_chars)
    rows_of: dict[str, int] = field(default_factory=dict)  # other sheets: rows with values

    def others_note(self, read: str) -> list[str]:
        """The note naming the other worksheets that hold rows (they are not read)."""
        shown = [f"sheet {i} {s.name!r} with {self.rows_of[s.name]:,} rows"
                 for i, s in enumerate(self.sheets, start=1)
                 if s.worksheet and s.name != read and self.rows_of.get(s.name)]
        if not shown:
            return []
        other = next(s.name for s in self.sheets if s.worksheet and s.name != read
                     and self.rows_of.get(s.name))
        how = f"it with --sheet {other!r}" if len(shown) == 1 else "each with --sheet NAME"
        return [f"{'; '.join(shown)} not read (sheet {read!r} was): ingest {how}"]


def _workbook_scan(path: Path, limits: _Limits) -> _Layout | None:
    """The workbook's sheets (names, XML parts, worksheet or not), whether its formulas were
    computed, and every part's unpacked size checked against ``limits``; None when the
    package is laid out in a way this scan does not know (calamine's reading stands)."""
    import xml.etree.ElementTree as ET
    import zipfile

    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    try:
        with zipfile.ZipFile(path) as z:
            infos = {i.filename: i for i in z.infolist()}
            for part in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
                if infos[part].file_size > limits.memory_bytes:
                    raise KeyError(part)
            book = ET.fromstring(z.read("xl/workbook.xml"))
            rels = {r.get("Id"): r for r in ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
    except (KeyError, ET.ParseError, zipfile.BadZipFile, OSError, RuntimeError):
        return None
    # the parts a reader unpacks (sheets, shared strings, styles), not embedded media
    big = [i for i in infos.values() if i.file_size > limits.memory_bytes
           and i.filename.lower().endswith((".xml", ".rels"))]
    if big:
        raise IngestError(
            f"{path}: its part {big[0].filename} unpacks to {limits.mb(big[0].file_size)}, "
            f"more than the {limits.mb(limits.memory_bytes)} a workbook may take "
            "(xlsx_memory_mb, params/columns.yaml); save the sheet as CSV, or raise the limit "
            "on a machine with the memory")
    sheets = []
    for s in book.iter(f"{main}sheet"):
        target = rels.get(s.get(f"{rel}id"))
        member = None
        if target is not None and target.get("Target"):
            t = target.get("Target")
            member = t.lstrip("/") if t.startswith("/") else f"xl/{t}"
            member = member if member in infos else None
        kind = (target.get("Type") or "") if target is not None else ""
        sheets.append(_SheetPart(s.get("name"), member, kind.endswith("/worksheet")))
    calc = book.find(f"{main}calcPr")
    uncomputed = calc is not None and calc.get("fullCalcOnLoad") in ("1", "true")
    chain = any(name.rsplit("/", 1)[-1].lower() == "calcchain.xml" for name in infos)
    largest = max((i.file_size for i in infos.values()
                   if i.filename.lower().endswith(".xml")), default=0)
    return _Layout(sheets, uncomputed, chain, largest)


_XML_TOKEN = re.compile(rb"<(?:\w+:)?row\b([^>]*?)(/?)>|<(?:\w+:)?c\b([^>]*?)"
                        rb"(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_XML_ROW_NUMBER = re.compile(rb'\br="(\d+)"')


def _last_cell_end(buffer: bytes, start: int) -> int:
    """Where the buffer may be cut: after its last end of a cell or a row (text holds no
    "</": XML escapes "<"), so no cell is cut in two; 0 when there is none yet."""
    last = max(buffer.rfind(b"</c>"), buffer.rfind(b"</row>"))
    if last >= 0:
        return buffer.index(b">", last) + 1
    ends = [m.end() for m in _CELL_END.finditer(buffer, max(0, start - 16))]  # x:c, <c/>
    return ends[-1] if ends else 0


def _stream_cells(z, member: str, chunk: int = 1 << 24):
    """``(row, column, attributes, body)`` of every cell of a sheet's XML (row and column
    from 1, from the cell's reference or, as readers infer them, from its place in its row),
    read a chunk at a time: a sheet of a gigabyte is never held whole. First yields
    ``(0, 0, None, <dimension ref or None>)``."""
    with z.open(member) as fh:
        tail = b""
        first = True
        row = col = 0
        while True:
            data = fh.read(chunk)
            buffer = tail + data
            if first:
                found = _XML_DIMENSION.search(buffer)
                yield 0, 0, None, found.group(1) if found else None
                first = False
            cut = len(buffer) if not data else _last_cell_end(buffer, len(buffer) - len(data))
            for match in _XML_TOKEN.finditer(buffer, 0, cut):
                if match.group(3) is None:  # a row
                    number = _XML_ROW_NUMBER.search(match.group(1))
                    row, col = (int(number.group(1)) if number else row + 1), 0
                    continue
                attrs, body = match.group(3), match.group(4)
                ref = _XML_REF.search(attrs)
                if ref is not None:
                    row, col = int(ref.group(2)), _cell_column(ref.group(1))
                else:
                    row, col = max(row, 1), col + 1
                yield row, col, attrs, body
            tail = buffer[cut:]
            if not data:
                return


@dataclass
class _SheetScan:
    last_row: int = 0        # the last row holding a value
    formulas: dict = field(default_factory=dict)  # (row, column from 0) -> (formula, reason)
    notes: list[str] = field(default_factory=list)


_COLUMNS: dict[bytes, int] = {}


def _cell_column(letters: bytes) -> int:
    """b"A" -> 1, b"XFD" -> 16384."""
    col = _COLUMNS.get(letters)
    if col is None:
        col = 0
        for ch in letters.decode():
            col = col * 26 + ord(ch) - 64
        if len(_COLUMNS) < 20000:
            _COLUMNS[letters] = col
    return col


def _sheet_scan(path: Path, layout: _Layout, sheet: str, limits: _Limits) -> _SheetScan:
    """The sheet's extent checked against ``limits`` before anything reads it, the last row
    that holds a value (whatever its ``<dimension>``) and its formula cells whose value
    cannot be trusted: none saved (:data:`FORMULA_RULE`), or a placeholder
    (:data:`UNCOMPUTED_RULE`: the workbook says no formula was computed, ``fullCalcOnLoad``,
    or it has no calculation chain and the value is 0 or empty). Also counts the rows of
    the workbook's other worksheets, for the note that names them. A cell without a
    reference (rare writers) is where readers put it: after the cell before it in its row."""
    import html
    import zipfile

    out = _SheetScan()
    with zipfile.ZipFile(path) as z:
        for part in layout.sheets:
            if not part.worksheet or part.member is None:
                continue
            if part.name != sheet:
                rows = set()
                for row, _, attrs, body in _stream_cells(z, part.member):
                    if attrs is not None and body and _XML_VALUE.search(body):
                        rows.add(row)
                layout.rows_of[part.name] = len(rows)
                continue
            # the last row's rightmost cell (row, column), the rightmost column's lowest one
            far_row, far_col = (0, 0), (0, 0)
            dimension = None
            for row, col, attrs, body in _stream_cells(z, part.member):
                if attrs is None:
                    dimension = body
                    continue
                if not body:
                    continue
                if _XML_ANY_VALUE.search(body):
                    if (row, col) > far_row:
                        far_row = (row, col)
                    if (col, row) > far_col:
                        far_col = (col, row)
                if row > out.last_row and _XML_VALUE.search(body) is not None:
                    out.last_row = row
                formula = _XML_FORMULA.search(body) if b"f" in body else None
                if formula is None:
                    continue
                cached = _XML_CACHED.search(body)
                text = html.unescape((formula.group(1) or b"").decode("utf-8", "replace"))
                shown = "=" + text if text else "=(shared formula)"
                key = (row, col - 1)
                if cached is None and not (b't="str"' in attrs and b"<v" in body):
                    out.formulas[key] = (shown, FORMULA_RULE)
                elif layout.uncomputed or (not layout.calc_chain and (
                        cached is None or cached.group(1).strip() in _PLACEHOLDERS)):
                    out.formulas[key] = (shown, UNCOMPUTED_RULE)
            cells = far_row[0] * far_col[0]
            if cells * limits.bytes_per_cell > limits.memory_bytes:
                last_row = f"{_column_letters(far_row[1])}{far_row[0]}"
                last_col = f"{_column_letters(far_col[0])}{far_col[1]}"
                where = (f"cell {last_row}" if last_row == last_col else
                         f"cells {last_row} and {last_col}")
                raise IngestError(
                    f"{path} (sheet {sheet!r}): {where} hold{'s' if ' and ' not in where else ''}"
                    f" a value, so the sheet reads as {far_row[0]:,} rows x {far_col[0]:,} "
                    f"columns ({cells:,} cells, about "
                    f"{limits.mb(cells * limits.bytes_per_cell)}), more than the "
                    f"{limits.mb(limits.memory_bytes)} a sheet may take (xlsx_memory_mb, "
                    "params/columns.yaml); delete the rows and columns beyond the data in Excel "
                    "and save, or save the sheet as CSV")
            out.notes += _dimension_note(dimension, far_row[0], far_col[0], limits)
    return out


def _dimension_note(dimension: bytes | None, rows: int, cols: int,
                    limits: _Limits) -> list[str]:
    """A note when the sheet's ``<dimension>`` claims a grid beyond the memory budget that
    its cells do not fill (the tag is not trusted: the cells are read)."""
    if not dimension:
        return []
    found = re.fullmatch(rb"[A-Z]+\d+:([A-Z]+)(\d+)|([A-Z]+)(\d+)", dimension)
    if found is None:
        return []
    letters, number = (found.group(1), found.group(2)) if found.group(1) else (
        found.group(3), found.group(4))
    claimed = _cell_column(letters) * int(number)
    if claimed * limits.bytes_per_cell <= limits.memory_bytes:
        return []
    return [f"the sheet's size tag claims {dimension.decode()}, its cells reach "
            f"{_column_letters(cols) or 'A'}{rows or 1}: read by its cells"]


def _read_parquet(path: Path) -> _Raw:
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several kinds on a damaged file
        raise IngestError(f"{path}: not a readable Parquet file ({err})") from None
    headers = _unique_headers(frame.columns)
    frame.columns = headers
    keep = ~frame.isna().all(axis=1).to_numpy()
    raw = _Raw(headers, [], [], 0)
    raw.frame = frame.loc[keep].reset_index(drop=True)  # typed columns stay typed
    raw.lines = (np.flatnonzero(keep) + 1).tolist()
    return raw


def _no_header(path: Path, matcher: _Matcher, sheet: str | None = None):
    where = f" (sheet {sheet!r})" if sheet else ""
    columns = sorted(set(matcher.index.values()))
    raise IngestError(
        f"{path}{where}: no header row found: none of the first rows names a column of this "
        f"table ({', '.join(columns)}). Check --table, or the encoding if the headers look "
        "garbled (--encoding), or add the export's names to params/columns.yaml")


def _read_raw(path: Path, matcher: _Matcher, scan: int, *, sheet: str | None,
              encoding: str | None, limits: _Limits) -> _Raw:
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if path.is_dir():
        raise IngestError(f"{path}: is a directory; name the export files")
    with path.open("rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"PAR1"):
        return _read_parquet(path)
    if magic.startswith(b"PK\x03\x04"):
        return _read_xlsx(path, matcher, scan, sheet, limits)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise IngestError(f"{path}: an old Excel .xls workbook (or a password-protected one); "
                          "open it in Excel and save it as .xlsx or CSV without a password "
                          "(accepted: .csv/.txt/.tsv text, .xlsx, .parquet)")
    return _read_text(path, path.read_bytes(), matcher, scan, encoding)


# --- parsing values --------------------------------------------------------------------------
def _texts(raw: pd.Series) -> pd.Series:
    """Cells as text (pandas' Arrow-backed ``str``, missing for blank), as :func:`cell_text`."""
    if not (pd.api.types.is_string_dtype(raw) and pd.api.types.infer_dtype(
            raw, skipna=True) in ("string", "empty")):
        raw = pd.Series([cell_text(v) for v in raw], index=raw.index, dtype="object")
    text = raw.astype("str")
    return text.where(text.str.strip().str.len() > 0)


def _map_unique(texts: pd.Series, fn) -> pd.Series:
    """``texts.map(fn)`` computed once per distinct value (codes and yes/no repeat a lot)."""
    uniques = texts.dropna().unique()
    table = {u: fn(u) for u in uniques}
    return texts.map(table)


def _fail(mask: pd.Series, texts: pd.Series, rule: str) -> pd.Series:
    return pd.Series(np.where(mask, rule, None), index=texts.index, dtype="object")


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


def _number(text: str, words: Mapping[str, int]) -> float | None:
    """ "9", " 9,0 ", "1 200", "девять" -> a float; anything else -> None."""
    low = text.strip().lower()
    if low in words:
        return float(words[low])
    cleaned = _SPACES.sub("", low).replace(",", ".")
    return float(cleaned) if _NUMBER.fullmatch(cleaned) else None


def _parse_number(raw: pd.Series, words: Mapping[str, int]) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.astype("float64")
        return values, _fail(values.notna() & (values % 1 != 0), raw, "not a whole number")
    texts = _texts(raw)
    # scores repeat a lot: each distinct spelling is read once
    values = _map_unique(texts, lambda t: _number(t, words)).astype("float64")
    errors = _fail(texts.notna() & values.isna(), texts, "not a number")
    whole = _fail(values.notna() & (values % 1 != 0), texts, "not a whole number")
    return values, errors.where(errors.notna(), whole)


_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")
_SERIAL = re.compile(r"\d{4,6}(\.\d+)?")
EXCEL_EPOCH = pd.Timestamp("1899-12-30")  # Excel's day 0 (its 1900 leap-year bug included)


def _fits(text: str, fmt: str) -> bool:
    try:
        datetime.datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


def _date_part(fmt: str) -> str:
    return re.split(r"[ T]", fmt, maxsplit=1)[0]


def _swap_day_month(part: str) -> str:
    return part.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def format_label(fmt: str) -> str:
    """A strptime format as people write it: ``%d.%m.%Y %H:%M`` -> ``dd.mm.yyyy HH:MM``."""
    for code, text in (("%d", "dd"), ("%m", "mm"), ("%Y", "yyyy"), ("%H", "HH"), ("%I", "h"),
                       ("%M", "MM"), ("%S", "SS"), ("%p", "AM/PM")):
        fmt = fmt.replace(code, text)
    return fmt


class _AmbiguousDates(Exception):
    def __init__(self, examples: list[str]):
        super().__init__(examples)
        self.examples = examples


def _day_or_month(texts: pd.Series, formats: Sequence[str], declared: Sequence[str]
                  ) -> set[str]:
    """Date parts to leave out: of two that differ only in the order of day and month
    (d/m/yyyy and m/d/yyyy), the one the column's values fit less often, or the one not
    declared; every value fitting both is :class:`_AmbiguousDates`."""
    parts = list(dict.fromkeys(_date_part(f) for f in formats))
    dropped: set[str] = set()
    for part in parts:
        other = _swap_day_month(part)
        if other == part or other not in parts or part in dropped or other in dropped:
            continue
        wanted = {_date_part(f) for f in declared} & {part, other}
        if wanted:
            dropped |= {part, other} - wanted
            continue
        fit = {}
        for p in (part, other):
            hits = pd.Series(False, index=texts.index)
            for f in formats:
                if _date_part(f) == p:
                    hits |= pd.to_datetime(texts, format=f, errors="coerce").notna()
            fit[p] = hits
        either = fit[part] | fit[other]
        if not either.any():
            continue
        if (fit[part] == fit[other])[either].all():
            raise _AmbiguousDates(texts[either].drop_duplicates().head(3).tolist())
        dropped.add(other if fit[part].sum() >= fit[other].sum() else part)
    return dropped


def _parse_datetime(raw: pd.Series, formats: Sequence[str], tz: str, earliest: pd.Timestamp,
                    *, declared: Sequence[str] = ()
                    ) -> tuple[pd.Series, pd.Series, str]:
    """Timestamps (naive, in the network's zone, ns), the cells that are not plausible ones,
    and how the column writes its dates (``dd.mm.yyyy HH:MM``; several joined by " / ", the
    most used first).

    The format is decided for the whole column: ``declared`` formats first, then ``formats``
    (the first date's format first); native date cells, Excel serial numbers (46300.5) and
    ISO 8601 with a time zone are read too. A column whose every value fits both d/m/yyyy and
    m/d/yyyy raises :class:`_AmbiguousDates` unless ``declared`` says which.
    """
    errors = pd.Series(None, index=raw.index, dtype="object")
    chunks: list[pd.Series] = []
    used: dict[str, int] = {}
    if pd.api.types.is_datetime64_any_dtype(raw):
        values = raw
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert(tz).dt.tz_localize(None)
        chunks.append(values.dropna())
        used["date values"] = int(values.notna().sum())
    else:
        native = pd.Series([isinstance(v, datetime.date | pd.Timestamp | np.datetime64)
                            for v in raw], index=raw.index, dtype=bool) \
            if raw.dtype == object else pd.Series(False, index=raw.index)
        texts = _texts(raw).str.strip()
        todo = texts.notna()
        if native.any():
            cells = pd.to_datetime(texts[native], format="ISO8601", errors="coerce").dropna()
            chunks.append(cells)
            todo[cells.index] = False
            used["date cells"] = len(cells)
        serial = texts[todo].str.fullmatch(_SERIAL).fillna(False).astype(bool)
        if serial.any():
            days = texts[todo][serial].astype("float64")
            lo = (earliest - EXCEL_EPOCH) / pd.Timedelta(days=1)
            hi = (LATEST - EXCEL_EPOCH) / pd.Timedelta(days=1)
            days = days[(days >= lo) & (days <= hi)]
            stamps = (EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).dt.round("s")
            chunks.append(stamps)
            todo[stamps.index] = False
            if len(stamps):
                used["Excel serial numbers"] = len(stamps)
        slashed = texts[todo]
        slashed = slashed[slashed.str.contains("/", regex=False)]  # where d/m meets m/d
        dropped = _day_or_month(slashed, [*declared, *formats], declared)
        first = texts[todo].head(1).tolist()
        # an export writes its dates one way: the format of its first date is tried first
        ordered = [*declared, *sorted((f for f in formats if f not in declared),
                                      key=lambda f: not first or not _fits(first[0], f))]
        for fmt in (f for f in ordered if _date_part(f) not in dropped):
            if not todo.any():
                break
            parsed = pd.to_datetime(texts[todo], format=fmt, errors="coerce").dropna()
            chunks.append(parsed)
            todo[parsed.index] = False
            if len(parsed):
                used[format_label(fmt)] = used.get(format_label(fmt), 0) + len(parsed)
        if todo.any():  # ISO 8601 with fractions of a second or a time zone
            rest = texts[todo]
            zoned = rest.str.contains(_TZ_SUFFIX)
            naive = pd.to_datetime(rest[~zoned], format="ISO8601", errors="coerce").dropna()
            aware = pd.to_datetime(rest[zoned], format="ISO8601", errors="coerce", utc=True)
            aware = aware.dropna().dt.tz_convert(tz).dt.tz_localize(None)
            chunks += [naive, aware]
            todo[naive.index] = False
            todo[aware.index] = False
            if len(naive) + len(aware):
                used["ISO 8601"] = len(naive) + len(aware)
        errors[todo] = "not a date"
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    for parsed in chunks:
        odd = (parsed < earliest) | (parsed > LATEST)
        errors[odd.index[odd]] = (f"implausible date (before {earliest:%d.%m.%Y} or after "
                                  f"{LATEST:%Y})")
        good = parsed[~odd]
        out[good.index] = good.astype("datetime64[ns]")
    label = " / ".join(k for k, _ in sorted(used.items(), key=lambda kv: -kv[1]))
    return out, errors, label


def _parse_month(raw: pd.Series, month_formats: Sequence[str], date_formats: Sequence[str],
                 tz: str, earliest: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    texts = _texts(raw).str.strip()
    out = pd.Series(None, index=raw.index, dtype="object")
    todo = texts.notna()
    for fmt in month_formats:
        parsed = pd.to_datetime(texts[todo], format=fmt, errors="coerce")
        ok = parsed.index[parsed.notna()]
        out[ok] = parsed[ok].dt.strftime("%Y-%m")
        todo[ok] = False
    if todo.any():
        try:
            dates, _, _ = _parse_datetime(texts[todo], date_formats, tz, earliest)
        except _AmbiguousDates:  # a month is the same whichever the day
            dates, _, _ = _parse_datetime(texts[todo], date_formats, tz, earliest,
                                          declared=[f for f in date_formats if "/" in f][:1])
        ok = dates.index[dates.notna()]
        out[ok] = dates[ok].dt.strftime("%Y-%m")
        todo[ok] = False
    return out.astype("str"), _fail(todo, texts, "not a month")


def _parse_bool(raw: pd.Series, words: Mapping[str, bool]) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype("boolean"), _fail(raw.isna(), raw, "missing value")
    texts = _texts(raw)
    values = _map_unique(texts, lambda t: words.get(normalize(t)))
    return values.astype("boolean"), _fail(texts.notna() & values.isna(), texts, "not yes/no")


def _parse_code(raw: pd.Series, codes: Mapping[str, str]) -> pd.Series:
    texts = _texts(raw).str.strip()
    return _map_unique(texts, lambda t: codes.get(normalize(t), t)).astype("str")


def _parse_str(raw: pd.Series, *, identifier: bool) -> pd.Series:
    texts = _texts(raw)
    return (texts.str.strip() if identifier else texts).astype("str")


@dataclass(frozen=True)
class _Vocab:
    words: dict[str, int]
    booleans: dict[str, bool]
    codes: dict[str, dict[str, str]]
    date_formats: tuple[str, ...]
    month_formats: tuple[str, ...]
    tz: str
    earliest: pd.Timestamp
    # coded column -> the words a reader writes, for messages ("Сервис и ремонт, ...")
    spoken: dict[str, str] = field(default_factory=dict)


# coded columns whose codes have names in params/labels.yaml (accepted, and listed in messages)
_LABELLED = {"touchpoint": "touchpoints"}


def _vocab(params: Mapping, params_dir=None) -> _Vocab:
    booleans = {normalize(w): flag == "true" for flag, words in params["booleans"].items()
                for w in words}
    labels = load_params("labels", params_dir=params_dir)
    codes, spoken = {}, {}
    for column, allowed in schemas.for_params(params_dir).allowed.items():
        named = labels.get(_LABELLED.get(column, ""), {}) or {}
        by_language: dict[str, list[str]] = {}
        for code in allowed:
            for lang, name in (named.get(code) or {}).items():
                by_language.setdefault(lang, []).append(str(name))
        values = params.get("values", {}).get(column) or {}
        table = {normalize(a): a for a in allowed}
        table |= {normalize(n): code for code in allowed
                  for n in (named.get(code) or {}).values() if n}
        table |= {normalize(k): v for k, v in values.items()}
        codes[column] = table
        words = [w for names in by_language.values() for w in names]
        if words:
            spoken[column] = (f"not one of: {', '.join(words)} (or the codes "
                              f"{', '.join(map(str, allowed))})")
    return _Vocab({normalize(k): int(v) for k, v in params["number_words"].items()}, booleans,
                  codes, tuple(params["date_formats"]), tuple(params["month_formats"]),
                  load_params("network", params_dir=params_dir)["timezone"],
                  pd.Timestamp(params["earliest_date"]), spoken)


def _parse(raw: pd.DataFrame, table: str, vocab: _Vocab, params_dir=None, *,
           declared: Mapping[str, Sequence[str]] | None = None,
           where: Mapping[str, str] | None = None, path: Path | None = None,
           ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Typed columns of ``table``, the cells that could not be read (pos, column, rule) and
    each date column's format as read. ``declared``: date formats per column (``"*"``: any);
    ``where``: the file's header of each column, for messages."""
    typed, problems, labels = {}, [], {}
    spec = schemas.columns(table, params_dir=params_dir)
    declared = declared or {}
    for col in raw.columns:
        kind = schemas.kind_of(table, col, params_dir=params_dir)
        errors = None
        if kind in ("int", "float"):
            values, errors = _parse_number(raw[col], vocab.words)
        elif kind == "datetime":
            given = [*(declared.get(col) or ()), *(declared.get("*") or ())]
            try:
                values, errors, labels[col] = _parse_datetime(
                    raw[col], vocab.date_formats, vocab.tz, vocab.earliest, declared=given)
            except _AmbiguousDates as err:
                header = (where or {}).get(col, col)
                raise IngestError(
                    f"{path}: column {header!r} ({col}): every date in it reads both as "
                    f"day/month and as month/day (e.g. {', '.join(err.examples)}), so its "
                    "format cannot be told from its values; name it with --date-format "
                    "'%m/%d/%Y' (or '%d/%m/%Y'), or in a --columns map: "
                    f"formats: {{{col}: \"%m/%d/%Y\"}}", table=table, column=col) from None
        elif kind == "month":
            values, errors = _parse_month(raw[col], vocab.month_formats, vocab.date_formats,
                                          vocab.tz, vocab.earliest)
            odd = values.notna() & (values < f"{vocab.earliest:%Y-%m}")
            errors = errors.where(~odd, f"implausible month (before {vocab.earliest:%Y-%m})")
        elif kind == "bool":
            values, errors = _parse_bool(raw[col], vocab.booleans)
        elif kind == "code":
            values = _parse_code(raw[col], vocab.codes[col])
        else:
            values = _parse_str(raw[col], identifier=col.endswith("_id") or col == "vin")
        if kind in ("int", "bool"):  # no null in these dtypes: a placeholder, never accepted
            missing = values.isna() & (errors.isna() if errors is not None else True)
            if not spec[col].nullable:
                errors = errors.where(~missing, "missing value")
            values = values.fillna(_placeholder(spec[col]) if kind == "int" else False)
            values = values.astype("int64" if kind == "int" else "bool")
        typed[col] = values
        if errors is not None:
            bad = errors.dropna()
            problems.append(pd.DataFrame({"pos": bad.index, "column": col, "rule": bad.values}))
    frame = pd.DataFrame(typed, index=raw.index)
    problems = (pd.concat(problems, ignore_index=True) if problems else
                pd.DataFrame(columns=["pos", "column", "rule"]))
    return frame, problems, labels


def _placeholder(column: pdr.Column) -> int:
    for check in column.checks:
        stats = check.statistics or {}
        if "min_value" in stats:
            return int(stats["min_value"])
    return 0


# --- duplicates and the schema ---------------------------------------------------------------
def _duplicates(typed: pd.DataFrame, raw: pd.DataFrame, lines: np.ndarray, table: str,
                skip: set[int]) -> pd.DataFrame:
    key = [k for k in KEYS[table] if k in typed]
    if len(key) < len(KEYS[table]):
        return pd.DataFrame(columns=["pos", "column", "rule", "message"])
    keyed = typed.loc[typed[key].notna().all(axis=1) & ~typed.index.isin(skip), key]
    first = keyed.index.to_series().groupby([keyed[k] for k in key], sort=False,
                                            dropna=True).transform("first")
    dup = first[first != first.index]
    involved = sorted(set(dup.index) | set(dup.to_numpy()))
    texts = raw.loc[involved].map(cell_text)
    records = []
    label = "+".join(key)
    for pos, first_pos in dup.items():
        same = texts.loc[pos].equals(texts.loc[first_pos])
        ident = "/".join(str(typed.at[pos, k]) for k in key)
        if same:
            rule, message = "duplicate row", f"duplicate row: same as line {lines[first_pos]}"
        else:
            rule = "duplicate id"
            message = f"duplicate id {ident}: first seen at line {lines[first_pos]}"
        records.append((pos, label, rule, message))
    return pd.DataFrame(records, columns=["pos", "column", "rule", "message"])


def _limits(column: pdr.Column) -> tuple[object, object]:
    """The (min, max) a column's checks allow; None where a check sets none."""
    lo = hi = None
    for check in column.checks:
        stats = check.statistics or {}
        lo = stats.get("min_value", lo)
        hi = stats.get("max_value", hi)
    return lo, hi


def _range_text(column: pdr.Column) -> str:
    lo, hi = _limits(column)
    if lo is not None and hi is not None:
        return f"out of range {lo}-{hi}"
    return f"below {lo}" if lo is not None else f"above {hi}"


def _rule(check: str, column: pdr.Column | None, spoken: Mapping[str, str] | None = None) -> str:
    if check == "not_nullable":
        return "missing value"
    if check.startswith(("greater_than", "less_than", "in_range")) and column is not None:
        return _range_text(column)
    if check.startswith("isin(") and column is not None and column.name in (spoken or {}):
        return spoken[column.name]
    if check.startswith("isin("):
        allowed = next(c.statistics["allowed_values"] for c in column.checks
                       if "allowed_values" in (c.statistics or {}))
        return f"not one of {', '.join(map(str, allowed))}"
    if check.startswith("str_matches("):
        return "not a month YYYY-MM"
    return check


def _schema_failures(typed: pd.DataFrame, schema: pdr.DataFrameSchema, flagged: set,
                     bad_rows: set[int], path: Path,
                     spoken: Mapping[str, str] | None = None) -> pd.DataFrame:
    try:
        schema.validate(typed, lazy=True)
    except pdr.errors.SchemaErrors as err:
        cases = err.failure_cases
    else:
        return pd.DataFrame(columns=["pos", "column", "rule"])
    if cases["index"].isna().any():  # the parser must hand the schema the right dtypes
        raise RuntimeError(f"{path}: internal error, schema-level failure:\n"
                           f"{cases[cases['index'].isna()].to_string()}")
    cases = cases.assign(pos=cases["index"].astype("int64"))
    row_level = cases["schema_context"] == "DataFrameSchema"
    cols = cases.loc[~row_level].assign(
        rule=lambda d: [_rule(c, schema.columns.get(col), spoken) for c, col in
                        zip(d["check"], d["column"])])
    cols = cols.loc[[(p, c) not in flagged for p, c in zip(cols["pos"], cols["column"])]]
    rows = (cases.loc[row_level].drop_duplicates(["pos", "check"])
            .assign(column=lambda d: d["check"].map(schemas.ROW_RULES).fillna("(row)"),
                    rule=lambda d: d["check"])
            .loc[lambda d: ~d["pos"].isin(bad_rows)])
    return pd.concat([cols, rows])[["pos", "column", "rule"]]


# --- the public reader -----------------------------------------------------------------------
def network_now(*, params_dir: str | os.PathLike | None = None) -> pd.Timestamp:
    """The wall clock in the network's time zone (params/network.yaml), without the zone."""
    return pd.Timestamp.now(tz=load_params("network", params_dir=params_dir)["timezone"]
                            ).tz_localize(None)


def read_export(
    path: str | os.PathLike,
    *,
    table: str,
    params: Mapping | None = None,
    dealers: pd.DataFrame | Iterable[str] | None = None,
    sheet: str | None = None,
    now: pd.Timestamp | str | None = None,
    encoding: str | None = None,
    params_dir: str | os.PathLike | None = None,
    columns: ColumnMap | Mapping | str | os.PathLike | None = None,
    touchpoint: str | None = None,
    scales: Mapping[str, object] | None = None,
    date_format: str | None = None,
    derive_dealers: bool = False,
) -> IngestResult:
    """Read one export of ``table`` into accepted rows and quarantined rows.

    Parameters
    ----------
    path
        A .csv/.txt/.tsv text file, an .xlsx workbook or a Parquet file.
    table
        One of ``analysis.table_specs.TABLES``.
    params
        The contents of params/columns.yaml (loaded from ``params_dir`` when omitted).
    dealers
        The dealers table (or its ids): rows naming another dealer are quarantined; a
        responses export's dealer cell is matched to a ``dealer_id``, else to a
        ``dealer_name`` (ignoring case, spaces and punctuation). None: not checked.
    sheet
        The workbook sheet to read; default the first.
    now
        Timestamps after it are in the future; default :func:`network_now`.
    encoding
        The text encoding, when detection is not wanted.
    params_dir
        The params the table's schema, codes, labels and time zone come from (default
        ``params/``): a different NPS scale or driver list there changes what is accepted.
    columns
        A column map (:func:`load_column_map`: a YAML file, a mapping or a
        :class:`ColumnMap`): source headers -> columns per table, plus ``scales`` and
        ``formats``; it is matched before the aliases.
    touchpoint
        A responses export without a touchpoint column: the touchpoint of every row (a code
        or a word of params/columns.yaml ``values``); default ``defaults.touchpoint``.
    scales
        Declared driver scales, ``{driver: "1-5"}`` (``"*"``: every driver); the others are
        detected from the values.
    date_format
        A strptime format for every date column (e.g. ``"%m/%d/%Y"``), when the values
        leave it open.
    derive_dealers
        With ``dealers=None``, a responses export's dealers are taken from its dealer (and
        region, city) columns: :attr:`IngestResult.dealers`.

    Raises
    ------
    IngestError
        The file cannot be read at all: not found, unknown format, no header row, a required
        column missing (the message lists the accepted names), ambiguous columns or dates.
    """
    if table not in TABLES:
        raise IngestError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
    params = params_or("columns", params, params_dir=params_dir)
    path = Path(path)
    cmap = load_column_map(columns, params_dir=params_dir)
    matcher = _matcher(table, params, params_dir, cmap.tables.get(table))
    limits = _Limits.of(params)
    raw = _read_raw(path, matcher, int(params.get("header_scan_rows", 30)), sheet=sheet,
                    encoding=encoding, limits=limits)
    original = raw.frame
    if original is None:
        original = pd.DataFrame(raw.rows, columns=raw.headers, dtype="object")
    if set(META) <= set(raw.headers):  # a quarantine file sent back: undo its defusing
        original = original.map(_restore_formula)
    mapping, details, notes = _map_headers(raw, table, matcher, path, params, params_dir)
    side = {h: c for h, c in mapping.items() if c in SIDE_COLUMNS.get(table, ())}
    own = {h: c for h, c in mapping.items() if h not in side}
    lines = np.asarray(raw.lines, dtype="int64")
    original = original.reset_index(drop=True)
    frame = original[list(own)].rename(columns=own)
    where = {c: h for h, c in own.items()}
    if table == "responses" and "dealer_id" not in frame:  # the dealer named, not coded
        header = next(h for h, c in side.items() if c == "dealer_name")
        frame["dealer_id"] = original[header]
        where["dealer_id"] = header
    vocab = _vocab(params, params_dir)
    declared = {**cmap.formats, **({"*": [date_format]} if date_format else {})}
    typed, problems, formats = _parse(frame, table, vocab, params_dir, declared=declared,
                                      where=where, path=path)
    for col, label in formats.items():
        if label:
            details[col] = "; ".join([label, *([details[col]] if col in details else [])])
    missing = tuple(c for c in schemas.columns(table, params_dir=params_dir)
                    if c not in typed and c not in DERIVED.get(table, ()))
    derived: dict[str, str] = {}
    found_scales: dict[str, tuple[int, int]] = {}
    derived_dealers = None
    if table == "responses":
        declared_scales = {**cmap.scales, **_scales(scales or {}, path)}
        found_scales, scale_problems, scale_details = _rating_scales(
            typed, problems, declared_scales, params, params_dir, path)
        details.update({c: "; ".join([text, *([details[c]] if c in details else [])])
                        for c, text in scale_details.items()})
        problems = pd.concat([problems, scale_problems], ignore_index=True)
        typed, derived = _fill(typed, original, mapping, vocab, params, params_dir, touchpoint,
                               path)
        typed, derived_dealers, text = _dealers_of(
            typed, original, side, dealers, derive_dealers, params, set(raw.malformed))
        if text:
            details["dealer_id"] = text
        if dealers is not None:  # the dealers table names and places the dealers
            unused = {h for h, c in side.items()
                      if c != "dealer_name" or "dealer_id" in own.values()}
            mapping = {h: c for h, c in mapping.items() if h not in unused}
    if raw.formulas:  # the quarantine shows the formula; its missing value is not the point
        problems = _formula_problems(raw, original, mapping, problems)
    long_cells = _long_cells(original, own, raw, limits)
    if not long_cells.empty:
        problems = pd.concat([problems.loc[~problems.set_index(["pos", "column"]).index.isin(
            long_cells.set_index(["pos", "column"]).index)], long_cells.drop(columns="length")],
            ignore_index=True)
        notes = [*notes, _long_note(long_cells, lines, own, limits)]
    now = network_now(params_dir=params_dir) if now is None else pd.Timestamp(now)
    known = dealers
    if derived_dealers is not None:  # the dealers this export brings, and the store's
        ids = (dealers["dealer_id"] if isinstance(dealers, pd.DataFrame)
               else pd.Series(list(dealers or []), dtype="str"))
        known = pd.concat([derived_dealers["dealer_id"], ids.astype("str")], ignore_index=True)
    schema = schemas.schema_for(table, dealers=known, now=now, unique=False,
                                params_dir=params_dir)
    bad_rows = set(raw.malformed) | set(problems["pos"])
    flagged = set(zip(problems["pos"], problems["column"]))
    failures = pd.concat([
        problems,
        _schema_failures(typed, schema, flagged, bad_rows, path, vocab.spoken),
    ], ignore_index=True)
    failures = failures.assign(message=lambda d: [
        _message(rule, original.at[p, where[c]] if c in where else None)
        for p, c, rule in zip(d["pos"], d["column"], d["rule"])])
    failures = pd.concat([failures, _duplicates(typed, original, lines, table,
                                                set(raw.malformed))], ignore_index=True)
    # a row with too many cells is misaligned: its other problems are noise
    failures = failures.loc[~failures["pos"].isin(raw.malformed)]
    failures = pd.concat([failures, pd.DataFrame(
        [(p, "(row)", "more cells than the header", m) for p, m in raw.malformed.items()],
        columns=["pos", "column", "rule", "message"])], ignore_index=True)
    # reasons in the order of the file's columns
    rank = {col: i for i, col in enumerate(typed.columns)}
    failures = (failures.astype({"pos": "int64"})
                .assign(_rank=lambda d: d["column"].map(lambda c: rank.get(c.split("+")[0], -1)))
                .sort_values(["pos", "_rank"], kind="stable").drop(columns="_rank"))

    bad = failures["pos"].unique()
    columns_ = schemas.columns(table, params_dir=params_dir)
    # rows without a failure passed the schema above (uniqueness: the duplicates are out)
    accepted = (typed.drop(index=bad).reset_index(drop=True)
                .pipe(lambda d: d[[c for c in columns_ if c in d]]))
    quarantined = _quarantine_frame(original, failures, lines, path)
    reasons = (failures.groupby(["column", "rule"], sort=False)["pos"].nunique()
               .rename("rows").reset_index().rename(columns={"rule": "reason"})
               .sort_values("rows", ascending=False, kind="stable").reset_index(drop=True))
    return IngestResult(
        table=table, source=path, accepted=accepted, quarantined=quarantined,
        n_read=len(original), reasons=reasons, columns=mapping,
        ignored_columns=tuple(h for h in raw.headers if h not in mapping),
        missing_optional=missing, header_line=raw.header_line, encoding=raw.encoding,
        delimiter=raw.delimiter, notes=tuple([*raw.notes, *notes]), details=details,
        derived=derived, scales=found_scales, dealers=derived_dealers)


FORMULA_RULE = "formula without a saved value (open and save the file in Excel)"


def _formula_problems(raw: _Raw, original: pd.DataFrame, mapping: Mapping[str, str],
                      problems: pd.DataFrame) -> pd.DataFrame:
    """Formula cells without a trusted value in read columns (none saved, or a writer's
    placeholder): quarantined with that reason instead of whatever their value would pass
    or fail (the formula text goes to the quarantine)."""
    found = []
    for pos, cells in raw.formulas.items():
        for col, (formula, rule) in cells.items():
            header = raw.headers[col]
            original.iat[pos, col] = formula
            if header in mapping:
                found.append((pos, mapping[header], rule))
    formula = pd.DataFrame(found, columns=["pos", "column", "rule"])
    cells = set(zip(formula["pos"], formula["column"]))
    keep = [(p, c) not in cells for p, c in zip(problems["pos"], problems["column"])]
    return pd.concat([problems.loc[keep], formula], ignore_index=True)


def _long_rule(limits: _Limits) -> str:
    return (f"longer than {limits.max_cell_chars:,} characters (max_cell_chars, "
            "params/columns.yaml)")


def _long_cells(original: pd.DataFrame, own: Mapping[str, str], raw: _Raw,
                limits: _Limits) -> pd.DataFrame:
    """Cells of read columns longer than ``max_cell_chars``: ``pos``, ``column``, ``rule``
    and ``length`` (their rows are quarantined; the file is read)."""
    found = []
    if raw.longest is None or raw.longest > limits.max_cell_chars:
        for header, column in own.items():
            values = original[header]
            if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
                continue
            lengths = values.map(lambda v: len(v) if isinstance(v, str) else 0)
            for pos in np.flatnonzero(lengths.to_numpy() > limits.max_cell_chars):
                found.append((int(pos), column, _long_rule(limits), int(lengths.iat[pos])))
    return pd.DataFrame(found, columns=["pos", "column", "rule", "length"])


def _long_note(cells: pd.DataFrame, lines: np.ndarray, own: Mapping[str, str],
               limits: _Limits) -> str:
    """The note naming the lines whose values are too long, and the limit."""
    header = {c: h for h, c in own.items()}
    first = cells.iloc[0]
    where = (f"line {lines[first['pos']]}: {header[first['column']]!r} holds "
             f"{first['length']:,} characters")
    more = len(cells) - 1
    if more:
        where += (f" (and {more} more value(s), lines "
                  f"{_line_list(sorted({int(lines[p]) for p in cells['pos']}))})")
    return (f"{where}, more than max_cell_chars {limits.max_cell_chars:,} (params/columns.yaml):"
            " its row is quarantined, the rest is read; raise the limit to accept it")


def _source_of(mapping: Mapping[str, str], column: str) -> str:
    return next(src for src, col in mapping.items() if col == column)


_SHOWN_CHARS = 80  # of a value in a quarantine reason: enough to find it in the file


def _message(rule: str, value: object) -> str:
    text = cell_text(value)
    if text is None:
        return rule
    text = text.strip()
    if len(text) > _SHOWN_CHARS:  # a comment of 200,000 characters is not repeated
        return f"{rule} ({text[:_SHOWN_CHARS]!r}... {len(cell_text(value)):,} characters)"
    return f"{rule} ({text!r})"


def _map_headers(raw: _Raw, table: str, matcher: _Matcher, path: Path, params: Mapping,
                 params_dir=None) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Header -> column, what was decided about a column (``details``) and notes.

    Each header is matched by its names (:func:`_combine`): the ``--columns`` map, then the
    aliases, then the ranked alternatives (of several, the best ranked wins and the others are
    ignored); for responses without an NPS alias, the question whose wording asks for a
    recommendation. Two headers naming one column by alias or map raise :class:`IngestError`.
    """
    parts = raw.parts or [[h] for h in raw.headers]
    found: dict[str, list[tuple[int, str]]] = {}   # column -> [(rank, header)]
    for header, names in zip(raw.headers, parts):
        names = names or [header]
        hit = next((m for m in map(matcher.column_of, names) if m and m[1] == -2), None)
        hit = hit or next((m for m in map(matcher.column_of, names) if m), None)
        if hit is not None:
            found.setdefault(hit[0], []).append((hit[1], header))
    mapping: dict[str, str] = {}
    details: dict[str, str] = {}
    notes: list[str] = []
    for col, hits in found.items():
        firm = [h for r, h in hits if r < 0]
        if len(firm) > 1:
            raise IngestError(f"{path}: columns {firm[0]!r} and {firm[1]!r} both mean {col!r}; "
                              "delete or rename one of them (or map one with --columns)",
                              table=table, column=col)
        chosen = firm[0] if firm else min(hits)[1]
        mapping[chosen] = col
        if len(hits) > 1:  # params/columns.yaml ranked_aliases
            others = [h for _, h in sorted(hits) if h != chosen]
            details[col] = f"chosen over {', '.join(map(repr, others))}"
    if table == "responses":
        _by_wording(raw, parts, matcher, mapping, details, notes, path)
    mapping = {h: mapping[h] for h in raw.headers if h in mapping}  # the file's order
    required = _export_required(table, params_dir)
    have = set(mapping.values())
    if table == "responses" and "dealer_name" in have:
        have.add("dealer_id")  # the dealer named rather than coded
    missing = [c for c in required if c not in have]
    if missing:
        names = aliases(table, params, params_dir=params_dir)
        listing = "; ".join(f"{c}: {', '.join(names[c])}" for c in missing)
        wording = (" (or a question asking how likely one is to recommend, 0-10)"
                   if "nps" in missing else "")
        raise IngestError(
            f"{path}: required column(s) missing for table {table!r}: {', '.join(missing)}. "
            f"Accepted names - {listing}{wording}. The file's columns: "
            f"{', '.join(raw.headers)}",
            table=table, column=missing[0] if len(missing) == 1 else tuple(missing),
            fix="rename the column in the export, add its name to params/columns.yaml, or "
            "map it: --columns MAP.yaml (see python -m analysis ingest --help)")
    return mapping, details, notes


def _values_fit(values: list[object], column: str) -> bool:
    """Whether a column's values can be ``column``'s: the NPS score and a driver rating are
    whole numbers 0-10 (in 9 of 10 cells), a dealer a name repeated across answers, a comment
    free text."""
    texts = [t.strip() for t in (cell_text(v) for v in values) if t and t.strip()]
    if not texts:
        return column == "comment"
    numbers = [_number(t, {}) for t in texts]
    numeric = sum(n is not None for n in numbers) / len(texts)
    if column not in ("dealer_name", "comment"):  # the NPS score, a driver rating
        fits = sum(n is not None and 0 <= n <= 10 and n % 1 == 0 for n in numbers)
        return fits >= 0.9 * len(texts)
    if numeric > 0.5:
        return False
    if column == "dealer_name":
        return len(set(texts)) <= max(3, len(texts) // 3)
    return True


def _column_values(raw: _Raw, header: str) -> list[object]:
    if raw.frame is not None:
        return raw.frame[header].tolist()
    at = raw.headers.index(header)
    return [row[at] for row in raw.rows]


def _by_wording(raw: _Raw, parts: list[list[str]], matcher: _Matcher, mapping: dict,
                details: dict, notes: list, path: Path) -> None:
    """Questions written out as headers (Google Forms, survey tools): a column that no alias
    named is taken for the NPS question, the dealer or the comment when its wording says so
    (params/columns.yaml ``wording``) and its values fit; of several, the one that names the
    scale; still several: the NPS question is refused (name it with --columns), the others
    are left out with a note."""
    for column in matcher.wording:
        named = set(mapping.values())
        if column in named or (column == "dealer_name" and "dealer_id" in named):
            continue
        worded = [(matcher.by_wording(n, column), h) for h, names in zip(raw.headers, parts)
                  if h not in mapping for n in [" ".join(names or [h])]]
        worded = [(w, h) for w, h in worded
                  if w and _values_fit(_column_values(raw, h), column)]
        best = max((w for w, _ in worded), default=0)
        chosen = [h for w, h in worded if w == best]
        if len(chosen) > 1 and column == "nps":
            raise IngestError(
                f"{path}: {len(chosen)} columns read like the NPS question "
                f"({', '.join(map(repr, chosen))}); name it with a --columns map "
                "(responses: {'<its header>': nps})", table="responses", column="nps")
        if len(chosen) > 1:
            notes.append(f"{len(chosen)} columns read like the {column.replace('_', ' ')} "
                         f"({', '.join(map(repr, chosen))}): none taken; name one with a "
                         f"--columns map (responses: {{'<its header>': {column}}})")
        elif chosen:
            mapping[chosen[0]] = column
            details[column] = "by its wording"


def _export_required(table: str, params_dir=None) -> list[str]:
    """Columns an export of ``table`` must have: the schema's, less those the ingest fills."""
    drivers = schemas.for_params(params_dir).drivers if table == "responses" else ()
    skip = {*DERIVED.get(table, ()), *drivers}
    return [c for c in schemas.required_columns(table, params_dir=params_dir) if c not in skip]


def _scale(value: object, where: str) -> tuple[int, int]:
    """``"1-5"``, ``[1, 5]`` or ``(1, 5)`` -> (1, 5); anything else an :class:`IngestError`."""
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-|\.\.|to|…)\s*(\d+)\s*", value)
        pair = (int(m.group(1)), int(m.group(2))) if m else None
    elif isinstance(value, Sequence) and len(value) == 2:
        try:
            pair = (int(value[0]), int(value[1]))
        except (TypeError, ValueError):
            pair = None
    else:
        pair = None
    if pair is None or pair[0] >= pair[1]:
        raise IngestError(f"{where}: scale {value!r} is not LOW-HIGH (e.g. 1-5)")
    return pair


def _scales(given: Mapping[str, object], path: Path) -> dict[str, tuple[int, int]]:
    return {d: _scale(v, f"{path}: --scale {d}") for d, v in given.items()}


def _rating_scales(typed: pd.DataFrame, problems: pd.DataFrame,
                   declared: Mapping[str, tuple[int, int]], params: Mapping, params_dir,
                   path: Path
                   ) -> tuple[dict[str, tuple[int, int]], pd.DataFrame, dict[str, str]]:
    """Each driver column's scale: declared, else the smallest of ``rating_scales`` holding
    its values (values outside every scale are left out of the choice); its values outside
    the scale as problems; the text for the mapping."""
    drivers = schemas.for_params(params_dir).drivers
    known = sorted({tuple(int(x) for x in s) for s in params.get("rating_scales") or []},
                   key=lambda s: (s[1] - s[0], -s[0]))
    schema = schemas.columns("responses", params_dir=params_dir)
    lo_all, hi_all = map(int, _limits(schema[drivers[0]])) if drivers else (0, 10)
    unknown = sorted(set(declared) - {*drivers, "*"})
    if unknown:
        raise IngestError(f"{path}: a scale is declared for {unknown}, not drivers; the "
                          f"drivers are {', '.join(drivers)}")
    for d, (lo, hi) in declared.items():
        if lo < lo_all or hi > hi_all:
            raise IngestError(f"{path}: the scale {lo}-{hi} declared for {d} is outside "
                              f"{lo_all}-{hi_all}, the ratings the store holds")
    spec = load_params("drivers", params_dir=params_dir)["rating_scale"]
    default = (int(spec["min"]), int(spec["max"]))
    out, found, details = {}, [], {}
    for d in (d for d in drivers if d in typed):
        values = typed[d]
        good = values.drop(index=problems.loc[problems["column"] == d, "pos"]).dropna()
        if d in declared or "*" in declared:
            scale, how = declared.get(d, declared.get("*")), "declared"
        elif good.empty:
            details[d] = "no ratings in this column"
            continue
        else:
            inside = good[(good >= lo_all) & (good <= hi_all)]
            scale = next((s for s in known if inside.between(*s).all()),
                         (lo_all, hi_all)) if len(inside) else default
            how = "detected"
        out[d] = (int(scale[0]), int(scale[1]))
        details[d] = f"scale {scale[0]}-{scale[1]}, {how}"
        outside = good[~good.between(*scale)]
        found.append(pd.DataFrame({"pos": outside.index, "column": d,
                                   "rule": f"outside the scale {scale[0]}-{scale[1]}"}))
    frame = (pd.concat(found, ignore_index=True) if found
             else pd.DataFrame(columns=["pos", "column", "rule"]))
    return out, frame, details


def _code_of(word: str, vocab: _Vocab, column: str, where: str) -> str:
    code = vocab.codes[column].get(normalize(word))
    if code is None:
        raise IngestError(f"{where}: {word!r} is {vocab.spoken.get(column, 'not a code')}")
    return code


def _fill(typed: pd.DataFrame, original: pd.DataFrame, mapping: Mapping[str, str],
          vocab: _Vocab, params: Mapping, params_dir, touchpoint: str | None, path: Path
          ) -> tuple[pd.DataFrame, dict[str, str]]:
    """A responses export's missing columns: the answer id derived from the row, the
    touchpoint and ``open_to_dealer`` from ``defaults`` (or ``--touchpoint``), each absent
    driver all empty. Returns the frame and, per filled column, how."""
    defaults = params.get("defaults") or {}
    how: dict[str, str] = {}
    add: dict[str, pd.Series] = {}
    if "response_id" not in typed:
        add["response_id"] = row_ids(original[list(mapping)])
        how["response_id"] = "derived from the row (the same row gets the same id)"
    if "touchpoint" not in typed:
        if touchpoint is not None:
            code = _code_of(touchpoint, vocab, "touchpoint", f"{path}: --touchpoint")
            how["touchpoint"] = f"{code} for every row (--touchpoint)"
        elif defaults.get("touchpoint"):
            code = _code_of(str(defaults["touchpoint"]), vocab, "touchpoint",
                            "params/columns.yaml defaults.touchpoint")
            how["touchpoint"] = (f"default {code} (params/columns.yaml defaults; "
                                 "or --touchpoint)")
        else:
            raise IngestError(f"{path}: no touchpoint column and no default; name one with "
                              "--touchpoint (e.g. --touchpoint service)", column="touchpoint")
        add["touchpoint"] = pd.Series(code, index=typed.index, dtype="str")
    if "open_to_dealer" not in typed:
        flag = defaults.get("open_to_dealer", False)
        if not isinstance(flag, bool):
            raise ParamsError("params/columns.yaml defaults.open_to_dealer must be true or "
                              f"false, not {flag!r}")
        add["open_to_dealer"] = pd.Series(flag, index=typed.index, dtype="bool")
        how["open_to_dealer"] = (f"default {str(flag).lower()} (params/columns.yaml "
                                 "defaults: " + ("open to the dealer)" if flag else
                                                 "closed to the dealer, the importer handles "
                                                 "it)"))
    absent = [d for d in schemas.for_params(params_dir).drivers if d not in typed]
    for d in absent:  # the stored table keeps every driver column
        add[d] = pd.Series(np.nan, index=typed.index, dtype="float64")
    return typed.assign(**add), how


def row_ids(cells: pd.DataFrame) -> pd.Series:
    """Answer ids derived from export rows: ``r-`` + a hash of the row's cells (stripped)
    + ``-`` + the occurrence of that row in the file, so that re-sending a file gives the
    same ids and two identical rows stay two answers."""
    text = cells.map(lambda v: (cell_text(v) or "").strip())
    joined = pd.Series(["\x1f".join(r) for r in text.itertuples(index=False, name=None)],
                       index=cells.index, dtype="object")
    digest = _map_unique(joined, lambda t: hashlib.sha1(t.encode("utf-8")).hexdigest()[:12])
    occurrence = joined.groupby(joined, sort=False).cumcount() + 1
    return ("r-" + digest + "-" + occurrence.astype(str)).astype("str")


def _derives_dealers(table: str, dealers: pd.DataFrame | None, processed: Path) -> bool:
    """Whether a responses export brings its dealers: when the store has no dealers table,
    or only dealers taken from earlier exports (no dealers export was ever ingested)."""
    if table != "responses":
        return False
    if dealers is None:
        return True
    log = ingest_log(processed) if processed.is_dir() else pd.DataFrame(columns=["table"])
    return not (log["table"] == "dealers").any()


def _dealers_of(typed: pd.DataFrame, original: pd.DataFrame, side: Mapping[str, str],
                dealers: pd.DataFrame | Iterable[str] | None, derive: bool, params: Mapping,
                skip: set[int]) -> tuple[pd.DataFrame, pd.DataFrame | None, str | None]:
    """A responses export's dealer cells as dealer ids: matched to the dealers table (its
    ids, then its names, ignoring case, spaces and punctuation; unmatched cells stay and are
    quarantined as unknown), or, with ``derive`` and no dealers table, the dealers taken from
    the export (its spellings of one dealer made one, named by its name column if any, placed
    by its region and city columns or ``defaults.region``)."""
    cells = typed["dealer_id"]
    if dealers is None and not derive:
        return typed, None, None
    if dealers is not None:
        table = (dealers if isinstance(dealers, pd.DataFrame)
                 else pd.DataFrame({"dealer_id": list(dealers)}))
        exact = set(table["dealer_id"].astype("str"))
        lookups = []
        for column in ("dealer_id", "dealer_name"):
            if column in table:
                keys = table[column].astype("str").map(normalize)
                unique = keys.groupby(keys).transform("size") == 1  # a name two dealers share
                lookups.append(dict(zip(keys[unique], table["dealer_id"].astype("str")[unique])))
        resolved = _map_unique(cells, lambda c: c if c in exact else next(
            (lk[normalize(c)] for lk in lookups if normalize(c) in lk), c))
        moved = int((resolved.notna() & (resolved != cells)).sum())
        text = (f"matched to the dealers table by name or spelling in {moved} rows"
                if moved else None)
        if not derive:
            return typed.assign(dealer_id=resolved.astype("str")), None, text
        # the store's dealers all came from exports: the dealers it does not know yet are
        # taken from this export too (a team sending a month at a time, no dealers file)
        typed = typed.assign(dealer_id=resolved.astype("str"))
        known = set(typed.index[resolved.isin(exact)])
        typed, frame, new = _dealers_of(typed, original, side, None, True, params,
                                        skip | known)
        if frame is not None and frame.empty:
            frame = None
        return typed, frame, "; ".join(t for t in (text, new if frame is not None else None)
                                       if t) or None
    named = {c: h for h, c in side.items()}
    key = cells.map(lambda c: normalize(c) if isinstance(c, str) else None)
    usable = key.notna() & (key != "") & ~typed.index.isin(skip)
    canonical = cells[usable].groupby(key[usable], sort=False).transform("first")
    resolved = cells.where(~usable, canonical)

    def side_values(column: str) -> pd.Series:
        if column not in named:
            return pd.Series(None, index=typed.index, dtype="object")
        return _parse_str(original[named[column]], identifier=False).str.strip()

    region_default = str((params.get("defaults") or {}).get("region") or "Unassigned")
    parts = pd.DataFrame({"dealer_id": resolved[usable],
                          "dealer_name": side_values("dealer_name")[usable],
                          "region": side_values("region")[usable],
                          "city": side_values("city")[usable]})
    frame = (parts.groupby("dealer_id", sort=False)
             .agg(lambda s: s.dropna().value_counts().index[0] if s.notna().any() else None)
             .reset_index())
    frame = frame.assign(
        dealer_name=lambda d: d["dealer_name"].where(d["dealer_name"].notna(), d["dealer_id"]),
        region=lambda d: d["region"].fillna(region_default),
    ).astype({"dealer_id": "str", "dealer_name": "str", "region": "str", "city": "str"})
    where = ("regions from its region column" if "region" in named
             else f"region {region_default!r}, params/columns.yaml defaults.region")
    text = f"{len(frame)} dealers taken from this export; {where}"
    return typed.assign(dealer_id=resolved.astype("str")), frame, text


def _quarantine_frame(original: pd.DataFrame, failures: pd.DataFrame, lines: np.ndarray,
                      path: Path) -> pd.DataFrame:
    per_row = (failures.assign(text=lambda d: d["column"] + ": " + d["message"])
               .groupby("pos", sort=True)
               .agg(bad_columns=("column", lambda s: "; ".join(dict.fromkeys(s))),
                    problem=("text", "; ".join)))
    rows = original.loc[per_row.index]
    meta = pd.DataFrame({"source_file": path.name, "source_line": lines[per_row.index],
                         "bad_columns": per_row["bad_columns"].to_numpy(),
                         "problem": per_row["problem"].to_numpy()}, index=per_row.index)
    return pd.concat([meta, rows.rename(columns=lambda c: c if c not in META else f"{c} (file)")],
                     axis=1).reset_index(drop=True)


# --- the store side --------------------------------------------------------------------------
@dataclass(frozen=True)
class IngestRecord:
    """One export ingested into the store: what was read, what was stored, where the rest is.

    ``dealers``: the commit of the dealers taken from a responses export while the store had
    no dealers table (None otherwise)."""

    result: IngestResult
    appended: store.AppendResult
    quarantine_file: Path | None
    dealers: store.AppendResult | None = None

    def summary(self) -> str:
        a = self.appended
        lines = self.result.summary().splitlines()
        lines.insert(1, f"  stored: {a.added} new, {a.replaced} updated, {a.unchanged} unchanged")
        if self.dealers is not None:
            lines.insert(2, f"  {self.result.dealers_line()}")
        if self.quarantine_file is not None:
            lines.append(f"  quarantine: {self.quarantine_file}")
        return "\n".join(lines)


def _store_dealers(table: str, processed: Path, path: object) -> pd.DataFrame | None:
    """The store's dealers (ids and names) for checking an export of ``table``; None for a
    responses export while there are none (its dealers are taken from it)."""
    if table == "dealers":
        return None
    if store.available("dealers", data_dir=processed):
        have = store.load("dealers", data_dir=processed)
        return have[[c for c in ("dealer_id", "dealer_name") if c in have]]
    if table == "responses":
        return None
    raise IngestError(
        f"{path}: the store {processed} has no dealers yet, so dealer codes cannot be "
        "checked; ingest the dealers export first "
        "(python -m analysis ingest FILE --table dealers), or a responses export, whose "
        "dealers are taken from it")


def ingest_file(
    path: str | os.PathLike,
    *,
    table: str,
    data_root: str | os.PathLike | None = None,
    params: Mapping | None = None,
    sheet: str | None = None,
    now: pd.Timestamp | str | None = None,
    encoding: str | None = None,
    columns: ColumnMap | Mapping | str | os.PathLike | None = None,
    touchpoint: str | None = None,
    scales: Mapping[str, object] | None = None,
    date_format: str | None = None,
) -> IngestRecord:
    """Read an export, write its quarantine, merge its accepted rows into the store, log it.

    ``data_root`` (default ``data/``) gets ``processed/`` (the store that
    ``analysis.store.load(..., data_dir=<root>/processed)`` reads), ``quarantine/`` and the
    ingest log ``processed/_ingest_log.jsonl``. The accepted rows are one commit of the
    table, which records the file and its counts (``python -m analysis store history``); the
    quarantine is written before it, so a killed ingest never stores rows without its rejects.
    A responses export ingested while the store has no dealers table brings its dealers: one
    commit of the dealers table before the answers'. ``columns``, ``touchpoint``, ``scales``
    and ``date_format`` are :func:`read_export`'s.
    """
    root = Path(data_root) if data_root else DATA_ROOT
    processed = root / "processed"
    dealers = _store_dealers(table, processed, path)
    result = read_export(path, table=table, params=params, dealers=dealers, sheet=sheet,
                         now=now, encoding=encoding, columns=columns, touchpoint=touchpoint,
                         scales=scales, date_format=date_format,
                         derive_dealers=_derives_dealers(table, dealers, processed))
    qfile = _write_quarantine(result, root, processed)
    entry = _log_entry(result, qfile, root)
    info = {k: entry[k] for k in ("ingest_id", "file", "path", "sha256", "read", "accepted",
                                  "quarantined", "reasons", "quarantine_file", "scales")
            if k in entry}
    derived = None
    if result.dealers is not None and len(result.dealers):
        # no ingest_id: this commit is not an ingest of its own (the log has the answers')
        derived = store.append("dealers", result.dealers, data_dir=processed, info={
            "file": entry["file"], "path": entry["path"], "sha256": entry["sha256"],
            "derived": "dealers taken from a responses export", "dealers": len(result.dealers)})
    appended = store.append(table, result.accepted, data_dir=processed, info=info)
    record = IngestRecord(result, appended, qfile, derived)
    _log(entry, appended, processed)
    return record


def check_export(
    path: str | os.PathLike,
    *,
    table: str,
    data_root: str | os.PathLike | None = None,
    **options,
) -> IngestResult:
    """What :func:`ingest_file` would do with an export, writing nothing: the rows it would
    accept and quarantine, checked against the store's dealers when ``data_root`` has a store
    (else, for responses, with the dealers taken from the export: ``result.dealers``).
    ``options`` are :func:`read_export`'s."""
    root = Path(data_root) if data_root else DATA_ROOT
    processed = root / "processed"
    dealers = _store_dealers(table, processed, path)  # other tables need the store's dealers
    return read_export(path, table=table, dealers=dealers,
                       derive_dealers=_derives_dealers(table, dealers, processed), **options)


# Excel runs a cell starting with one of these as a formula (OWASP "CSV injection"); tab and
# carriage return count because Excel strips them first
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d[\d\s\u00a0]*([.,]\d+)?")


def _defuse(value: object) -> object:
    """Text that Excel would run as a formula, prefixed with a quote so it shows as text
    (signed numbers such as "-1" stay as they are)."""
    if (isinstance(value, str) and value.startswith(FORMULA_PREFIXES)
            and not _PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return value


def _restore_formula(value: object) -> object:
    """The value :func:`_defuse` was given (for a quarantine file that is ingested back)."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(
            FORMULA_PREFIXES):
        return value[1:]
    return value


def _quarantine_name(source: Path, root: Path, processed: Path) -> Path:
    """Where the quarantine of ``source`` goes: ``quarantine/<file name>.csv`` as long as no
    export of another folder has that name, else ``<file name>-<hash of its path>.csv``; an
    export keeps the name it was given first."""
    folder = root / "quarantine"
    resolved = str(source.resolve())
    log = ingest_log(processed)
    if not log.empty and "quarantine_file" in log:
        named = log.loc[log["quarantine_file"].notna()]
        mine = named.loc[named["path"] == resolved, "quarantine_file"]
        if len(mine):
            return root / mine.iloc[-1]
        taken = {Path(q).name for q in named.loc[named["path"] != resolved, "quarantine_file"]}
    else:
        taken = set()
    plain = folder / f"{source.name}.csv"
    if plain.name not in taken and not plain.exists():
        return plain
    digest = hashlib.sha1(resolved.encode("utf-8")).hexdigest()[:8]
    return folder / f"{source.name}-{digest}.csv"


def _write_quarantine(result: IngestResult, root: Path, processed: Path) -> Path | None:
    """Write the quarantined rows (formulas defused) where :func:`_quarantine_name` says;
    a fixed export removes its own old quarantine file, never another export's."""
    from filelock import FileLock

    folder = root / "quarantine"
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".lock")):  # two ingests must not pick one name
        qfile = _quarantine_name(result.source, root, processed)
        if not len(result.quarantined):
            qfile.unlink(missing_ok=True)
            return None
        frame = result.quarantined.map(_defuse)
        frame.columns = [_defuse(str(c)) for c in frame.columns]
        tmp = qfile.with_name(f".{qfile.name}.tmp")
        frame.to_csv(tmp, sep=";", index=False, encoding="utf-8-sig")
        os.replace(tmp, qfile)
    return qfile


def _log_entry(r: IngestResult, qfile: Path | None, root: Path) -> dict:
    import uuid

    return {
        "ingest_id": uuid.uuid4().hex,
        "ingested_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "file": r.source.name, "path": str(r.source.resolve()),
        "sha256": hashlib.sha256(r.source.read_bytes()).hexdigest(),
        "table": r.table, "read": r.n_read, "accepted": len(r.accepted),
        "quarantined": len(r.quarantined),
        # reasons carry no values: the log holds no personal data
        "reasons": {f"{x.column}: {x.reason}": int(x.rows) for x in r.reasons.itertuples()},
        "ignored_columns": list(r.ignored_columns),
        "quarantine_file": str(qfile.relative_to(root)) if qfile else None,
        # the scale each driver of the export was rated on: rating_scales() reads it
        **({"scales": {d: list(s) for d, s in r.scales.items()}} if r.scales else {}),
    }


def _log(entry: dict, appended: store.AppendResult, processed: Path) -> None:
    """Append the ingest to the log, with the table version it left (one write, so that
    concurrent ingests never interleave their lines)."""
    entry = {**entry, "added": appended.added, "replaced": appended.replaced,
             "unchanged": appended.unchanged, "version": appended.version}
    processed.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(processed / LOG_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


LOG_COLUMNS = ("ingested_at", "file", "path", "table", "read", "accepted", "quarantined",
               "reasons", "quarantine_file")


def ingest_log(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every ingest recorded in ``<data_dir>/_ingest_log.jsonl`` (data_dir as store.load's).

    An ingest whose commit is in its table but whose log line is not (the process was killed
    in between) is taken from the table's history. With a :class:`analysis.store.Snapshot`,
    only the ingests whose table versions the snapshot holds.
    """
    directory = _data_dir(data_dir)
    path = directory / LOG_NAME
    entries = []
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            entries = [json.loads(line) for line in fh if line.strip()]
    entries += _unlogged_commits(directory, entries)
    if not entries:
        return pd.DataFrame(columns=list(LOG_COLUMNS))
    log = pd.DataFrame(entries)
    if isinstance(data_dir, store.Snapshot) and "version" in log:
        log = log.loc[[_in_snapshot(data_dir, t, v) for t, v in
                       zip(log["table"], log["version"])]].reset_index(drop=True)
    return log


def _in_snapshot(snap: store.Snapshot, table: str, version: object) -> bool:
    if version is None or pd.isna(version):  # logged before versions were: always shown
        return True
    if table in snap.versions:
        return int(version) <= snap.versions[table]
    return not store.is_delta_table(snap.directory / table)


def _unlogged_commits(directory: Path, entries: list[dict]) -> list[dict]:
    """Log entries of commits that carry an ingest the log lacks (newest commits only)."""
    recovered = []
    ids = {e.get("ingest_id") for e in entries}
    for table, current in store.versions(directory).items():
        logged = [int(e["version"]) for e in entries if e.get("table") == table
                  and e.get("version") is not None]
        newest = max(logged, default=-1)
        if current <= newest:
            continue
        commits = store.commit_log(directory / table, limit=current - newest)
        for c in commits.itertuples():
            info = c.ingest or {}
            if c.version <= newest or "ingest_id" not in info or info["ingest_id"] in ids:
                continue
            added, replaced, unchanged = store.rows_changed(c.operation, c.metrics)
            recovered.append({**info, "table": table, "version": int(c.version),
                              "ingested_at": c.committed_at.tz_convert("UTC").isoformat(
                                  timespec="seconds"),
                              "added": added, "replaced": replaced, "unchanged": unchanged})
    return recovered


def rating_scales(data_dir: str | os.PathLike | None = None, *,
                  params_dir: str | os.PathLike | None = None) -> dict[str, tuple[int, int]]:
    """The scale each driver was rated on, ``{driver: (low, high)}``: as the latest ingest of
    responses that carried the driver recorded it (its log entry's ``scales``: detected from
    the values or declared), else params/drivers.yaml ``rating_scale``. Ratings are stored and
    reported in the scale they came in."""
    spec = load_params("drivers", params_dir=params_dir)
    default = (int(spec["rating_scale"]["min"]), int(spec["rating_scale"]["max"]))
    out = {d: default for d in spec["drivers"]}
    log = ingest_log(data_dir)
    if "scales" in log:
        for scales in log.loc[log["table"] == "responses", "scales"]:
            if isinstance(scales, dict):
                out.update({d: (int(lo), int(hi)) for d, (lo, hi) in scales.items()})
    return out


def quarantine_reasons(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Tidy quarantine counts of the latest ingest of each file: file, table, reason, rows."""
    latest = _latest(ingest_log(data_dir))
    rows = [(e.file, e.table, reason, n) for e in latest.itertuples()
            for reason, n in (e.reasons or {}).items()]
    return pd.DataFrame(rows, columns=["file", "table", "reason", "rows"])


@pdr.check_types
def quarantine_summary(data_dir: str | os.PathLike | None = None, *, top: int = 3
                       ) -> DataFrame[schemas.QuarantineSummary]:
    """Per file (its latest ingest): read, accepted, quarantined and the top reasons.

    ``data_dir`` is the directory ``store.load`` reads (default as there); an empty frame when
    nothing was ingested there (e.g. the demo network).
    """
    latest = _latest(ingest_log(data_dir))

    def top_reasons(reasons: dict | None) -> str:
        ranked = sorted((reasons or {}).items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        return "; ".join(f"{k} ({v})" for k, v in ranked)

    if latest.empty:
        latest = pd.DataFrame({c: [] for c in (*QUARANTINE_COLUMNS, "reasons")})
    out = latest.assign(top_reasons=lambda d: d["reasons"].map(top_reasons))
    return (out.loc[:, list(QUARANTINE_COLUMNS)].reset_index(drop=True)
            .astype({"file": "str", "table": "str", "ingested_at": "str", "read": "int64",
                     "accepted": "int64", "quarantined": "int64", "top_reasons": "str",
                     "quarantine_file": "str"}))


def _latest(log: pd.DataFrame) -> pd.DataFrame:
    if log.empty:
        return log
    return (log.assign(_order=np.arange(len(log)))
            .drop_duplicates(["path", "table"], keep="last").sort_values("_order")
            .drop(columns="_order"))


# --- the demo network ------------------------------------------------------------------------
def demo_now(tables: Mapping[str, pd.DataFrame]) -> pd.Timestamp:
    """The clock for ingesting the demo: it is dated by params (demo.end_month), not by today,
    and its repair orders run a few weeks past that month, so nothing in it is "future"."""
    latest = [frame[c].max() for frame in tables.values() for c in frame
              if pd.api.types.is_datetime64_any_dtype(frame[c])]
    return max([network_now(), *[t for t in latest if pd.notna(t)]])
