"""The one formatter and the label catalogue of the reports."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.config import ParamsError, load_params
from analysis.report import format as F
from analysis.report import labels as L

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
    with F.in_language("ru"):  # a caller not handed a language: the block's
        assert F.count(1500) == "1\xa0500"
    assert F.count(1500) == "1,500"


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
    assert catalogue["language"] in L.LANGUAGES
    for group, entries in catalogue.items():
        if group == "language":
            continue
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
        "language: ru\ncolumns:\n  nps: {en: NPS, ru: ''}\n  region: {en: Region, ru: Регион}\n",
        encoding="utf-8")
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
    assert F.get_language() == "en" and F.percent(0.31) == "31%"  # nothing set for the process
