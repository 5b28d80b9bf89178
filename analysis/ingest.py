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
- .xlsx: every cell the sheet holds, read by calamine (the sheet's ``<dimension>`` tag, which
  some exporters never update, is not trusted) and checked against the sheet's XML: a row with
  values beyond those read raises :class:`IngestError`; a formula cell without a value saved by
  Excel is quarantined with that reason (:data:`FORMULA_RULE`), the formula in the quarantine.
- The header row is the row among the first ``header_scan_rows`` (params/columns.yaml) that
  names the most columns, so title rows above it are skipped. Names are matched through the
  aliases of params/columns.yaml, ignoring case, spacing and punctuation.
- Line numbers are those a person sees: the line in a text editor where the row starts, the
  Excel row number, or the row number (from 1) of a Parquet file.
- Blank rows (every cell empty or spaces) are skipped and not counted as read rows; so are rows
  above the header row.
- Columns that the table does not know are dropped from the accepted rows (listed in
  ``ignored_columns`` and kept in the quarantine file with the rest of the original row).
  A missing required column raises :class:`IngestError` naming the accepted aliases; a missing
  optional column (e.g. ``comment``, the CSS attributes) is allowed.
- Values: scores and counts "9", "9,0", "9.0", "девять"/"nine" read as 9; "9,5" is not a whole
  number; dates as 31.10.2026, 31.10.2026 14:05, 2026-10-31, 2026-10-31T14:05:00 (and ISO 8601
  with a time zone, converted to the network's zone); yes/no as да/нет, yes/no, 1/0, true/false;
  codes (touchpoint, channel, ...) through their aliases. Identifiers are stripped of spaces;
  free text is kept exactly as written. Timestamps after ``now`` are in the future.
- Duplicates: the first row with a key (``analysis.tables.KEYS``) is kept; later rows with the
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
import pandera.pandas as pa
from pandera.typing import DataFrame

from analysis import schemas, store
from analysis.config import DATA_ROOT, ParamsError, load_params, params_or
from analysis.config import data_dir as _data_dir
from analysis.errors import DataError
from analysis.tables import KEYS, TABLES

DELIMITERS = (";", "\t", ",")
META = ("source_file", "source_line", "bad_columns", "problem")
LOG_NAME = "_ingest_log.jsonl"
LATEST = pd.Timestamp("2200-01-01")  # beyond any real date; keeps nanosecond timestamps valid
QUARANTINE_COLUMNS = ("file", "table", "ingested_at", "read", "accepted", "quarantined",
                      "top_reasons", "quarantine_file")


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

    def summary(self) -> str:
        """A few lines for people: counts, reasons, ignored columns."""
        fmt = f", {self.encoding}" if self.encoding else ""
        if self.delimiter:
            fmt += ", tab" if self.delimiter == "\t" else f", '{self.delimiter}'"
        lines = [f"{self.source.name} ({self.table}{fmt}): read {self.n_read}, accepted "
                 f"{len(self.accepted)}, quarantined {len(self.quarantined)}"]
        for row in self.reasons.itertuples():
            lines.append(f"  {row.rows:>7}  {row.column}: {row.reason}")
        if self.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(self.ignored_columns)}")
        missing = [c for c in self.missing_optional if c not in schemas.CSS_ATTRIBUTES]
        if len(missing) < len(self.missing_optional) < len(schemas.CSS_ATTRIBUTES) + len(missing):
            missing.append("some CSS attributes")
        if missing:
            lines.append(f"  not in this export (left empty): {', '.join(missing)}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


# --- headers ---------------------------------------------------------------------------------
_PUNCT = re.compile(r"[\s_\-.,:;/\\()\[\]{}«»\"'`№#*]+")


def normalize(name: object) -> str:
    """A header or code as matched: lower case, "ё" as "е", punctuation and spaces as one space."""
    text = str(name).replace("\ufeff", "").lower().replace("ё", "е")
    return _PUNCT.sub(" ", text).strip()


def aliases(table: str, params: Mapping | None = None, *,
            params_dir: str | os.PathLike | None = None) -> dict[str, list[str]]:
    """Accepted header names per column of ``table`` (the column's own name first).

    ``params`` is params/columns.yaml (read from ``params_dir`` when omitted); the driver and
    CSS labels and the table's columns come from ``params_dir`` (default ``params/``).
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
    out = {}
    for col in schemas.columns(table, params_dir=params_dir):
        names = [col, *(listed.get(col) or []), *labels.get(col, [])]
        out[col] = list(dict.fromkeys(str(n) for n in names if str(n).strip()))
    unknown = sorted(set(listed) - set(out))
    if unknown:
        raise ParamsError(f"params/columns.yaml, tables.{table}: unknown column(s) {unknown}; "
                          f"the table's columns are {list(out)}")
    return out


def _alias_index(table: str, params: Mapping, params_dir=None) -> dict[str, str]:
    index: dict[str, str] = {}
    for col, names in aliases(table, params, params_dir=params_dir).items():
        for name in names:
            key = normalize(name)
            if index.get(key, col) != col:
                raise ParamsError(f"params/columns.yaml, tables.{table}: alias {name!r} names "
                                  f"both {index[key]!r} and {col!r}; keep it under one column")
            index[key] = col
    return index


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
    # .xlsx: formula cells without a value saved by Excel, row position -> {column: formula}
    formulas: dict[int, dict[int, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the reader had to decide


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


def _header_score(cells: Sequence[object], index: Mapping[str, str]) -> int:
    return len({index[n] for n in (normalize(c) for c in cells if cell_text(c)) if n in index})


def _find_header(records: Sequence[tuple[int, Sequence[object]]], index: Mapping[str, str],
                 scan: int) -> tuple[int, int]:
    """(position in ``records``, score) of the row naming the most columns (first of ties)."""
    best, best_score, seen = -1, 0, 0
    for pos, (_, cells) in enumerate(records):
        if _blank(cells):
            continue
        seen += 1
        if seen > scan:
            break
        score = _header_score(cells, index)
        if score > best_score:
            best, best_score = pos, score
    return best, best_score


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
    return out


def _read_text(path: Path, data: bytes, index: Mapping[str, str], scan: int,
               encoding: str | None) -> _Raw:
    text, used, notes = _decode(data, path, encoding)
    if "\x00" in text:
        raise IngestError(f"{path}: not a text file (it holds NUL bytes) nor .xlsx or Parquet; "
                          "save the export as CSV or .xlsx")
    best: tuple[int, int, str] | None = None   # (score, header position, delimiter)
    for delim in DELIMITERS:
        head = _csv_records(text, delim, strict=False, path=path, limit=4 * scan + 20)
        pos, score = _find_header(head, index, scan)
        if score and (best is None or score > best[0]):
            best = (score, pos, delim)
    if best is None:
        _no_header(path, index)
    _, pos, delim = best
    records = _csv_records(text, delim, strict=True, path=path)
    header_line, header_cells = records[pos]
    headers = _unique_headers(header_cells)
    raw = _Raw(headers, [], [], header_line, used, delim, notes=notes)
    width = len(headers)
    for line, cells in records[pos + 1:]:
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


def _read_xlsx(path: Path, index: Mapping[str, str], scan: int, sheet: str | None) -> _Raw:
    """Every row of a sheet, read by calamine from the cells themselves (the ``<dimension>``
    tag that some exporters never update is not trusted), then checked against the sheet's
    XML: rows holding values beyond what was read, and formulas without a saved value."""
    from python_calamine import CalamineWorkbook

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
    extent, formulas = _sheet_scan(path, name)
    read_to = max((n for n, row in records if not _blank(row)), default=0)
    if extent > read_to:
        raise IngestError(
            f"{path} (sheet {name!r}): row {extent} holds values but only rows up to {read_to} "
            "could be read; open the workbook in Excel and save it again, or save it as CSV")
    pos, score = _find_header(records, index, scan)
    if not score:
        _no_header(path, index, sheet=name)
    header_line, header_cells = records[pos]
    while header_cells and cell_text(header_cells[-1]) is None:
        header_cells = header_cells[:-1]
    # cells right of the header's last name are a column without a name: kept, then ignored
    used = max((max((i + 1 for i, v in enumerate(cells) if cell_text(v) is not None),
                    default=0) for _, cells in records[pos + 1:]), default=0)
    used = max([used, *(c + 1 for (r, c) in formulas if r > header_line)])
    header_cells = list(header_cells) + [None] * max(0, used - len(header_cells))
    headers = _unique_headers(header_cells)
    width = len(headers)
    raw = _Raw(headers, [], [], header_line)
    for line, cells in records[pos + 1:]:
        cells = list(cells[:width]) + [None] * (width - len(cells))
        own = {c: f for (r, c), f in formulas.items() if r == line and c < width}
        if _blank(cells) and not own:
            continue
        if own:
            raw.formulas[len(raw.rows)] = own
        raw.rows.append(cells)
        raw.lines.append(line)
    return raw


_XML_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_XML_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
_XML_FORMULA = re.compile(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?f>)", re.S)
_XML_VALUE = re.compile(rb"<(?:\w+:)?(?:v|is)\b[^>]*?>(.+?)</(?:\w+:)?(?:v|is)>", re.S)


def _sheet_scan(path: Path, sheet: str) -> tuple[int, dict[tuple[int, int], str]]:
    """The last row of a sheet that holds a value (as its XML says, whatever its
    ``<dimension>``), and its formula cells without a saved value: (row, column from 0) ->
    the formula. Cells without a reference (rare writers) are not checked."""
    import html
    import xml.etree.ElementTree as ET
    import zipfile

    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    try:
        with zipfile.ZipFile(path) as z:
            book = ET.fromstring(z.read("xl/workbook.xml"))
            rid = next(s.get(f"{rel}id") for s in book.iter(f"{main}sheet")
                       if s.get("name") == sheet)
            rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
            target = next(r.get("Target") for r in rels if r.get("Id") == rid)
            member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            data = z.read(member)
    except (KeyError, StopIteration, ET.ParseError, zipfile.BadZipFile, OSError):
        return 0, {}  # a layout this scan does not know: calamine's reading stands
    last, formulas = 0, {}
    for attrs, body in _XML_CELL.findall(data):
        ref = _XML_REF.search(attrs)
        if ref is None:
            continue
        row = int(ref.group(2))
        has_value = bool(body) and _XML_VALUE.search(body) is not None
        if has_value:
            last = max(last, row)
        formula = _XML_FORMULA.search(body) if body else None
        cached_text = b't="str"' in attrs and re.search(rb"<(?:\w+:)?v\b", body or b"")
        if formula is not None and not has_value and not cached_text:
            col = 0
            for ch in ref.group(1).decode():
                col = col * 26 + ord(ch) - 64
            text = html.unescape((formula.group(1) or b"").decode("utf-8", "replace"))
            formulas[(row, col - 1)] = "=" + text if text else "=(shared formula)"
    return last, formulas


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


def _no_header(path: Path, index: Mapping[str, str], sheet: str | None = None):
    where = f" (sheet {sheet!r})" if sheet else ""
    columns = sorted(set(index.values()))
    raise IngestError(
        f"{path}{where}: no header row found: none of the first rows names a column of this "
        f"table ({', '.join(columns)}). Check --table, or the encoding if the headers look "
        "garbled (--encoding), or add the export's names to params/columns.yaml")


def _read_raw(path: Path, index: Mapping[str, str], scan: int, *, sheet: str | None,
              encoding: str | None) -> _Raw:
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if path.is_dir():
        raise IngestError(f"{path}: is a directory; name the export files")
    with path.open("rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"PAR1"):
        return _read_parquet(path)
    if magic.startswith(b"PK\x03\x04"):
        return _read_xlsx(path, index, scan, sheet)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise IngestError(f"{path}: an old Excel .xls workbook (or a password-protected one); "
                          "open it in Excel and save it as .xlsx or CSV without a password "
                          "(accepted: .csv/.txt/.tsv text, .xlsx, .parquet)")
    return _read_text(path, path.read_bytes(), index, scan, encoding)


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


def _fits(text: str, fmt: str) -> bool:
    try:
        datetime.datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


def _parse_datetime(raw: pd.Series, formats: Sequence[str], tz: str, earliest: pd.Timestamp
                    ) -> tuple[pd.Series, pd.Series]:
    """Timestamps (naive, in the network's zone, ns) and the cells that are not plausible ones."""
    errors = pd.Series(None, index=raw.index, dtype="object")
    chunks = []
    if pd.api.types.is_datetime64_any_dtype(raw):
        values = raw
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert(tz).dt.tz_localize(None)
        chunks.append(values.dropna())
    else:
        texts = _texts(raw).str.strip()
        todo = texts.notna()
        first = texts.dropna().head(1).tolist()
        # an export writes its dates one way: the format of its first date is tried first
        formats = sorted(formats, key=lambda f: not first or not _fits(first[0], f))
        for fmt in formats:
            if not todo.any():
                break
            parsed = pd.to_datetime(texts[todo], format=fmt, errors="coerce").dropna()
            chunks.append(parsed)
            todo[parsed.index] = False
        if todo.any():  # ISO 8601 with fractions of a second or a time zone
            rest = texts[todo]
            zoned = rest.str.contains(_TZ_SUFFIX)
            naive = pd.to_datetime(rest[~zoned], format="ISO8601", errors="coerce").dropna()
            aware = pd.to_datetime(rest[zoned], format="ISO8601", errors="coerce", utc=True)
            aware = aware.dropna().dt.tz_convert(tz).dt.tz_localize(None)
            chunks += [naive, aware]
            todo[naive.index] = False
            todo[aware.index] = False
        errors[todo] = "not a date"
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    for parsed in chunks:
        odd = (parsed < earliest) | (parsed > LATEST)
        errors[odd.index[odd]] = (f"implausible date (before {earliest:%d.%m.%Y} or after "
                                  f"{LATEST:%Y})")
        good = parsed[~odd]
        out[good.index] = good.astype("datetime64[ns]")
    return out, errors


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
        dates, _ = _parse_datetime(texts[todo], date_formats, tz, earliest)
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


def _vocab(params: Mapping, params_dir=None) -> _Vocab:
    booleans = {normalize(w): flag == "true" for flag, words in params["booleans"].items()
                for w in words}
    codes = {}
    for column, allowed in schemas.for_params(params_dir).allowed.items():
        table = {normalize(a): a for a in allowed}
        table |= {normalize(k): v for k, v in (params.get("values", {}).get(column) or {}).items()}
        codes[column] = table
    return _Vocab({normalize(k): int(v) for k, v in params["number_words"].items()}, booleans,
                  codes, tuple(params["date_formats"]), tuple(params["month_formats"]),
                  load_params("network", params_dir=params_dir)["timezone"],
                  pd.Timestamp(params["earliest_date"]))


def _parse(raw: pd.DataFrame, table: str, vocab: _Vocab, params_dir=None
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed columns of ``table`` and the cells that could not be read (pos, column, rule)."""
    typed, problems = {}, []
    spec = schemas.columns(table, params_dir=params_dir)
    for col in raw.columns:
        kind = schemas.kind_of(table, col, params_dir=params_dir)
        errors = None
        if kind in ("int", "float"):
            values, errors = _parse_number(raw[col], vocab.words)
        elif kind == "datetime":
            values, errors = _parse_datetime(raw[col], vocab.date_formats, vocab.tz,
                                             vocab.earliest)
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
    return frame, problems


def _placeholder(column: pa.Column) -> int:
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


def _range_text(column: pa.Column) -> str:
    lo = hi = None
    for check in column.checks:
        stats = check.statistics or {}
        lo = stats.get("min_value", lo)
        hi = stats.get("max_value", hi)
    if lo is not None and hi is not None:
        return f"out of range {lo}-{hi}"
    return f"below {lo}" if lo is not None else f"above {hi}"


def _rule(check: str, column: pa.Column | None) -> str:
    if check == "not_nullable":
        return "missing value"
    if check.startswith(("greater_than", "less_than", "in_range")) and column is not None:
        return _range_text(column)
    if check.startswith("isin("):
        allowed = next(c.statistics["allowed_values"] for c in column.checks
                       if "allowed_values" in (c.statistics or {}))
        return f"not one of {', '.join(map(str, allowed))}"
    if check.startswith("str_matches("):
        return "not a month YYYY-MM"
    return check


def _schema_failures(typed: pd.DataFrame, schema: pa.DataFrameSchema, flagged: set,
                     bad_rows: set[int], path: Path) -> pd.DataFrame:
    try:
        schema.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    else:
        return pd.DataFrame(columns=["pos", "column", "rule"])
    if cases["index"].isna().any():  # the parser must hand the schema the right dtypes
        raise RuntimeError(f"{path}: internal error, schema-level failure:\n"
                           f"{cases[cases['index'].isna()].to_string()}")
    cases = cases.assign(pos=cases["index"].astype("int64"))
    row_level = cases["schema_context"] == "DataFrameSchema"
    cols = cases.loc[~row_level].assign(
        rule=lambda d: [_rule(c, schema.columns.get(col)) for c, col in
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
) -> IngestResult:
    """Read one export of ``table`` into accepted rows and quarantined rows.

    Parameters
    ----------
    path
        A .csv/.txt/.tsv text file, an .xlsx workbook or a Parquet file.
    table
        One of ``analysis.tables.TABLES``.
    params
        The contents of params/columns.yaml (loaded from ``params_dir`` when omitted).
    dealers
        The dealers table (or its ids): rows naming another dealer are quarantined. None: not
        checked (``ingest_file`` always passes the store's dealers).
    sheet
        The workbook sheet to read; default the first.
    now
        Timestamps after it are in the future; default :func:`network_now`.
    encoding
        The text encoding, when detection is not wanted.
    params_dir
        The params the table's schema, codes, labels and time zone come from (default
        ``params/``): a different NPS scale or driver list there changes what is accepted.

    Raises
    ------
    IngestError
        The file cannot be read at all: not found, unknown format, no header row, a required
        column missing (the message lists the accepted names), ambiguous columns.
    """
    if table not in TABLES:
        raise IngestError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
    params = params_or("columns", params, params_dir=params_dir)
    path = Path(path)
    index = _alias_index(table, params, params_dir)
    raw = _read_raw(path, index, int(params.get("header_scan_rows", 30)), sheet=sheet,
                    encoding=encoding)
    original = raw.frame
    if original is None:
        original = pd.DataFrame(raw.rows, columns=raw.headers, dtype="object")
    if set(META) <= set(raw.headers):  # a quarantine file sent back: undo its defusing
        original = original.map(_restore_formula)
    mapping = _map_headers(raw.headers, table, index, path, params, params_dir)
    lines = np.asarray(raw.lines, dtype="int64")
    frame = original[list(mapping)].rename(columns=mapping).reset_index(drop=True)
    original = original.reset_index(drop=True)
    vocab = _vocab(params, params_dir)
    typed, problems = _parse(frame, table, vocab, params_dir)
    if raw.formulas:  # the quarantine shows the formula; its missing value is not the point
        problems = _formula_problems(raw, original, mapping, problems)
    now = network_now(params_dir=params_dir) if now is None else pd.Timestamp(now)
    schema = schemas.schema_for(table, dealers=dealers, now=now, unique=False,
                                params_dir=params_dir)
    bad_rows = set(raw.malformed) | set(problems["pos"])
    flagged = set(zip(problems["pos"], problems["column"]))
    failures = pd.concat([
        problems,
        _schema_failures(typed, schema, flagged, bad_rows, path),
    ], ignore_index=True)
    failures = failures.assign(message=lambda d: [
        _message(rule, original.at[p, _source_of(mapping, c)] if c in typed else None)
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
    columns = schemas.columns(table, params_dir=params_dir)
    # rows without a failure passed the schema above (uniqueness: the duplicates are out)
    accepted = (typed.drop(index=bad).reset_index(drop=True)
                .pipe(lambda d: d[[c for c in columns if c in d]]))
    quarantined = _quarantine_frame(original, failures, lines, path)
    reasons = (failures.groupby(["column", "rule"], sort=False)["pos"].nunique()
               .rename("rows").reset_index().rename(columns={"rule": "reason"})
               .sort_values("rows", ascending=False, kind="stable").reset_index(drop=True))
    missing = tuple(c for c in columns if c not in typed)
    return IngestResult(
        table=table, source=path, accepted=accepted, quarantined=quarantined,
        n_read=len(original), reasons=reasons, columns=mapping,
        ignored_columns=tuple(h for h in raw.headers if h not in mapping),
        missing_optional=missing, header_line=raw.header_line, encoding=raw.encoding,
        delimiter=raw.delimiter, notes=tuple(raw.notes))


FORMULA_RULE = "formula without a saved value (open and save the file in Excel)"


def _formula_problems(raw: _Raw, original: pd.DataFrame, mapping: Mapping[str, str],
                      problems: pd.DataFrame) -> pd.DataFrame:
    """Formula cells without a value in read columns: quarantined with that reason instead
    of whatever their empty value would fail (the formula text goes to the quarantine)."""
    found = []
    for pos, cells in raw.formulas.items():
        for col, formula in cells.items():
            header = raw.headers[col]
            original.iat[pos, col] = formula
            if header in mapping:
                found.append((pos, mapping[header], FORMULA_RULE))
    formula = pd.DataFrame(found, columns=["pos", "column", "rule"])
    cells = set(zip(formula["pos"], formula["column"]))
    keep = [(p, c) not in cells for p, c in zip(problems["pos"], problems["column"])]
    return pd.concat([problems.loc[keep], formula], ignore_index=True)


def _source_of(mapping: Mapping[str, str], column: str) -> str:
    return next(src for src, col in mapping.items() if col == column)


def _message(rule: str, value: object) -> str:
    text = cell_text(value)
    return rule if text is None else f"{rule} ({text.strip()!r})"


def _map_headers(headers: Sequence[str], table: str, index: Mapping[str, str], path: Path,
                 params: Mapping, params_dir=None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for header in headers:
        col = index.get(normalize(header))
        if col is None:
            continue
        other = next((h for h, c in mapping.items() if c == col), None)
        if other is not None:
            raise IngestError(f"{path}: columns {other!r} and {header!r} both mean {col!r}; "
                              "delete or rename one of them")
        mapping[header] = col
    required = schemas.required_columns(table, params_dir=params_dir)
    missing = [c for c in required if c not in mapping.values()]
    if missing:
        names = aliases(table, params, params_dir=params_dir)
        listing = "; ".join(f"{c}: {', '.join(names[c])}" for c in missing)
        raise IngestError(
            f"{path}: required column(s) missing for table {table!r}: {', '.join(missing)}. "
            f"Accepted names - {listing}. The file's columns: {', '.join(headers)}",
            table=table, column=missing[0] if len(missing) == 1 else tuple(missing),
            fix="rename the column in the export or add its name to params/columns.yaml")
    return mapping


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
    """One export ingested into the store: what was read, what was stored, where the rest is."""

    result: IngestResult
    appended: store.AppendResult
    quarantine_file: Path | None

    def summary(self) -> str:
        a = self.appended
        lines = self.result.summary().splitlines()
        lines.insert(1, f"  stored: {a.added} new, {a.replaced} updated, {a.unchanged} unchanged")
        if self.quarantine_file is not None:
            lines.append(f"  quarantine: {self.quarantine_file}")
        return "\n".join(lines)


def ingest_file(
    path: str | os.PathLike,
    *,
    table: str,
    data_root: str | os.PathLike | None = None,
    params: Mapping | None = None,
    sheet: str | None = None,
    now: pd.Timestamp | str | None = None,
    encoding: str | None = None,
) -> IngestRecord:
    """Read an export, write its quarantine, merge its accepted rows into the store, log it.

    ``data_root`` (default ``data/``) gets ``processed/`` (the store that
    ``analysis.store.load(..., data_dir=<root>/processed)`` reads), ``quarantine/`` and the
    ingest log ``processed/_ingest_log.jsonl``. The accepted rows are one commit of the
    table, which records the file and its counts (``python -m analysis store history``); the
    quarantine is written before it, so a killed ingest never stores rows without its rejects.
    """
    root = Path(data_root) if data_root else DATA_ROOT
    processed = root / "processed"
    dealers = None
    if table != "dealers":
        if not store.available("dealers", data_dir=processed):
            raise IngestError(
                f"{path}: the store {processed} has no dealers yet, so dealer codes cannot be "
                "checked; ingest the dealers export first "
                "(python -m analysis ingest FILE --table dealers)")
        dealers = store.load("dealers", data_dir=processed, columns=["dealer_id"])
    result = read_export(path, table=table, params=params, dealers=dealers, sheet=sheet,
                         now=now, encoding=encoding)
    qfile = _write_quarantine(result, root, processed)
    entry = _log_entry(result, qfile, root)
    info = {k: entry[k] for k in ("ingest_id", "file", "path", "sha256", "read", "accepted",
                                  "quarantined", "reasons", "quarantine_file")}
    appended = store.append(table, result.accepted, data_dir=processed, info=info)
    record = IngestRecord(result, appended, qfile)
    _log(entry, appended, processed)
    return record


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
    return not store._is_delta(snap.directory / table)


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
        commits = store._commits(directory / table, limit=current - newest)
        for c in commits.itertuples():
            info = c.ingest or {}
            if c.version <= newest or "ingest_id" not in info or info["ingest_id"] in ids:
                continue
            added, replaced, unchanged = store._rows_changed(c.operation, c.metrics)
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


@pa.check_types
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


def ingest_demo(
    demo: str | os.PathLike | object,
    *,
    data_root: str | os.PathLike | None = None,
    via_exports: bool = False,
    now: pd.Timestamp | str | None = None,
) -> list[IngestRecord]:
    """Ingest every table of a demo network, dealers first.

    ``via_exports`` first writes the tables as messy exports
    (:func:`analysis.demo_exports.write_demo_exports`) under ``<data_root>/raw/demo-exports/``
    and ingests those, as a user would.
    """
    # imported here: the demo's exports are written with this module's header aliases
    from analysis.demo_exports import demo_tables, write_demo_exports

    tables = demo_tables(demo)
    now = demo_now(tables) if now is None else pd.Timestamp(now)
    root = Path(data_root) if data_root else DATA_ROOT
    if via_exports:
        files = write_demo_exports(tables, root / "raw" / "demo-exports")
    elif isinstance(demo, str | os.PathLike):
        files = {t: [Path(demo) / f"{t}.parquet"] for t in TABLES}
    else:
        staging = root / "raw" / "demo"
        staging.mkdir(parents=True, exist_ok=True)
        files = {}
        for t in TABLES:
            tables[t].to_parquet(staging / f"{t}.parquet", index=False)
            files[t] = [staging / f"{t}.parquet"]
    return [ingest_file(path, table=t, data_root=root, now=now)
            for t in TABLES for path in files[t]]
