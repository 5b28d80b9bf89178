"""The page around a report (issue 26, item 4): numbered, anchored sections, the table of
contents, the glossary of the terms a page uses, and the PDF's Chromium (analysis/report/page.py).
The browser's view of the same pages is tests/test_browser.py."""

from __future__ import annotations

import re

import pytest

from analysis.report import catalogue as L
from analysis.report import page


def _body(language: str, keys: list[str], extra: str = "") -> str:
    """A rendered body as nbconvert writes the book's output: a title, then one heading per
    section (escaped as the book escapes them) with a paragraph."""
    from analysis.report.book import html_escape

    values = {"n": 20, "hours": "72"}
    heads = "".join(
        f'<div class="output_html"><h2>'
        f'{html_escape(L.text("sections", k, language=language, **values))}'
        f"</h2></div><p>text of {k}</p>" for k in keys)
    return f"<h1>Title</h1><p>How to read</p>{heads}{extra}"


REGION = ["summary", "headline", "touchpoints", "dealers", "loyalty_drivers", "growth_zones",
          "css", "red_flags", "actions_review", "customers", "data_quality"]


@pytest.mark.parametrize("language", L.LANGUAGES)
def test_every_section_title_finds_its_key(language):
    for key in L.names("sections", language=language):
        title = L.text("sections", key, language=language, n=20, hours=72)
        found = page.section_key(title, language)
        # two keys may read the same (then the first one's anchor is used)
        assert found == key or L.text("sections", found, language=language,
                                      n=20, hours="72") == title, (key, found)
    assert page.section_key("Something else", language) is None


@pytest.mark.parametrize("language", L.LANGUAGES)
def test_the_contents_link_every_numbered_section(language):
    body = page.finish_body(_body(language, REGION), language)
    heads = re.findall(r'<h2 id="([^"]+)"( class="part-start")?><span class="section-number">'
                       r"(\d+)</span>", body)
    ids = [h[0] for h in heads]
    # anchors are the sections' keys, the same in every language
    assert ids[:4] == ["summary", "headline", "touchpoints", "dealers"]
    assert "loyalty-drivers" in ids and "data-quality" in ids
    assert [int(h[2]) for h in heads] == list(range(1, len(heads) + 1))
    contents = re.search(r'<nav id="contents".*?</nav>', body, re.S).group(0)
    assert re.findall(r'href="#([^"]+)"', contents) == ids
    # above the first section, below the title
    assert body.index("<h1>") < body.index('<nav id="contents"') < body.index("<h2")
    # a part starts a printed page: why, service, loop and the appendix (not the first part)
    starts = [h[0] for h in heads if h[1]]
    assert starts == ["loyalty-drivers", "css", "actions-review", "data-quality"]
    assert L.text("page", "part_why", language=language) in contents
    assert body.count('href="#contents"') == 1


def test_a_title_the_catalogue_does_not_know_is_numbered_too():
    body = page.finish_body(_body("en", ["summary"]) + "<h2>Notes &amp; more</h2><p>x</p>",
                            "en")
    assert '<h2 id="section-2"><span class="section-number">2</span>Notes &amp; more</h2>' in body
    assert 'href="#section-2"' in body


def test_a_page_without_sections_is_left_as_it_is():
    assert page.finish_body("<h1>x</h1><p>y</p>", "en") == "<h1>x</h1><p>y</p>"


def test_the_glossary_holds_the_terms_the_page_uses_only():
    table = ("<table><tr><th>Shrunk NPS</th><th>Rank range, 90%</th><th>p-value</th></tr>"
             "</table><p>macro-F1 0.8</p>")
    body = page.finish_body(_body("en", ["summary", "dealers"], table), "en")
    glossary = body[body.index('<h2 id="glossary"'):]
    terms = re.findall(r"<dt>(.*?)</dt>", glossary)
    assert {"Shrunk NPS", "Rank range", "p-value", "macro-F1"} <= set(terms)
    assert "Kaplan-Meier" not in terms and "CSS" not in terms
    assert all(re.search(r"<dd>[^<]{20,}</dd>", glossary) for _ in terms)
    assert 'href="#glossary"' in body  # listed in the contents, numbered last
    assert '<span class="section-number">3</span>Glossary' in glossary


def test_the_glossary_finds_russian_terms_with_any_space():
    text = "Сглаженный NPS и 95\u202f% интервал; Каплан-Мейер"
    terms = [t for t, _ in page.glossary_terms(text, "ru")]
    assert "Сглаженный NPS" in terms and "Каплан-Мейер" in terms
    assert any(t.endswith("интервал") for t in terms)
    assert "macro-F1" not in terms


@pytest.mark.parametrize("language", L.LANGUAGES)
def test_every_glossary_entry_has_a_term_and_a_line(language):
    terms = L.names("glossary_terms", language=language)
    assert set(terms) == set(L.names("glossary", language=language))
    for key in terms:
        assert L.text("glossary", key, language=language, level="95%").strip()


def test_a_missing_chromium_is_named_with_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(page.CHROMIUM_ENV, str(tmp_path / "no-chromium"))
    with pytest.raises(page.PrintFailed, match="apt-get install chromium"):
        page.chromium_path()
    html = tmp_path / "x.en.html"
    html.write_text("<h1>x</h1>", encoding="utf-8")
    with pytest.raises(page.PrintFailed, match="no-chromium"):
        page.print_pdf(html)
    assert not (tmp_path / "x.en.pdf").exists()


def test_a_batch_asked_for_pdf_without_chromium_stops_before_any_notebook(
        six_dealer_store, tmp_path, monkeypatch):
    from analysis import store
    from analysis.report import batch

    monkeypatch.setenv(page.CHROMIUM_ENV, str(tmp_path / "no-chromium"))
    times = store.load("responses", columns=["responded_at"], data_dir=six_dealer_store)
    month = str(times["responded_at"].max().to_period("M"))
    with pytest.raises(page.PrintFailed):
        batch.run_batch(month, None, data_dir=six_dealer_store, out_dir=tmp_path / "out",
                        formats=("html", "pdf"), progress=False)
    assert not (tmp_path / "out" / "notebooks").exists()


def test_the_index_links_a_printed_page(tmp_path):
    from analysis.report import batch

    for name in ("central.en.html", "central.en.pdf", "central.en.xlsx"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    (entry,) = batch.index_entries(tmp_path)
    assert entry.pdf == "central.en.pdf"
    index = batch.write_index(tmp_path, "2026-10").read_text(encoding="utf-8")
    assert 'href="central.en.pdf"' in index


def test_a_printed_chart_is_about_55_mm_tall_and_never_too_narrow():
    wide, tall, small = (page.print_share(820, 300), page.print_share(820, 600),
                         page.print_share(400, 150))
    assert abs(wide * page.PRINT_TEXT_MM * 300 / 820 - page.PRINT_CHART_MM) < 0.5
    assert tall == page.PRINT_MIN_SHARE  # a ranking of many dealers keeps its width
    assert small * page.PRINT_TEXT_MM * page.PX_PER_MM <= 400 + 1  # never wider than drawn
    very_tall = page.print_share(820, 3000)
    assert very_tall * page.PRINT_TEXT_MM * 3000 / 820 <= page.PRINT_MAX_MM + 0.5


def test_each_chart_carries_its_printed_width():
    import base64
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (820, 300), "white").save(png, format="PNG")
    data = base64.b64encode(png.getvalue()).decode()
    chart = f'<img alt="" src="data:image/png;base64,{data}">'
    body = page.finish_body(_body("en", ["summary"], chart), "en")
    share = round(100 * page.print_share(820, 300))
    assert f'<img style="--print-width: {share}%" alt=""' in body
