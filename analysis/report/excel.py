"""The Excel workbook of a report: one sheet per table the book showed.

The sheets hold the book's frames with the same headers; every number is a number, stored as
the page shows it (:func:`analysis.report.kinds.stored`) under the number format that writes
it the same way: signs, decimals, percentages, grouped thousands, the network's currency. An
interval is two columns (its low and high ends) and a mark such as "small n" a note column of
its own (:mod:`analysis.report.kinds`: the table says what each column holds). Dates are date
cells; missing values are the formatter's dash, as in the HTML. Colour scales sit on NPS and
rate columns only. Phones, e-mails and VINs are masked and text that Excel would run as a
formula is defused.
"""

from __future__ import annotations

import numbers
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.report import format as F
from analysis.report import kinds as K
from analysis.report.safe import flat_columns, has_named_index, safe_frame

__all__ = ["FORMULA_PREFIXES", "currency_affixes", "neutralise_formula", "write_excel"]

# Excel treats a cell starting with one of these as a formula: neutralise it (OWASP "CSV
# injection"); tab and carriage return are included because Excel strips them first.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# ... except a signed number written as text by a frame built outside the report's tables
# ("+21.6", "-3,0*", "+4.0 (small n)"): Excel keeps it as the text it is, and a quote in
# front would show in the cell
_SIGNED_NUMBER = re.compile(r"[+-]\d{1,3}(?:[\s\u00a0\u202f,]?\d{3})*([.,]\d+)?\s*%?\*?"
                            r"( \([\w\s]*\))?")
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


def _excel_ready(frame: pd.DataFrame, *, mask: bool = True,
                 language: str | None = None) -> pd.DataFrame:
    """The frame as its sheet holds it: masked (unless ``mask`` is off, the masks in
    ``language``), flat headers, a named index as leading columns, time zones dropped (Excel
    has none); kinds kept."""
    shown = safe_frame(frame, language=language) if mask else flat_columns(frame.copy())
    out = shown.reset_index(drop=not has_named_index(frame))
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_localize(None)
    return out


def _sheet_name(name: str, taken: set[str]) -> str:
    base = " ".join(_SHEET_BAD.sub(" ", name).split())
    if len(base) > 31:  # Excel's limit; cut at a word so the tab stays readable
        base = base[:32].rsplit(" ", 1)[0] if " " in base[:32] else base[:31]
        base = base.rstrip(" ,;-–(")
    base = base or "Sheet"
    candidate, k = base, 2
    while candidate.lower() in taken:
        suffix = f" ({k})"
        candidate, k = base[: 31 - len(suffix)] + suffix, k + 1
    taken.add(candidate.lower())
    return candidate


def currency_affixes(language: str | None = None, *,
                     currency: str | None = None) -> tuple[str, str]:
    """The currency around an amount as the page writes it (:func:`format.currency_affixes`)."""
    from analysis.report import catalogue as L

    return F.currency_affixes(L.resolve(language), code=currency)


def _width(header: str, texts: list[str]) -> float:
    """A column's width from its content: the longest of header and first 500 cells."""
    lengths = [len(str(header))] + [max((len(part) for part in t.splitlines()), default=0)
                                    for t in texts[:500]]
    return float(min(70, max(6, max(lengths) + 2)))


class _Sheets:
    """The workbook's formats, made once each (xlsxwriter wants one object per format)."""

    def __init__(self, book, *, language: str) -> None:
        from analysis.config import load_params

        self.book = book
        self.language = language  # of the p-values' text and the widths, as the page writes
        self.currency = currency_affixes(language)
        self.colours = load_params("report").get("excel", {}).get("colours", {
            "bad": "#F8696B", "middle": "#FFFFFF", "good": "#63BE7B"})
        self.header = book.add_format({"bold": True, "bg_color": "#DDE4EE", "text_wrap": True,
                                       "valign": "top", "border": 1})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})
        self.top = book.add_format({"valign": "top"})
        self._formats: dict[str, object] = {}

    def format(self, code: str | None):
        if code is None:
            return self.top
        if code not in self._formats:
            self._formats[code] = self.book.add_format({"num_format": code, "valign": "top"})
        return self._formats[code]

    def write(self, ws, data: pd.DataFrame, *, decimals: int = F.DECIMALS) -> None:
        """The frame below a bold header row: each column as its kind says."""
        columns = K.of(data, decimals)
        n = len(data)
        for c, (header, kind) in enumerate(zip(data.columns, columns, strict=True)):
            ws.write_string(0, c, str(neutralise_formula(str(header))), self.header)
            values = data.iloc[:, c].to_numpy()
            texts = self._column(ws, c, values, kind, decimals)
            long_text = not kind.numeric and any(len(t) > 40 for t in texts)
            ws.set_column(c, c, _width(str(header), texts), self.wrap if long_text else None)
            if kind.scale and n and kind.role == "value":
                self._colour_scale(ws, c, n, kind)
        ws.freeze_panes(1, 0)
        if len(data.columns):
            ws.autofilter(0, 0, max(n, 1), len(data.columns) - 1)

    def _column(self, ws, c: int, values: np.ndarray, kind: K.Kind,
                decimals: int) -> list[str]:
        """Write one column's cells; returns the text each shows (for the width)."""
        code = K.number_format(kind, decimals, currency=self.currency)
        texts = []
        # a missing number or date is an empty cell, which SUM, AVERAGE and sorting skip (a
        # dash would be text among the numbers); a missing text is the page's dash
        empty = kind.numeric or kind.kind in K.DATES
        for r, value in enumerate(values, start=1):
            number = (None if F.is_missing(value) or not kind.numeric
                      else K.stored(value, kind, decimals))
            if F.is_missing(value) or (kind.numeric and number is None):
                if empty:
                    ws.write_blank(r, c, None, self.top)
                else:
                    ws.write_string(r, c, F.MISSING, self.top)
                texts.append(F.MISSING)
                continue
            if kind.numeric:
                fmt = (K.p_value_format(value, alpha=kind.alpha, language=self.language)
                       if kind.kind == "p_value" else code)
                ws.write_number(r, c, number, self.format(fmt))
                texts.append(K.text(value, kind, decimals, language=self.language)
                             + ("".join(self.currency) if kind.kind == "money" else ""))
            elif kind.kind in K.DATES:
                stamp = (pd.Period(value, freq="M").to_timestamp() if kind.kind == "month"
                         else pd.Timestamp(value))
                ws.write_datetime(r, c, stamp.to_pydatetime(), self.format(code))
                texts.append(K.text(value, kind, decimals, language=self.language))
            elif isinstance(value, bool | np.bool_):
                ws.write_boolean(r, c, bool(value), self.top)
                texts.append(str(value))
            elif isinstance(value, numbers.Number):
                # a number in a frame built outside the report's tables: still a number
                ws.write_number(r, c, float(value), self.top)
                texts.append(str(value))
            else:
                shown = str(value)
                if shown:
                    ws.write_string(r, c, str(neutralise_formula(shown)), self.top)
                texts.append(shown)
        return texts

    def _colour_scale(self, ws, c: int, n: int, kind: K.Kind) -> None:
        bad, middle, good = (self.colours[k] for k in ("bad", "middle", "good"))
        if kind.scale == "nps":
            ws.conditional_format(1, c, n, c, {
                "type": "3_color_scale", "min_color": bad, "mid_type": "num", "mid_value": 0,
                "mid_color": middle, "max_color": good})
        else:
            low, high = (bad, good) if kind.better == "high" else (good, bad)
            ws.conditional_format(1, c, n, c, {"type": "2_color_scale", "min_color": low,
                                               "max_color": high})


def write_excel(tables: dict[str, pd.DataFrame], path: str | os.PathLike, *,
                charts: dict | None = None, language: str | None = None,
                mask_personal_data: bool = True, sheets: dict[str, str] | None = None
                ) -> Path:
    """One sheet per table, written with xlsxwriter, and a first sheet listing the others.

    Flat headers, bold and frozen, an autofilter, widths from content; every cell as its
    column's kind says (:mod:`analysis.report.kinds`; a frame without kinds takes them from
    its dtypes); a colour scale on NPS and rate columns, and a native line chart of the NPS
    trend (``charts["nps_trend"]``: a frame with ``month``, ``nps``, ``nps_low``,
    ``nps_high``). ``sheets`` names a table's sheet (``{title: name}``, at most 31
    characters; the contents sheet lists the full titles); without one the title is cut at a
    word. PII is masked in cells, index and column labels; text Excel would run as a formula
    is defused. ``mask_personal_data=False`` leaves phones, e-mails and VINs as they are: only
    for the customer-care team's own export (:mod:`analysis.report.winback`), never a report.
    ``language`` (the catalogue's default when None) is that of every word, mask and p-value
    text of the workbook, given: nothing is read from whatever else is being drawn.
    """
    from analysis.report import catalogue as L

    language = L.resolve(language)  # of the words, the masks and the numbers' text
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    taken: set[str] = {"contents"}
    contents_name = L.text("excel", "contents", language=language)[:31]
    taken.add(contents_name.lower())
    listed: list[tuple[str, str, int]] = []
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False,
                                           "strings_to_urls": False,
                                           "strings_to_numbers": False})
    try:
        look = _Sheets(book, language=language)
        contents = book.add_worksheet(contents_name)
        for title, frame in (tables or {L.text("excel", "report", language=language):
                                        pd.DataFrame({L.text("excel", "remark", language=language):
                                                      [L.text("excel", "no_tables",
                                                              language=language)]})}).items():
            name = _sheet_name((sheets or {}).get(title, title), taken)
            data = _excel_ready(frame, mask=mask_personal_data, language=language)
            look.write(book.add_worksheet(name), data)
            listed.append((name, title, len(data)))
        trend = (charts or {}).get("nps_trend")
        if trend is not None and len(trend):
            name = _sheet_name(L.text("excel", "trend_sheet", language=language), taken)
            ws = book.add_worksheet(name)
            look.write(ws, trend)
            chart = book.add_chart({"type": "line"})
            n = len(trend)
            for k in range(1, len(trend.columns)):
                chart.add_series({"name": [name, 0, k], "categories": [name, 1, 0, n, 0],
                                  "values": [name, 1, k, n, k],
                                  "marker": {"type": "circle"} if k == 1 else {"type": "none"},
                                  "line": {"width": 2.25 if k == 1 else 0.75,
                                           "dash_type": "solid" if k == 1 else "dash"}})
            chart.set_title({"name": L.text("excel", "trend_title", language=language)})
            chart.set_y_axis({"name": "NPS"})
            chart.set_size({"width": 720, "height": 360})
            ws.insert_chart(1, len(trend.columns) + 1, chart)
            listed.append((name, L.text("excel", "trend_title", language=language), n))
        contents.write_string(0, 0, L.text("excel", "sheet", language=language), look.header)
        contents.write_string(0, 1, L.text("excel", "table", language=language), look.header)
        contents.write_string(0, 2, L.text("excel", "rows", language=language), look.header)
        for row, (name, title, n) in enumerate(listed, start=1):
            contents.write_url(row, 0, f"internal:'{name}'!A1", string=name)
            contents.write_string(row, 1, str(neutralise_formula(title)))
            contents.write_number(row, 2, n)
        contents.set_column(0, 0, max([len(s) for s, _, _ in listed] + [10]) + 2)
        contents.set_column(1, 1, min(80, max([len(t) for _, t, _ in listed] + [10]) + 2))
        contents.freeze_panes(1, 0)
    finally:
        book.close()
    return path
