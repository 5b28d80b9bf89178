"""The explore notebooks show what they find as the report shows it (issue 26, item 6): every
table through the report's book and formatter (catalogue headers, no machine column names,
no e-notation, numbers in the reader's locale), in the language asked for (params' by
default), and no English printed beside it; their stars follow the report's rule."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPLORE = ROOT / "notebooks" / "explore"
NOTEBOOKS = sorted(EXPLORE.glob("*.ipynb"))
E_NOTATION = re.compile(r"\d(?:[.,]\d+)?[eE][+-]?\d")
RAW = ("_p_adj", "_p_value", "sales_new", "nps_low", "change_flag", "small_sample", "NaN",
       "<NA>", "True", "False")
SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")


def _shown(notebook) -> tuple[list[str], list[str], list[str]]:
    """The HTML a notebook displayed, the plain-text reprs shown without HTML or an image
    (a bare frame, an Axes), and what it printed."""
    html, plain, printed = [], [], []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.name == "stdout":
                printed.append(out.text)
            data = out.get("data", {})
            if "text/html" in data:
                html.append(data["text/html"])
            elif "text/plain" in data and "image/png" not in data:
                plain.append(data["text/plain"])
    return html, plain, printed


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_an_explore_notebook_shows_its_tables_as_the_report_does(path, demo, tmp_path):
    import papermill
    from bs4 import BeautifulSoup

    out = tmp_path / path.name
    papermill.execute_notebook(str(path), str(out), parameters={
        "language": "ru", "data_dir": str(demo)}, kernel_name="python3", progress_bar=False,
        cwd=str(EXPLORE), execution_timeout=600)
    html, plain, printed = _shown(nbformat.read(out, as_version=4))
    assert not printed, f"printed, not shown through the book: {printed[:2]}"
    assert not plain, f"a bare repr (a frame or an Axes): {[p[:80] for p in plain[:2]]}"
    soup = BeautifulSoup("".join(html), "html.parser")
    for tag in soup(["style", "script"]):
        tag.decompose()
    text = soup.get_text(" ")
    assert soup.find("table") is not None or soup.find("p") is not None
    assert not E_NOTATION.search(text), E_NOTATION.search(text).group(0)
    assert not [raw for raw in RAW if raw in text], [raw for raw in RAW if raw in text]
    headers = [th.get_text(strip=True) for th in soup.find_all("th")]
    assert not [h for h in headers if SNAKE.match(h)], headers
    # the reader's language: Russian words, Russian numbers (a decimal comma)
    assert re.search(r"[А-Яа-яЁё]{4,}", " ".join(headers) or text)
    assert not re.search(r"\b\d+\.\d+\b", " ".join(td.get_text() for td in soup.find_all("td")))


def test_the_nps_explorer_stars_by_the_reports_rule():
    """One BH family over the changes the notebook shows, not a raw p below 0.05."""
    import numpy as np
    import pandas as pd

    from analysis.report import explore

    p = pd.DataFrame({"change_p_value": [0.001, 0.04, 0.2, np.nan]})
    rule = explore.star_rule(p, 0.03)
    assert rule.tests == {"nps change": 4}
    # BH at q over 4 tests: 0.001 <= q/4, 0.03 <= 2q/4, 0.04 <= 3q/4 at q = 0.1
    assert rule.significant(p, "change").tolist() == [True, True, False, False]
    strict = explore.star_rule(pd.DataFrame({"change_p_value": [0.04, 0.3, 0.5, 0.7]}))
    assert not strict.significant(pd.DataFrame({"change_p_value": [0.04]}), "change").any()


def test_the_dealer_loop_reads_the_dealer_with_most_plans_unless_named(six_dealer_store):
    from analysis import store
    from analysis.report import explore

    plans = store.load("actions", data_dir=six_dealer_store)
    busiest = plans["dealer_id"].value_counts().index[0]
    loop = explore.dealer_loop(data_dir=six_dealer_store)
    dealers = loop.dealers.set_index("dealer_id")
    assert loop.dealer == busiest and loop.region == dealers.loc[busiest, "region"]
    assert "region" in loop.responses and len(loop.plans) == len(plans)
    other = next(d for d in dealers.index if d != busiest)
    named = explore.dealer_loop(other, data_dir=six_dealer_store)
    assert named.dealer == other and named.name == dealers.loc[other, "dealer_name"]
