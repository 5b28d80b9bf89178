"""The report book: what a report notebook shows, made safe, and kept for the workbook.

Every table is shown as escaped HTML (a comment ``<script>`` shows as text) with phones,
e-mails and VINs masked; every cell is written by the one formatter as its column's kind says
(:mod:`analysis.report.kinds`) and missing values as its dash, so the HTML says what the Excel
workbook says.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.report import catalogue as L
from analysis.report import format as F
from analysis.report import kinds as K
from analysis.report.data import SectionDataMissing
from analysis.report.safe import has_named_index, safe_frame

__all__ = ["SECTION_TRACEBACK", "ReportBook", "SectionsFailed", "html_escape"]

# a newline inside a cell survives to_html's escaping as this character, then becomes <br>
_LINE_BREAK = "\u2028"


class SectionsFailed(RuntimeError):
    """Sections of a report failed; each showed a one-line note and the rest rendered."""


# the line above each failed section's traceback in the executed notebook's stderr
SECTION_TRACEBACK = "section failed:"

# a file's path in an error message (/home/x/analysis/nps.py, C:\\data\\x.csv): its name only
_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[\\/](?:[^\s'\"\\/:]+[\\/])+([^\s'\"\\/:,;)]*)")


def _plain(message: str) -> str:
    """An error's message fit for a reader's page: paths cut to the file's name."""
    return _PATH.sub(lambda m: re.split(r"[\\/]", m.group(0).rstrip("\\/"))[-1], message)


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

    def __init__(self, language: str | None = None, *, max_rows: int = 8,
                 keep_going: bool = False) -> None:
        self.keep_going = keep_going
        self.tables: dict[str, pd.DataFrame] = {}
        self.sheets: dict[str, str] = {}  # table title -> its sheet's name (<= 31 characters)
        self._decimals: dict[str, int] = {}
        self.language = L.resolve(language)
        self.max_rows = max_rows
        self.failures: list[str] = []
        self._styled = False
        self.charts: dict[str, object] = {}  # chart title -> data, for the workbook
        # the book's own formatter: nothing is set for the process, so another book in
        # another language (the batch's other report, a test) writes its own numbers; its
        # table cells, workbook and charts are handed self.language the same way
        self.format = F.Format(self.language)
        from analysis.report import style

        style.apply()

    def text(self, group: str, key: str, **values) -> str:
        """The catalogue's ``group.key`` in the book's language."""
        return L.text(group, key, language=self.language, **values)

    def show(self, name: str, frame: pd.DataFrame, *, excel: bool = True,
             decimals: int = F.DECIMALS, max_rows: int | None = -1,
             html: bool = True) -> None:
        """Display ``frame`` under ``name`` and remember it for the workbook.

        The HTML shows the first ``max_rows`` rows (the book's default, 8: the rows that
        matter come first) and says how many more the Excel file holds; None shows all.
        ``html=False`` keeps a detail table for the workbook only.
        """
        from IPython.display import HTML, display

        if excel:
            self.tables[name] = frame
            self._decimals[name] = decimals
        if not html:
            return
        display(HTML(self.table_html(name, frame, decimals=decimals,
                                     max_rows=self.max_rows if max_rows == -1 else max_rows)))

    def table_html(self, name: str, frame: pd.DataFrame, *, decimals: int = F.DECIMALS,
                   max_rows: int | None = None) -> str:
        """The escaped, masked HTML of a table (great_tables), its title above it."""
        note = ""
        if max_rows is not None and len(frame) > max_rows:
            more = self.text("notes", "more_rows", shown=max_rows, more=len(frame) - max_rows)
            note = f"<p class='more'><i>{html_escape(more)}</i></p>"
            frame = frame.head(max_rows)  # masked below: only the rows shown
        shown = safe_frame(frame, language=self.language)
        if has_named_index(shown):
            shown = shown.reset_index()
        # every cell as the formatter writes it; numbers (right-aligned: "1,234" is text to
        # the table library, not a number) by their column's kind
        shown, numbers = K.page(shown.reset_index(drop=True), decimals, language=self.language)
        shown = shown.apply(lambda col: col.str.replace("\n", _LINE_BREAK))
        if shown.empty:
            body = f"<p><i>{html_escape(self.text('notes', 'empty_table'))}</i></p>"
        else:
            body = _great_table(shown, right=numbers)
            # every table has the same id, so the same style: the page carries it once
            if self._styled:
                body = _STYLE.sub("", body, count=1)
            self._styled = True
        return f"<h4>{html_escape(name)}</h4>{body}{note}".replace(_LINE_BREAK, "<br>")

    def chart(self, ax) -> None:
        """Display a chart (its Axes, an array of Axes or a Figure) as a PNG and close it.

        The image is rendered here, so a report shows its charts whatever matplotlib backend
        the kernel runs with, and shows each one once.
        """
        import io

        import matplotlib.pyplot as plt
        import numpy as np
        from IPython.display import Image, display

        if isinstance(ax, np.ndarray):
            ax = ax.ravel()[0]
        figure = getattr(ax, "figure", ax)
        try:
            png = _render_png(figure, dpi=90)
            if png is None:  # an artist outside the figure: savefig's tight box holds it
                buffer = io.BytesIO()
                figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
                png = _small_png(buffer.getvalue())
        finally:
            plt.close(figure)
        display(Image(data=png, format="png"))

    def heading(self, text: str) -> None:
        """The report's title, escaped."""
        from IPython.display import HTML, display

        display(HTML(f"<h1>{html_escape(text)}</h1>"))

    def subheading(self, text: str) -> None:
        """A heading inside a section, escaped."""
        from IPython.display import HTML, display

        display(HTML(f"<h3>{html_escape(text)}</h3>"))

    def bullets(self, items: list[str], *, ordered: bool = False, note: str = "") -> None:
        """A list of plain sentences (the summary), escaped; ``note`` in small print below."""
        from IPython.display import HTML, display

        tag = "ol" if ordered else "ul"
        body = "".join(f"<li>{html_escape(item)}</li>" for item in items)
        small = f"<p style='font-size:85%;color:#555'>{html_escape(note)}</p>" if note else ""
        display(HTML(f"<{tag} class='summary'>{body}</{tag}>{small}"))

    def coverage_line(self, need, month: str) -> str:
        """The catalogue's ``coverage`` line of a verdict of :mod:`analysis.coverage` (what is
        missing and what would fill it), in the book's language."""
        drivers = ", ".join(L.driver_labels(self.language).values())
        f = self.format
        return self.text("coverage", need.reason, month=f.month(month), period=f.month(month),
                         drivers=drivers,
                         found=F.MISSING if need.found is None else f.count(need.found),
                         needed=F.MISSING if need.needed is None else f.count(need.needed))

    def note(self, text: str) -> None:
        """Display one line of plain text, escaped."""
        from IPython.display import HTML, display

        display(HTML(f"<p>{html_escape(text)}</p>"))

    @contextmanager
    def section(self, title: str):
        """A report section: its heading; one line instead of a failure if its data is
        absent. With ``keep_going`` (the report notebook), a section that fails shows one line
        naming the error and the rest of the report renders; :meth:`finish` raises at the end
        so the batch names the report. Without it the error propagates (tests, exploring)."""
        from IPython.display import HTML, display

        display(HTML(f"<h2>{html_escape(title)}</h2>"))
        try:
            yield self
        except SectionDataMissing as missing:
            if missing.need is not None:
                self.note(self.coverage_line(missing.need, missing.month))
            else:
                self.note(self.text("notes", "no_data", month=self.format.month(missing.month),
                                    what=L.name("data", missing.what, language=self.language)))
        except Exception as error:  # noqa: BLE001 - one failing section must not hide the rest
            self.failed(title, error)

    def failed(self, title: str, error: Exception) -> None:
        """Record that ``title`` (a section, or a part of one) failed with ``error``, being
        handled: a one-line note on the page, the failure for :meth:`finish` to raise, the
        traceback on stderr (the batch logs it). Re-raises unless ``keep_going``."""
        if not self.keep_going:
            raise error
        message = _plain(str(error).splitlines()[0][:200]) if str(error) else ""
        self.failures.append(f"{title}: {type(error).__name__}: {message}")
        self.note(self.text("notes", "section_failed", error=type(error).__name__,
                            message=message))
        # the traceback is for the log, never the page: the batch copies the executed
        # notebook's stderr to logs/<report>.failed.txt and leaves streams out of the HTML
        print(f"{SECTION_TRACEBACK} {title!r}:\n{traceback.format_exc()}", file=sys.stderr)

    def finish(self, excel_path: str | os.PathLike | None = None) -> None:
        """Write the workbook (when a path is given), then raise :class:`SectionsFailed` if a
        section failed, so that the batch reports it. Returns nothing: the last cell of a
        report shows no output."""
        self.save_excel(excel_path)
        if self.failures:
            raise SectionsFailed("; ".join(self.failures))

    def save_excel(self, path: str | os.PathLike | None) -> Path | None:
        """Write the workbook when a path is given (the batch passes one)."""
        from analysis.report.excel import write_excel

        if not path:
            return None
        tables = {name: K.resolved(frame, self._decimals.get(name, F.DECIMALS))
                  for name, frame in self.tables.items()}
        return write_excel(tables, path, charts=self.charts, language=self.language,
                           sheets=self.sheets)


_STYLE = re.compile(r"<style>.*?</style>", re.S)


def _render_png(figure, *, dpi: float) -> bytes | None:
    """The figure as ``savefig(dpi=dpi, bbox_inches="tight")`` draws it, in one draw instead
    of two (savefig lays the figure out once to find its tight box, then draws it again), as
    a 256-colour PNG (:func:`_small_png`). None when an artist reaches outside the figure
    (then only savefig's tight box, which grows the canvas, shows it whole).

    The image is the drawn canvas cropped to the tight box plus ``savefig.pad_inches``,
    the padding filled with the figure's colour, as savefig does.
    """
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_rgba
    from PIL import Image as PILImage

    figure.set_dpi(dpi)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    tight = figure.get_tightbbox(canvas.get_renderer())
    width, height = figure.get_size_inches()
    slack = 1.5 / dpi  # within a pixel and a half of the edge: savefig draws the same
    if (tight is None or tight.x0 < -slack or tight.y0 < -slack or tight.x1 > width + slack
            or tight.y1 > height + slack):
        return None
    box = tight.padded(float(mpl.rcParams["savefig.pad_inches"]))
    drawn = np.asarray(canvas.buffer_rgba())
    rows, cols = drawn.shape[:2]
    # the box in pixels, top-left origin as in the image: savefig truncates its size and
    # keeps the box's lower left corner where it was
    size_w, size_h = int(box.width * dpi), int(box.height * dpi)
    left, top = int(round(box.x0 * dpi)), int(round(rows - size_h - box.y0 * dpi))
    page = np.empty((size_h, size_w, 4), dtype=np.uint8)
    page[...] = np.round(np.array(to_rgba(figure.get_facecolor())) * 255).astype(np.uint8)
    src_x0, src_y0 = max(left, 0), max(top, 0)
    src_x1, src_y1 = min(left + size_w, cols), min(top + size_h, rows)
    page[src_y0 - top:src_y1 - top, src_x0 - left:src_x1 - left] = \
        drawn[src_y0:src_y1, src_x0:src_x1]
    return _quantized_png(PILImage.fromarray(page, "RGBA").convert("RGB"))


def _quantized_png(image) -> bytes:
    """An RGB image as a 256-colour PNG."""
    import io

    from PIL import Image as PILImage

    out = io.BytesIO()
    image.quantize(colors=256, method=PILImage.Quantize.MEDIANCUT).save(out, format="PNG",
                                                                        optimize=True)
    return out.getvalue()


def _small_png(data: bytes) -> bytes:
    """The chart as a 256-colour PNG: a few times smaller, the same to the eye (charts use a
    handful of colours)."""
    import io

    from PIL import Image as PILImage

    small = _quantized_png(PILImage.open(io.BytesIO(data)).convert("RGB"))
    return small if len(small) < len(data) else data


def _great_table(frame: pd.DataFrame, *, right: list | None = None) -> str:
    """A formatted, escaped HTML table (great_tables), compact and striped; the ``right``
    columns (numbers) aligned right."""
    import great_tables as gt

    table = gt.GT(frame, id="report-table")
    if right:
        table = table.cols_align("right", columns=right)
    table = (table
             .opt_row_striping()
             .opt_table_font(font=["system-ui", "Segoe UI", "Roboto", "Arial", "sans-serif"])
             .tab_options(table_font_size="13px", data_row_padding="3px",
                          column_labels_font_weight="bold", table_margin_left="0px",
                          container_width="100%", column_labels_background_color="#EEF2F7"))
    return table.as_raw_html()
