"""Rendering a report's sections in the test process, as the report notebook calls them.

The page a reader gets is what the sections display: every test that looks at a page built
from hand-bent data renders it through :func:`render_sections`, with the display captured.
"""

from __future__ import annotations

import re
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "reports" / "monthly.py"


def monthly_sections() -> list[str]:
    """The sections the report notebook calls, in its order (the notebook is the one list)."""
    return re.findall(r"^\s*sections\.(\w+)\(book, data\)", NOTEBOOK.read_text(), re.M)


def render_sections(monkeypatch, data, names=None, *, language: str = "en",
                    keep_going: bool = False):
    """Every section of ``names`` (default: the notebook's, after the title) on ``data``.

    Returns the HTML shown, the number of charts drawn and the book. A strict book (the
    default) lets a section's exception fail the test; ``keep_going`` is the notebook's.
    """
    import matplotlib

    from analysis.report import sections
    from analysis.report.book import ReportBook

    matplotlib.use("Agg")
    shown: list = []
    monkeypatch.setattr("IPython.display.display",
                        lambda obj: shown.append(getattr(obj, "data", obj)))
    book = ReportBook(language, keep_going=keep_going)
    if names is None:
        names = ["title", *(n for n in monthly_sections()
                            if n != "regions" or data.is_network)]
    for name in names:  # (the formatter is English again after the test: conftest)
        getattr(sections, name)(book, data)
    html = "".join(x for x in shown if isinstance(x, str))
    return html, sum(isinstance(x, bytes) for x in shown), book


def fake_execute(input_path, output_path, parameters, **kwargs):
    """papermill without a kernel: an executed notebook whose one output is the page's title
    (the dealer's code or the region, and the language), and its workbook, in a millisecond."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    title = f"{parameters.get('dealer', parameters['region'])} {parameters['language']}"
    cell = new_code_cell("sections.title(book, data)", outputs=[new_output(
        "display_data", data={"text/html": f"<h1>{title}</h1>"})])
    nb = new_notebook(cells=[cell], metadata={"papermill": {"parameters": parameters}})
    nbformat.write(nb, output_path)
    if parameters.get("excel_path"):
        Path(parameters["excel_path"]).write_bytes(title.encode())
    return nb
