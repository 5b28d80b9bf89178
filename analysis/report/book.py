"""The report book: what a report notebook shows, made safe, and kept for the workbook.

Every table is shown as escaped HTML (a comment ``<script>`` shows as text) with phones,
e-mails and VINs masked; numbers left as numbers are written by the one formatter and missing
values as its dash, so the HTML says what the Excel workbook says.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from analysis.report import format as F
from analysis.report import labels as L
from analysis.report.data import SectionDataMissing

# a newline inside a cell survives to_html's escaping as this character, then becomes <br>
_LINE_BREAK = "\u2028"


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy fit to show: phones, e-mails and VINs masked in every text column."""
    from analysis.privacy import mask_pii_series

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = mask_pii_series(out[col])
    return out


def has_named_index(frame: pd.DataFrame) -> bool:
    """Whether the index carries meaning (a name) and is shown as columns."""
    return any(name is not None for name in frame.index.names)


def html_escape(text: str) -> str:
    import html

    return html.escape(str(text), quote=True)


class ReportBook:
    """Shows a report's tables safely and keeps them for the Excel workbook.

    Every table is shown as escaped HTML (a comment ``<script>`` shows as text) with phones,
    e-mails and VINs masked; :meth:`save_excel` writes the same tables, one sheet each.
    ``language`` is the language of the report's words (params/labels.yaml); sections read
    it from the book.
    """

    def __init__(self, language: str | None = None) -> None:
        self.tables: dict[str, pd.DataFrame] = {}
        self.language = L.resolve(language)

    def text(self, group: str, key: str, **values) -> str:
        """The catalogue's ``group.key`` in the book's language."""
        return L.text(group, key, language=self.language, **values)

    def show(self, name: str, frame: pd.DataFrame, *, excel: bool = True,
             decimals: int = F.DECIMALS, max_rows: int | None = 60) -> None:
        """Display ``frame`` under ``name`` and remember it for the workbook."""
        from IPython.display import HTML, display

        if excel:
            self.tables[name] = frame
        shown = safe_frame(frame)
        if max_rows is not None and len(shown) > max_rows:
            note = self.text("notes", "first_rows", shown=max_rows, total=len(shown))
            note = f"<p><i>{html_escape(note)}</i></p>"
            shown = shown.head(max_rows)
        else:
            note = ""
        for col in shown.columns:  # na_rep reaches float columns only: the rest by hand
            if shown[col].dtype.kind != "f" and shown[col].isna().any():
                shown[col] = shown[col].astype(object).where(shown[col].notna(), F.MISSING)
            if shown[col].dtype == object:  # to_html writes a newline as the text "\n"
                shown[col] = shown[col].map(
                    lambda v: v.replace("\n", _LINE_BREAK) if isinstance(v, str) else v)
        html = shown.to_html(escape=True, index=has_named_index(shown), na_rep=F.MISSING,
                             float_format=lambda v: F.number(v, decimals), border=0,
                             classes="report-table").replace(_LINE_BREAK, "<br>")
        display(HTML(f"<h4>{html_escape(name)}</h4>{html}{note}"))

    def chart(self, ax) -> None:
        """Display a chart (its Axes or Figure) as a PNG image and close its figure.

        The image is rendered here, so a report shows its charts whatever matplotlib backend
        the kernel runs with (``MPLBACKEND=Agg`` included), and shows each one once.
        """
        import io

        import matplotlib.pyplot as plt
        from IPython.display import Image, display

        figure = getattr(ax, "figure", ax)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        plt.close(figure)
        display(Image(data=buffer.getvalue(), format="png"))

    def heading(self, text: str) -> None:
        """The report's title, escaped."""
        from IPython.display import HTML, display

        display(HTML(f"<h1>{html_escape(text)}</h1>"))

    def note(self, text: str) -> None:
        """Display one line of plain text, escaped."""
        from IPython.display import HTML, display

        display(HTML(f"<p>{html_escape(text)}</p>"))

    @contextmanager
    def section(self, title: str):
        """A report section: its heading, and one line instead of a failure if data is absent."""
        from IPython.display import HTML, display

        display(HTML(f"<h2>{html_escape(title)}</h2>"))
        try:
            yield self
        except SectionDataMissing as missing:
            self.note(self.text("notes", "no_data", month=missing.month,
                                what=L.name("data", missing.what, language=self.language)))

    def save_excel(self, path: str | os.PathLike | None) -> Path | None:
        """Write the workbook when a path is given (the batch passes one)."""
        from analysis.report.excel import write_excel

        return write_excel(self.tables, path) if path else None
