"""The Excel workbook of a report: one sheet per table the book showed.

The sheets hold the book's frames as they are: the same headers and the same text of the one
formatter, numbers left as numbers; missing values are the formatter's dash, as in the HTML.
Phones, e-mails and VINs are masked and text that Excel would run as a formula is defused.
"""

from __future__ import annotations

import numbers
import os
import re
from pathlib import Path

import pandas as pd

from analysis.report import format as F
from analysis.report.book import flat_columns, has_named_index, safe_frame

# Excel treats a cell starting with one of these as a formula: neutralise it (OWASP "CSV
# injection"); tab and carriage return are included because Excel strips them first.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# ... except the formatter's own signed numbers ("+21.6", "-3.0*", "+4.0 (small n)"): Excel
# keeps them as the text they are, and a quote in front would show in the cell
_SIGNED_NUMBER = re.compile(r"[+-]\d+(\.\d+)?\*?( \([\w\s]*\))?")
# ... and a phone written with its "+" (the team's win-back export): digits and separators
# only, nothing a formula could call
_PHONE_NUMBER = re.compile(r"\+[\d\s().\-]+")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def neutralise_formula(value):
    """Prefix text that Excel would run as a formula with a quote, so it shows as text."""
    if (isinstance(value, str) and value.startswith(FORMULA_PREFIXES)
            and not _SIGNED_NUMBER.fullmatch(value) and not _PHONE_NUMBER.fullmatch(value)):
        return "'" + value
    return value


def _excel_ready(frame: pd.DataFrame, *, mask: bool = True) -> pd.DataFrame:
    shown = safe_frame(frame) if mask else flat_columns(frame.copy())
    out = shown.reset_index(drop=not has_named_index(frame))
    for col in out.columns:
        if isinstance(out[col].dtype, pd.PeriodDtype):
            out[col] = out[col].astype(str)
        elif isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_localize(None)
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].astype(object).map(neutralise_formula)
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


def _number_format(column: str, values: pd.Series) -> str | None:
    """An Excel number format from a column's values: shares as percentages, counts and
    money as integers with grouped digits, other numbers with one decimal."""
    present = values.loc[values.map(lambda v: not (isinstance(v, str) and v == F.MISSING))]
    if pd.api.types.is_bool_dtype(values) or not len(present) or not all(
            isinstance(v, numbers.Number) and not isinstance(v, bool) for v in present):
        return None
    finite = pd.to_numeric(present, errors="coerce").dropna()
    if pd.api.types.is_integer_dtype(values) or (len(finite) and (finite % 1 == 0).all()):
        return "#,##0"  # Excel groups the digits as the reader's locale does
    if len(finite) and finite.between(0, 1).all() and ("%" in column or "share" in column.lower()
                                                        or "доля" in column.lower()):
        return "0%"
    return "0.0"


def _width(column: str, values: pd.Series) -> float:
    """A column's width from its content: the longest of header and first 500 values."""
    lengths = [len(str(column))] + [max((len(part) for part in str(v).splitlines()), default=0)
                                    for v in values.head(500)]
    return float(min(70, max(6, max(lengths) + 2)))


_NPS_HEADERS = ("nps",)
_COMPLIANCE_HEADERS = ("compliance", "соблюд", "within sla", "в срок")


def write_excel(tables: dict[str, pd.DataFrame], path: str | os.PathLike, *,
                charts: dict | None = None, language: str | None = None,
                mask_personal_data: bool = True) -> Path:
    """One sheet per table, written with xlsxwriter, and a first sheet listing the others.

    Flat headers, bold and frozen, an autofilter, widths from content, number formats, a
    colour scale on NPS and compliance columns, and a native line chart of the NPS trend
    (``charts["nps_trend"]``: a frame with ``month``, ``nps``, ``nps_low``, ``nps_high``).
    PII is masked in cells, index and column labels; text Excel would run as a formula is
    defused. ``mask_personal_data=False`` leaves phones, e-mails and VINs as they are: only
    for the customer-care team's own export (:mod:`analysis.report.winback`), never a report.
    """
    from analysis.report import labels as L

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    taken: set[str] = {"contents"}
    contents_name = L.text("excel", "contents", language=language)[:31]
    taken.add(contents_name.lower())
    sheets: list[tuple[str, str, int]] = []
    with pd.ExcelWriter(path, engine="xlsxwriter",
                        engine_kwargs={"options": {"strings_to_formulas": False,
                                                   "strings_to_urls": False}}) as writer:
        book = writer.book
        header = book.add_format({"bold": True, "bg_color": "#DDE4EE", "text_wrap": True,
                                  "valign": "top", "border": 1})
        wrap = book.add_format({"text_wrap": True, "valign": "top"})
        formats = {code: book.add_format({"num_format": code, "valign": "top"})
                   for code in ("#,##0", "0.0", "0%")}
        pd.DataFrame().to_excel(writer, sheet_name=contents_name, index=False)
        for title, frame in (tables or {"Report": pd.DataFrame(
                {"note": ["no tables in this report"]})}).items():
            sheet = _sheet_name(title, taken)
            data = _excel_ready(frame, mask=mask_personal_data)
            data.to_excel(writer, sheet_name=sheet, index=False, startrow=1, header=False)
            ws = writer.sheets[sheet]
            for i, col in enumerate(data.columns):
                ws.write_string(0, i, str(col), header)
                code = _number_format(str(col), data[col])
                long_text = data[col].dtype == object and data[col].astype(str).str.len().max() > 40
                ws.set_column(i, i, _width(str(col), data[col]),
                              formats.get(code) if code else (wrap if long_text else None))
                low = str(col).lower()
                if code and len(data):
                    if low in _NPS_HEADERS or low.startswith("nps"):
                        ws.conditional_format(1, i, len(data), i, {
                            "type": "3_color_scale", "min_color": "#F8696B",
                            "mid_type": "num", "mid_value": 0, "mid_color": "#FFFFFF",
                            "max_color": "#63BE7B"})
                    elif any(h in low for h in _COMPLIANCE_HEADERS):
                        ws.conditional_format(1, i, len(data), i, {
                            "type": "2_color_scale", "min_color": "#F8696B",
                            "max_color": "#63BE7B"})
            ws.freeze_panes(1, 0)
            if len(data.columns):
                ws.autofilter(0, 0, max(len(data), 1), len(data.columns) - 1)
            sheets.append((sheet, title, len(data)))
        trend = (charts or {}).get("nps_trend")
        if trend is not None and len(trend):
            sheet = _sheet_name(L.text("excel", "trend_sheet", language=language), taken)
            trend.to_excel(writer, sheet_name=sheet, index=False)
            ws = writer.sheets[sheet]
            ws.set_column(0, len(trend.columns) - 1, 12, formats["0.0"])
            chart = book.add_chart({"type": "line"})
            n = len(trend)
            for k in range(1, len(trend.columns)):
                chart.add_series({"name": [sheet, 0, k], "categories": [sheet, 1, 0, n, 0],
                                  "values": [sheet, 1, k, n, k],
                                  "marker": {"type": "circle"} if k == 1 else {"type": "none"},
                                  "line": {"width": 2.25 if k == 1 else 0.75,
                                           "dash_type": "solid" if k == 1 else "dash"}})
            chart.set_title({"name": L.text("excel", "trend_title", language=language)})
            chart.set_y_axis({"name": "NPS"})
            chart.set_size({"width": 720, "height": 360})
            ws.insert_chart(1, len(trend.columns) + 1, chart)
            sheets.append((sheet, L.text("excel", "trend_title", language=language), n))
        ws = writer.sheets[contents_name]
        ws.write_string(0, 0, L.text("excel", "sheet", language=language), header)
        ws.write_string(0, 1, L.text("excel", "table", language=language), header)
        ws.write_string(0, 2, L.text("excel", "rows", language=language), header)
        for row, (sheet, title, n) in enumerate(sheets, start=1):
            ws.write_url(row, 0, f"internal:'{sheet}'!A1", string=sheet)
            ws.write_string(row, 1, str(neutralise_formula(title)))
            ws.write_number(row, 2, n)
        ws.set_column(0, 0, max([len(s) for s, _, _ in sheets] + [10]) + 2)
        ws.set_column(1, 1, min(80, max([len(t) for _, t, _ in sheets] + [10]) + 2))
        ws.freeze_panes(1, 0)
    return path
