"""The Excel workbook of a report: one sheet per table the book showed.

The sheets hold the book's frames as they are: the same headers and the same text of the one
formatter, numbers left as numbers; missing values are the formatter's dash, as in the HTML.
Phones, e-mails and VINs are masked and text that Excel would run as a formula is defused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from analysis.report import format as F
from analysis.report.book import has_named_index, safe_frame

# Excel treats a cell starting with one of these as a formula: neutralise it (OWASP "CSV
# injection"); tab and carriage return are included because Excel strips them first.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# ... except the formatter's own signed numbers ("+21.6", "-3.0*", "+4.0 (small n)"): Excel
# keeps them as the text they are, and a quote in front would show in the cell
_SIGNED_NUMBER = re.compile(r"[+-]\d+(\.\d+)?\*?( \([\w\s]*\))?")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def neutralise_formula(value):
    """Prefix text that Excel would run as a formula with a quote, so it shows as text."""
    if (isinstance(value, str) and value.startswith(FORMULA_PREFIXES)
            and not _SIGNED_NUMBER.fullmatch(value)):
        return "'" + value
    return value


def _excel_ready(frame: pd.DataFrame) -> pd.DataFrame:
    out = safe_frame(frame).reset_index(drop=not has_named_index(frame))
    for col in out.columns:
        if isinstance(out[col].dtype, pd.PeriodDtype):
            out[col] = out[col].astype(str)
        elif isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_localize(None)
        elif out[col].dtype == object:
            out[col] = out[col].map(neutralise_formula)
        if out[col].isna().any() and not pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].astype(object).where(out[col].notna(), F.MISSING)
    out.columns = [neutralise_formula(str(c)) for c in out.columns]
    return out


def _sheet_name(name: str, taken: set[str]) -> str:
    base = " ".join(_SHEET_BAD.sub(" ", name).split())
    if len(base) > 31:  # Excel's limit; cut at a word so the tab stays readable
        base = base[:32].rsplit(" ", 1)[0] if " " in base[:32] else base[:31]
    base = base or "Sheet"
    candidate, k = base, 2
    while candidate.lower() in taken:
        suffix = f" ({k})"
        candidate, k = base[: 31 - len(suffix)] + suffix, k + 1
    taken.add(candidate.lower())
    return candidate


def write_excel(tables: dict[str, pd.DataFrame], path: str | os.PathLike) -> Path:
    """One sheet per table, bold frozen header, sensible widths; PII masked, formulas defused.

    Parameters
    ----------
    tables
        Sheet title -> frame, in the order the sheets should appear.
    path
        The ``.xlsx`` file to write (its directory is created).
    """
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    header_fill = PatternFill("solid", fgColor="DDE4EE")
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        if not tables:
            pd.DataFrame({"note": ["no tables in this report"]}).to_excel(
                writer, sheet_name="Report", index=False)
        for title, frame in tables.items():
            sheet = _sheet_name(title, taken)
            data = _excel_ready(frame)
            data.to_excel(writer, sheet_name=sheet, index=False)
            ws = writer.sheets[sheet]
            for cell in ws[1]:
                cell.font = Font(bold=True)
                cell.fill = header_fill
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            ws.freeze_panes = "A2"
            for i, col in enumerate(data.columns, start=1):
                longest = max([len(str(col))] + [len(str(v)) for v in data[col].head(200)])
                ws.column_dimensions[get_column_letter(i)].width = min(60, max(8, longest + 2))
            # text written by openpyxl that starts with "=" becomes a formula: force text
            for row in ws.iter_rows(min_row=2):
                for cell in row:
                    if isinstance(cell.value, str) and cell.value.startswith("="):
                        cell.data_type = "s"
    return path
