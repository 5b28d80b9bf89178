"""The one formatter and the label catalogue of the reports."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.config import ParamsError, load_params
from analysis.report import catalogue as L
from analysis.report import format as F

MISSING_VALUES = [None, float("nan"), np.nan, pd.NA, pd.NaT, np.float64("nan")]


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value, text", [
    (21.6, "+21.6"), (21.64, "+21.6"), (21.65001, "+21.7"), (-3.0, "-3.0"), (100.0, "+100.0"),
    (-100, "-100.0"), (0.0, "0.0"), (-0.0, "0.0"), (-0.04, "0.0"), (0.049, "0.0"),
    (0.05001, "+0.1"), (np.float64(-12.25), "-12.2"),
])
def test_nps_is_signed_with_one_decimal_and_zero_has_no_sign(value, text):
    assert F.nps(value) == text


@pytest.mark.parametrize("missing", MISSING_VALUES)
def test_missing_is_an_en_dash_everywhere(missing):
    assert F.MISSING == "\u2013"
    for function in (F.nps, F.signed, F.number, F.percent, F.p_value, F.count):
        assert function(missing) == F.MISSING
    assert F.interval(missing, 1.0) == F.interval(1.0, missing) == F.MISSING
    assert F.percent_interval(missing, 0.5) == F.MISSING
    assert F.with_interval(2.0, missing, 3.0) == "2.0"


@pytest.mark.parametrize("low, high, sign, text", [
    (17.7, 25.3, True, "[+17.7, +25.3]"),
    (-5.26, 3.04, True, "[-5.3, +3.0]"),
    (-0.01, 4.0, True, "[0.0, +4.0]"),
    (7.44, 8.06, False, "[7.4, 8.1]"),
    (-1.0, 2.0, False, "[-1.0, 2.0]"),   # an unsigned quantity keeps its minus
])
def test_interval(low, high, sign, text):
    assert F.interval(low, high, sign=sign) == text


def test_interval_decimals_and_value_with_interval():
    assert F.interval(1.234, 5.678, 2) == "[1.23, 5.68]"
    assert F.with_interval(4.2, 2.0, 6.5, sign=True) == "+4.2 [+2.0, +6.5]"
    assert F.with_interval(7.93, 7.51, 8.27) == "7.9 [7.5, 8.3]"


@pytest.mark.parametrize("share, text", [
    (0.31, "31%"), (0.314, "31%"), (0.316, "32%"), (1.0, "100%"), (0.0, "0%"), (-0.0, "0%"),
    (-0.001, "0%"), (0.004, "0%"), (0.005001, "1%"),
])
def test_percent(share, text):
    assert F.percent(share) == text


def test_percent_decimals_and_interval():
    assert F.percent(0.3149, 1) == "31.5%"
    assert F.percent_interval(0.251, 0.384) == "[25%, 38%]"


@pytest.mark.parametrize("p, text", [
    (1e-5, "<0.001"), (0.0, "<0.001"), (0.000999, "<0.001"), (0.001, "0.001"),
    (0.0042, "0.004"), (0.0099, "0.010"), (0.01, "0.01"), (0.23, "0.23"), (0.234, "0.23"),
    (0.0449, "0.04"), (0.0451, "0.045"), (0.0499, "0.0499"), (0.04999, "0.04999"),
    (0.05, "0.05"), (0.0501, "0.05"), (0.051, "0.05"), (0.9999, "1.00"), (1.0, "1.00"),
])
def test_p_value(p, text):
    assert F.p_value(p) == text


@given(st.floats(min_value=0.0, max_value=1.0))
def test_p_value_never_crosses_the_threshold_by_rounding(p):
    text = F.p_value(p)
    if text == "<0.001":
        assert p < 0.001
    else:
        assert (float(text) < 0.05) == (p < 0.05)
        assert abs(float(text) - p) <= 0.005


def test_p_value_respects_another_alpha():
    assert F.p_value(0.0099, alpha=0.01) == "0.0099"
    assert F.p_value(0.0099) == "0.010"


@pytest.mark.parametrize("n, text", [
    (1234, "1,234"), (np.int64(7), "7"), (7.0, "7"), (0, "0"), (np.float64(12.0), "12"),
    (-2679303, "-2,679,303"), (999.6, "1,000"),
])
def test_count_is_an_integer_with_grouped_digits(n, text):
    assert F.count(n) == text


def test_money_groups_digits_and_names_the_currency_in_each_language():
    # the currency is params/network.yaml's (RUB), in the locale's symbol and place (CLDR)
    assert load_params("network")["currency"] == "RUB"
    assert F.money(2679303.4) == "RUB\xa02,679,303"
    assert F.money_interval(1204500, 4050000) == "RUB\xa0[1,204,500; 4,050,000]"
    assert F.money_with_interval(2679303, 1204500, np.nan) == "RUB\xa02,679,303"
    assert F.money(None) == F.MISSING and F.money_interval(1, None) == F.MISSING
    ru = F.Format("ru")
    assert ru.money(2679303) == "2\xa0679\xa0303\xa0₽"  # no-break: never split across lines
    assert ru.count(1500) == "1\xa0500"
    assert ru.money_with_interval(2679303, 1204500, 4050000) == \
        "2\xa0679\xa0303\xa0₽ [1\xa0204\xa0500; 4\xa0050\xa0000]"
    assert F.count(1500) == "1,500"  # not handed a language: the catalogue's default


@pytest.mark.parametrize("language, text", [("en", "October 2026"), ("ru", "октябрь 2026")])
def test_a_title_names_the_month_in_full(language, text):
    assert F.month_long("2026-10", language=language) == text
    assert F.month_long(None) == F.MISSING


def test_number_keeps_integers_and_rounds_floats():
    assert F.number(np.int64(12)) == "12"
    assert F.number(12) == "12"
    assert F.number(7.25, 2) == "7.25"
    assert F.number(-0.0) == "0.0"
    assert F.number(-0.04) == "0.0"
    assert F.number(True) == "1.0"


def test_marks_are_not_added_to_missing_values():
    assert F.marked("+3.2", True, "*") == "+3.2*"
    assert F.marked("+3.2", False, "*") == "+3.2"
    assert F.marked(F.MISSING, True, "*") == F.MISSING


def test_one_significance_function_stars_without_a_rule():
    """Without a report's rule a p-value alone is starred below ``1 - level`` of the settings
    (:meth:`analysis.settings.Settings.significant`, through
    :func:`analysis.report.rules.significant`): the formatter decides no star."""
    import pandas as pd

    from analysis.report import rules
    from analysis.settings import Settings

    frame = pd.DataFrame({"change_p_value": [0.01, 0.06, np.nan, None, 0.2]})
    assert rules.significant(frame, "change", settings=Settings.from_params(
        level=0.95)).tolist() == [True, False, False, False, False]
    assert rules.significant(frame, "change", settings=Settings.from_params(
        level=0.75)).tolist() == [True, True, False, False, True]
    assert not hasattr(F, "significant")


@given(st.floats(min_value=-100, max_value=100, allow_nan=False))
def test_signed_text_reads_back_as_the_rounded_value(value):
    text = F.signed(value)
    assert abs(float(text) - value) <= 0.05 + 1e-9
    assert not text.startswith("-0.0") or float(text) != 0
    if float(text) != 0:
        assert text[0] == ("+" if value > 0 else "-")


# --- the catalogue ---------------------------------------------------------------------------


def test_every_catalogue_entry_has_every_language():
    catalogue = load_params("labels")
    for group, entries in catalogue.items():
        for key, entry in entries.items():
            assert isinstance(key, str), f"{group}.{key!r}: quote keys YAML reads as bool/number"
            assert set(entry) == set(L.LANGUAGES), f"{group}.{key}"
            assert entry["en"], f"{group}.{key} has no English text"


def test_catalogue_names_every_driver_touchpoint_and_cause():
    drivers = load_params("drivers")["drivers"]
    assert set(L.driver_labels("en")) == set(drivers)
    assert set(L.names("touchpoints")) == set(load_params("nps")["touchpoints"])
    assert set(L.names("causes")) >= set(load_params("taxonomy")["seeds"])


def test_templates_fill_in_and_every_placeholder_is_known_in_both_languages():
    assert L.column("interval", level="95%") == "95% interval"
    assert L.column("interval", level="95%", language="ru") == "95% интервал"
    catalogue = load_params("labels")
    for group, entries in catalogue.items():
        if group == "language":
            continue
        for key, entry in entries.items():
            en = L.placeholders(str(entry["en"]))
            ru = L.placeholders(str(entry["ru"] or entry["en"]))
            assert en == ru, f"{group}.{key}: en has {en}, ru has {ru}"


def test_unknown_words_fail_loudly_unknown_data_values_show_as_they_are():
    with pytest.raises(KeyError, match="columns.no_such_header"):
        L.column("no_such_header")
    assert L.name("causes", "cluster_7") == "cluster_7"
    assert L.name("touchpoints", "service", language="ru") == "Сервис и ремонт"
    with pytest.raises(ParamsError, match="language"):
        L.text("columns", "nps", language="de")


def test_an_empty_translation_falls_back_to_english(tmp_path):
    (tmp_path / "labels.yaml").write_text(
        "columns:\n  nps: {en: NPS, ru: ''}\n  region: {en: Region, ru: Регион}\n",
        encoding="utf-8")
    (tmp_path / "report.yaml").write_text("languages: [ru, en]\n", encoding="utf-8")
    assert L.text("columns", "nps", params_dir=tmp_path) == "NPS"
    assert L.text("columns", "region", params_dir=tmp_path) == "Регион"
    assert L.resolve(params_dir=tmp_path) == "ru"


def test_a_table_in_russian_changes_words_not_numbers(small_net):
    from analysis import store
    from analysis.report import kinds, tables

    responses = store.with_region(small_net.responses, small_net.dealers)
    month = str(responses["responded_at"].max().to_period("M"))
    from analysis import nps

    summary = nps.summarize(responses, by=("touchpoint",), period="M")
    en = tables.headline_table(summary, month=month, by=("touchpoint",), language="en")
    ru = tables.headline_table(summary, month=month, by=("touchpoint",), language="ru")
    assert list(ru.columns[:3]) == ["Группа", "Ответов", "NPS"]
    assert set(ru["Группа"]) <= set(L.names("touchpoints", language="ru").values())
    # the numbers are the same numbers; only the words (and the page's symbols) change
    numbers = en.select_dtypes("number")
    assert numbers.shape[1] == 6  # answers, NPS, its interval's two ends, change, p
    np.testing.assert_array_equal(numbers.to_numpy(dtype=float),
                                  ru.select_dtypes("number").to_numpy(dtype=float))
    interval = kinds.page(en)[0]["95% interval"]
    assert interval.str.fullmatch(r"\[[+-]?\d+\.\d, [+-]?\d+\.\d\]").all()
    assert not any(math.isnan(v) for v in en["Answers"])


def test_two_books_in_two_languages_in_one_process_do_not_interfere():
    """A book formats in its own language (no language of the process): an English and a
    Russian table rendered in turn in one process each read as their book writes, and making
    the Russian book changes nothing of the English one's."""
    import pandas as pd

    from analysis import nps
    from analysis.report import tables
    from analysis.report.book import ReportBook

    responses = pd.DataFrame({
        "dealer_id": "A", "touchpoint": "service",
        "responded_at": pd.to_datetime(["2026-09-10"] * 40 + ["2026-10-10"] * 50),
        "nps": [10] * 25 + [3] * 15 + [10] * 20 + [8] * 20 + [0] * 10})
    summary = nps.summarize(responses, by=(), period="M")
    def page(book):
        return book.table_html("t", tables.headline_table(summary, month="2026-10",
                                                          language=book.language))

    before = page(ReportBook("en"))
    ru = ReportBook("ru")
    page(ru)
    en = ReportBook("en")
    assert page(en) == before  # a Russian book made since changed nothing of it
    pages = [page(book) for book in (en, ru, en, ru)]
    assert pages[0] == pages[2] and pages[1] == pages[3] != pages[0]
    nps_now = summary["nps"].iloc[-1]
    assert en.format.nps(nps_now) in pages[0] and ru.format.nps(nps_now) in pages[1]
    assert "," in ru.format.nps(nps_now) and "." in en.format.nps(nps_now)
    assert F.percent(0.31) == "31%"  # nothing set for the process


def test_a_call_not_handed_a_language_writes_in_the_runs_default(monkeypatch):
    """No ambient language: a formatter, a table's page cells or a mask not handed one write
    in the run's default (the params' Settings.language), and nothing else moves them."""
    from analysis.report import kinds, safe
    from analysis.report.kinds import Table

    frame = Table(language="en").signed("NPS", [21.64]).percent("Share", [0.314]).frame()
    assert F.Format().language == L.resolve() == "en" and F.count(1500) == "1,500"
    assert kinds.page(frame)[0].iloc[0].tolist() == ["+21.6", "31%"]
    import analysis.settings as settings_module

    russian = settings_module.settings_or(None).with_(language="ru")
    monkeypatch.setattr(settings_module, "_from_params", lambda directory: russian)
    assert F.Format().language == "ru" and F.count(1500) == "1\xa0500"
    assert kinds.page(frame)[0].iloc[0].tolist() == ["+21,6", "31\u202f%"]
    assert kinds.page(frame, language="en")[0].iloc[0].tolist() == ["+21.6", "31%"]
    assert safe.masked(pd.Series(["[phone]"])).tolist() == ["[телефон]"]


def test_books_charts_and_workbooks_in_two_languages_interleaved(tmp_path):
    """An English and a Russian book filled in turn in one process, and a Russian chart drawn
    and a Russian workbook written while the English book is still being filled: each comes
    out in its own language (``+21,6``, ``31 %``, ``окт. 2026``, ``<0,001``, ``[телефон]`` in
    Russian; ``+21.6``, ``31%``, ``Oct 2026``, ``<0.001``, ``[phone]`` in English), and the
    English book's page reads the same before and after."""
    import matplotlib.pyplot as plt
    import openpyxl

    from analysis import nps
    from analysis.report import charts, tables
    from analysis.report.book import ReportBook
    from analysis.report.kinds import Table

    # September all detractors, October (20 - 9) / 51 = +21.6: a change with p < 0.001
    responses = pd.DataFrame({
        "dealer_id": "A", "touchpoint": "service",
        "responded_at": pd.to_datetime(["2026-09-10"] * 40 + ["2026-10-10"] * 51),
        "nps": [0] * 40 + [10] * 20 + [8] * 22 + [0] * 9})
    summary = nps.summarize(responses, by=(), period="M")

    def fill(book):
        book.show("headline", tables.headline_table(summary, month="2026-10",
                                                    language=book.language), html=False)
        book.show("notes", Table(language=book.language)
                  .text("Comment", ["call me on +7 912 345-67-89"])
                  .percent("Share", [0.314]).frame(), html=False)

    def page(book):
        return "".join(book.table_html(name, frame) for name, frame in book.tables.items())

    def drawn(language):
        ax = charts.nps_trend(summary, language=language)
        try:
            return " ".join(t.get_text() for t in [*ax.get_legend().get_texts(),
                                                    *ax.get_xticklabels()])
        finally:
            plt.close(ax.figure)

    en, ru = ReportBook("en"), ReportBook("ru")
    fill(en)
    page(en)  # a book's first table carries the page's style: compare the pages after it
    en_page = page(en)
    fill(ru)
    page(ru)
    ru_page = page(ru)
    ru_chart = drawn("ru")
    ru.save_excel(tmp_path / "ru.xlsx")
    assert page(en) == en_page  # the Russian chart and workbook changed nothing of it
    en_chart = drawn("en")
    en.save_excel(tmp_path / "en.xlsx")
    assert page(ru) == ru_page

    assert "+21.6" in en_page and "31%" in en_page and "[phone]" in en_page
    assert "+21,6" in ru_page and "31\u202f%" in ru_page and "[телефон]" in ru_page
    assert "+21.6" not in ru_page and "31%" not in ru_page and "[phone]" not in ru_page
    assert "95%" in en_chart and "Oct 2026" in en_chart
    assert "95\u202f%" in ru_chart and "окт. 2026" in ru_chart and "Oct" not in ru_chart
    for language, symbol in (("en", "<0.001"), ("ru", "<0,001")):
        wb = openpyxl.load_workbook(tmp_path / f"{language}.xlsx")
        assert wb.sheetnames[0] == L.text("excel", "contents", language=language)[:31]
        formats = {c.number_format for row in wb["headline"].iter_rows(min_row=2) for c in row}
        assert f'"{symbol}"' in formats  # the change's p-value, as the page writes it
        mask = L.masked("[phone]", language=language)
        assert wb["notes"]["A2"].value == f"call me on {mask}"
        assert wb["notes"]["B2"].value == 0.314 and wb["notes"]["B2"].number_format == "0%"
