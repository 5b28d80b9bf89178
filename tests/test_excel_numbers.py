"""The workbook Excel users expect (issue 26, item 1): every number a number with the number
format that shows it as the page does, intervals as two columns, notes apart, dates as dates,
colour scales on NPS and rates only, sheet names that are not cut."""

import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import pandas as pd
import pytest
from report_pages import render_sections

from analysis.report import catalogue as L
from analysis.report import excel, kinds
from analysis.report import format as F
from analysis.report.kinds import Kind, Table

_SPACES = re.compile(r"[\s\u00a0\u202f]")
_NOTE = re.compile(r"\([^)]*\)")
_SEPARATORS = re.compile(r"\[|\]|;|, |/|–")
_DATE_TEXT = re.compile(r"\d{4}-\d{2}(-\d{2})?([ T]\d{2}:\d{2}(:\d{2})?)?")


def number_as_text(cell: str) -> bool:
    """A string Excel holds that reads as numbers: ``+7.2``, ``'+31,2``, ``29 (small n)``,
    ``2 869 073``, ``31 %``, ``[+17,7; +25,3]``, ``5 / 7``, ``3–17``."""
    text = _NOTE.sub(" ", cell.lstrip("'"))
    tokens = [_SPACES.sub("", t).strip("+-−*%<") for t in _SEPARATORS.split(text)]
    tokens = [t for t in tokens if t]
    if not tokens:
        return False
    for token in tokens:
        try:
            float(token.replace(",", "."))
        except ValueError:
            return False
    return True


def test_the_check_finds_numbers_written_as_text():
    for cell in ("+7.2", "'+31,2", "29 (small n)", "29 (мало ответов)", "2\u00a0869\u00a0073",
                 "31\u202f%", "[+17,7; +25,3]", "8.4 [8.3, 8.6]", "5 / 7", "3–17", "<0.001",
                 "-3.0*", "100% [70%, 100%]"):
        assert number_as_text(cell), cell
    for cell in ("D001", "R0016654", "2026-10", "Central", "*", "small n", "«Грубый менеджер»",
                 "–", "Booking: see notes"):
        assert not number_as_text(cell), cell


def excel_shows(value: float, code: str, *, decimal: str = ".", group: str = ",") -> str:
    """What Excel shows for ``value`` under the number format ``code`` (the formats the
    workbook uses: sections, literals, ``0``, ``0.0``, ``#,##0``, ``%``), in a locale."""
    sections = re.findall(r'(?:"[^"]*"|[^;"])+', code)
    if len(sections) >= 3 and value == 0:
        section, number, sign = sections[2], 0.0, ""
    elif len(sections) >= 2 and value < 0:
        section, number, sign = sections[1], -value, ""
    else:
        section, number, sign = sections[0], value, "-" if value < 0 else ""
        number = abs(number)
    parts = re.findall(r'"([^"]*)"|([#0,]+(?:\.0+)?)|(%)|(.)', section)
    if not any(p[1] for p in parts):  # a literal only: "<0.001"
        return "".join(p[0] or p[3] for p in parts)
    if any(p[2] for p in parts):
        number *= 100
    pattern = next(p[1] for p in parts if p[1])
    places = len(pattern.partition(".")[2])
    rounded = Decimal(repr(number)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    whole, _, fraction = f"{rounded:f}".partition(".")
    if "," in pattern.partition(".")[0]:
        whole = f"{int(whole):,}".replace(",", group)
    digits = whole + (decimal + fraction if places else "")
    out = sign
    for literal, placeholder, percent, other in parts:
        out += literal or (digits if placeholder else percent or other)
    return out


def test_excel_shows_what_the_formats_say():
    assert excel_shows(21.64, "+0.0;-0.0;0.0") == "+21.6"
    assert excel_shows(-3.0, "+0.0;-0.0;0.0") == "-3.0"
    assert excel_shows(0.0, "+0.0;-0.0;0.0") == "0.0"
    assert excel_shows(0.314, "0%") == "31%" and excel_shows(1.25, "0.0") == "1.3"
    assert excel_shows(2869073, "#,##0", group="\u00a0") == "2\u00a0869\u00a0073"
    assert excel_shows(1e-9, '"<0.001"') == "<0.001"
    assert excel_shows(2869073.4, '"RUB\u00a0"#,##0') == "RUB\u00a02,869,073"


# --- the kinds: one table, the page's cells and the workbook's numbers ------------------------


def test_a_table_shows_the_formatters_text_on_the_page():
    t = (Table(language="en")
         .text("Dealer", ["A", "B", "C"])
         .count("Answers", [120, 29, 1234], mark=([False, True, False], "small n"))
         .signed("NPS", [21.64, -3.0, None], scale="nps")
         .interval("95% interval", [17.7, -9.0, None], [25.3, 2.0, None], "signed")
         .signed("Change", [4.21, 0.04, -1.0], mark=([True, False, None], "*"))
         .p_value("p-value", [0.0499, 0.23, 1e-9])
         .percent("Rate", [0.314, 0.5, 1.0], interval=([0.25, 0.4, None], [0.38, 0.6, None]))
         .pair("Chance top / bottom", [0.59, 0.0, None], [0.0, 0.01, 0.2],
               names=("Top", "Bottom"))
         .interval("Rank range", [3, 5, 1], [17, 5, 2], "count")
         .money("Value", [2679303.4, None, 5], interval=([1204500, 1, None], [4050000, 2, 9]))
         .label("Zone 1", ["Booking", None, "Staff"])
         .signed("Zone 1: uplift", [4.2, None, 1.0], into="Zone 1")
         .interval("Zone 1", [2.0, None, None], [6.5, None, None], "signed", into="Zone 1")
         .date("Due", pd.to_datetime(["2026-07-07", None, "2026-10-30"]))
         .month("Month", ["2026-09", "2026-10", None]))
    frame = t.frame()
    page, right = kinds.page(frame)
    assert list(page.columns) == ["Dealer", "Answers", "NPS", "95% interval", "Change", "p-value",
                                  "Rate", "Chance top / bottom", "Rank range", "Value",
                                  "Zone 1", "Due", "Month"]
    assert page.iloc[0].tolist() == [
        "A", "120", "+21.6", "[+17.7, +25.3]", "+4.2*", "0.0499", "31% [25%, 38%]", "59% / 0%",
        "3–17", "RUB\u00a02,679,303 [1,204,500; 4,050,000]", "Booking: +4.2 [+2.0, +6.5]",
        "2026-07-07", "Sept 2026"]
    assert page.iloc[1].tolist() == [
        "B", "29 (small n)", "-3.0", "[-9.0, +2.0]", "0.0", "0.23", "50% [40%, 60%]", "0% / 1%",
        "5", "– [1; 2]", "", "–", "Oct 2026"]
    assert page.iloc[2].tolist() == [
        "C", "1,234", "–", "–", "-1.0", "<0.001", "100%", "– / 20%", "1–2", "RUB\u00a05",
        "Staff: +1.0", "2026-10-30", "–"]
    # the old formatter calls write the same text
    assert page.iloc[0, 1] == F.count(120) and page.iloc[1, 1] == F.marked(
        F.count(29), True, " (small n)")
    assert page.iloc[0, 6] == F.percent(0.314) + " " + F.percent_interval(0.25, 0.38)
    assert "Dealer" not in right and "Zone 1" not in right and "NPS" in right
    # the frame holds numbers: an interval is two columns, a mark its own
    assert frame.columns.tolist()[:8] == ["Dealer", "Answers", "Answers: note", "NPS",
                                          "95% interval: low", "95% interval: high", "Change",
                                          "Change: note"]
    assert frame["Answers: note"].tolist() == ["", "small n", ""]
    assert frame["Change: note"].tolist() == ["*", "", ""]
    assert frame["Rank range: low"].tolist() == [3, 5, 1]


def test_russian_pages_use_the_russian_symbols():
    frame = (Table(language="ru").signed("NPS", [21.64], interval=([17.7], [25.3]))
             .count("Ответов", [2869073], mark=([True], "мало ответов")).frame())
    page, _ = kinds.page(frame, language="ru")  # as the book writes a Russian table's cells
    assert page.iloc[0].tolist() == ["+21,6 [+17,7; +25,3]", "2\u00a0869\u00a0073 (мало ответов)"]


def test_the_workbook_stores_what_the_page_shows():
    signed, percent, money = Kind("signed", 1), Kind("percent", 0), Kind("money", 0)
    assert kinds.stored(21.64, signed) == 21.64  # full precision
    assert kinds.stored(1.25, signed) == 1.2  # a tie: the page rounds to even, Excel up
    assert kinds.stored(-0.04, signed) == 0.0  # never "-0.0"
    assert kinds.stored(0.125, percent) == 0.12 and kinds.stored(0.3141, percent) == 0.3141
    assert kinds.stored(2679303.5, money) == 2679304.0 and kinds.stored(None, money) is None
    assert kinds.number_format(signed) == "+0.0;-0.0;0.0"
    assert kinds.number_format(Kind("number", 2)) == "0.00"
    assert kinds.number_format(percent) == "0%" and kinds.number_format(Kind("count")) == "#,##0"
    assert kinds.number_format(money, currency=("", "\u00a0₽")) == '#,##0"\u00a0₽"'
    assert kinds.number_format(Kind("month")) == "yyyy-mm"
    for p in (0.0499, 0.23, 0.004, 1e-7, 0.05):
        assert excel_shows(p, kinds.p_value_format(p)) == F.p_value(p)
    for value in (1.25, -0.04, 0.05, 2.675, -12.35, 99.95):
        assert excel_shows(kinds.stored(value, signed), kinds.number_format(signed)) == F.signed(
            value)
    for share in (0.125, 0.005, 0.3149, 1.0):
        assert excel_shows(kinds.stored(share, percent), "0%") == F.percent(share)


def test_money_carries_the_networks_currency():
    assert excel.currency_affixes("en", currency="RUB") == ("RUB\u00a0", "")
    assert excel.currency_affixes("ru", currency="RUB") == ("", "\u00a0₽")
    assert excel.currency_affixes("ru", currency="EUR") == ("", "\u00a0€")


def test_a_frame_without_kinds_takes_them_from_its_dtypes():
    frame = pd.DataFrame({"n": [1, 2], "x": [0.5, 1.25], "when": pd.to_datetime(
        ["2026-10-01", "2026-10-02"]), "at": pd.to_datetime(["2026-10-01 10:00", None]),
        "month": pd.period_range("2026-09", periods=2, freq="M"), "t": ["a", "b"]})
    assert [k.kind for k in kinds.of(frame, 2)] == ["count", "number", "date", "datetime",
                                                     "month", "text"]
    assert kinds.of(frame, 2)[1].decimals == 2


# --- every workbook of a report ---------------------------------------------------------------


def _allowed_scales(language: str) -> tuple[set[str], set[str]]:
    """The headers of NPS and of rate columns: the only ones with a colour scale."""
    c = L.columns(language)
    nps = {c(k) for k in ("nps", "nps_weighted", "nps_shrunk", "dealer_nps")}
    rates = {c(k) for k in ("response_rate", "compliance_pct", "within_sla_pct", "return_rate",
                            "reach_rate", "done_share", "on_time", "yield_rate",
                            "cohort_rate_pct", "repeat_rate_pct")}
    return nps, rates


@pytest.fixture(scope="module", params=[("all", "en"), ("all", "ru"), ("region", "ru")])
def report_workbook(request, six_dealer_data, tmp_path_factory):
    """A report's book and workbook: every section of the six-dealer network's report (and of
    one of its regions), in English and Russian."""
    from dataclasses import replace

    scope, language = request.param
    data = six_dealer_data
    if scope == "region":
        region = sorted(data.dealers["region"].unique())[0]
        ids = set(data.dealers.loc[data.dealers["region"] == region, "dealer_id"])

        def keep(frame):
            return None if frame is None else frame.loc[frame["dealer_id"].isin(ids)]

        data = replace(data, region=region, responses=keep(data.responses),
                       invitations=keep(data.invitations), cases=keep(data.cases),
                       repair_orders=keep(data.repair_orders), incidents=keep(data.incidents),
                       actions=keep(data.actions), contacts=keep(data.contacts),
                       dealers=keep(data.dealers), network_responses=data.responses,
                       network_dealers=data.dealers)
    with pytest.MonkeyPatch.context() as mp:
        _, _, book = render_sections(mp, data, language=language)
        path = book.save_excel(tmp_path_factory.mktemp("workbook") / f"{scope}.{language}.xlsx")
        yield book, openpyxl.load_workbook(path), language


def test_no_number_is_stored_as_text(report_workbook):
    _, wb, _ = report_workbook
    texts = [(ws.title, cell.coordinate, cell.value) for ws in wb.worksheets
             for row in ws.iter_rows(min_row=2) for cell in row if isinstance(cell.value, str)]
    assert len(texts) > 100  # names, notes and quotes are text
    numbers = [t for t in texts if number_as_text(t[2])]
    assert not numbers, numbers[:10]
    assert not [t for t in texts if t[2].startswith("'") and number_as_text(t[2][1:])]
    assert not [t for t in texts if _DATE_TEXT.fullmatch(t[2])], "a date written as text"
    stored = sum(isinstance(cell.value, int | float) for ws in wb.worksheets
                 for row in ws.iter_rows(min_row=2) for cell in row)
    assert stored > 500


def test_dates_are_date_cells(report_workbook):
    _, wb, _ = report_workbook
    dated = [cell for ws in wb.worksheets for row in ws.iter_rows(min_row=2) for cell in row
             if isinstance(cell.value, datetime)]
    assert dated and all(c.number_format in ("yyyy-mm-dd", "yyyy-mm", "yyyy-mm-dd hh:mm:ss")
                         for c in dated)


def test_colour_scales_sit_on_nps_and_rate_columns_only(report_workbook):
    _, wb, language = report_workbook
    nps, rates = _allowed_scales(language)
    response_rate = L.column("response_rate", language=language)
    scaled = []
    for ws in wb.worksheets:
        header = {cell.column_letter: cell.value for cell in ws[1]}
        for rule in ws.conditional_formatting:
            for cells in rule.sqref.ranges:
                letter = re.match(r"[A-Z]+", cells.coord).group(0)
                scaled.append((ws.title, header[letter]))
    assert scaled
    wrong = [(s, h) for s, h in scaled if h not in nps | rates
             and not h.startswith(f"{response_rate}: ")]
    assert not wrong, wrong
    nps_sheet = wb[L.text("sheets", "nps_month", language=language)]
    assert (nps_sheet.title, L.column("nps", language=language)) in scaled


def test_sheet_names_are_whole_and_unique(report_workbook):
    book, wb, language = report_workbook
    names = wb.sheetnames
    assert len({n.lower() for n in names}) == len(names)
    assert all(len(n) <= 31 for n in names)
    known = set(L.names("sheets", language=language).values()) | {
        L.text("excel", k, language=language) for k in ("contents", "trend_sheet")}
    assert set(names) <= known  # the catalogue's short names, never a title cut at 31
    contents = wb[names[0]]
    titles = [row[1] for row in contents.iter_rows(min_row=2, values_only=True)]
    assert set(book.tables) <= set(titles)  # the contents sheet carries the full titles


def test_the_workbook_shows_the_numbers_of_the_page(report_workbook):
    """Every number of every table: Excel's display of the stored number under its format is
    the text of that number on the page (the same formatter, the same rounding)."""
    book, wb, language = report_workbook
    decimal, group = (",", "\u00a0") if language == "ru" else (".", ",")
    checked = 0
    for title, frame in book.tables.items():
        ws = wb[book.sheets[title]]
        data = excel._excel_ready(kinds.resolved(frame, book._decimals[title]))
        for c, kind in enumerate(kinds.of(data)):
            if not kind.numeric:
                continue
            for r, value in enumerate(data.iloc[:, c], start=2):
                cell = ws.cell(row=r, column=c + 1)
                if F.is_missing(value):  # an empty cell: SUM and sorting skip it
                    assert cell.value is None
                    continue
                shown = excel_shows(cell.value, cell.number_format, decimal=decimal, group=group)
                page = kinds.text(value, kind, language=language)  # as the book writes it
                # Excel writes "31%" where the Russian page writes "31 %"
                assert _SPACES.sub("", shown) == _SPACES.sub("", page), (title, r, c)
                checked += 1
    assert checked > 300
