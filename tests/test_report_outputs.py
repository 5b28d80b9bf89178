"""What the reports hand to people: the workbook analysts keep working in, the significance
rule of the summary, numbers and months in the reader's locale (issue 16, items 2, 4, 5)."""

import openpyxl
import pandas as pd

from analysis.report import excel, rules
from analysis.report import format as F
from analysis.report.kinds import Table


def test_workbook_is_ready_to_work_in(tmp_path):
    frame = (Table(language="en").text("Dealer", ["A", "=B"])
             .signed("NPS", [21.6, -3.0], scale="nps").count("Answers", [120, 7])
             .percent("Compliance", [0.9, 0.5], scale="rate").frame())
    trend = pd.DataFrame({"Month": pd.PeriodIndex(["2026-09", "2026-10"], freq="M"),
                          "NPS": [20.0, 21.6], "Low": [15.0, 17.0], "High": [25.0, 26.0]})
    path = excel.write_excel({"Dealers": frame}, tmp_path / "r.xlsx",
                             charts={"nps_trend": trend})
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "Contents" and "Dealers" in wb.sheetnames
    contents = [c.value for c in wb["Contents"]["A"]][1:]
    assert contents == wb.sheetnames[1:]  # the first sheet lists the others
    ws = wb["Dealers"]
    assert [c.value for c in ws[1]] == ["Dealer", "NPS", "Answers", "Compliance"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref
    assert ws["B2"].value == 21.6 and ws["B2"].number_format == "+0.0;-0.0;0.0"
    assert ws["C2"].number_format == "#,##0"
    assert ws["D2"].value == 0.9 and ws["D2"].number_format == "0%"
    assert ws["A3"].value == "'=B"  # formula injection defused
    # colour scales on the NPS and the rate, never on a count
    scaled = {str(r.sqref)[0] for r in ws.conditional_formatting}
    assert scaled == {"B", "D"}
    assert ws.column_dimensions["A"].width >= 6
    trend_sheet = wb[wb.sheetnames[-1]]
    assert trend_sheet._charts  # a native Excel line chart of the trend
    assert trend_sheet["A2"].is_date and trend_sheet["A2"].number_format == "yyyy-mm"


def test_tuple_headers_are_flat_in_the_workbook(tmp_path):
    frame = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("n", "hotline"),
                                                                       ("n", "service")]))
    ws = openpyxl.load_workbook(excel.write_excel({"t": frame}, tmp_path / "t.xlsx"))["t"]
    assert [c.value for c in ws[1]] == ["n · hotline", "n · service"]


def test_the_significance_rule_prefers_the_corrected_flag():
    raw = pd.DataFrame({"change_p_value": [0.01, 0.2, None]})
    assert rules.significant(raw, "change").tolist() == [True, False, False]
    flagged = raw.assign(change_flag=[False, True, None])
    assert rules.significant(flagged, "change").tolist() == [False, True, False]
    assert rules.significant(pd.DataFrame(index=[0]), "vs_region").tolist() == [False]


def test_numbers_and_months_follow_the_locale():
    ru = F.Format("ru")
    assert ru.nps(21.64) == "+21,6"
    assert ru.interval(17.7, 25.3, sign=True) == "[+17,7; +25,3]"
    assert ru.percent(0.31).replace("\u202f", " ").replace("\xa0", " ") == "31 %"
    assert ru.month("2026-10") == "окт. 2026"
    assert F.month("2026-10", language="en") == "Oct 2026"


def test_english_numbers_are_unchanged():
    assert F.nps(21.64) == "+21.6" and F.interval(17.7, 25.3, sign=True) == "[+17.7, +25.3]"
    assert F.percent(0.31) == "31%" and F.month("2026-10") == "Oct 2026"


def test_the_report_rule_is_one_bh_family_over_every_table():
    from statsmodels.stats.multitest import multipletests

    from analysis.stars import StarRule

    dealers = pd.DataFrame({"change_p_value": [0.001, 0.03, 0.2],
                            "change_p_adj": [0.003, 0.045, 0.2],
                            "change_flag": [True, True, False]})
    css = pd.DataFrame({"change_p_value": [0.004, 0.01, None],
                        "change_p_adj": [0.01, None, None]})  # 0.01: below min_n, no test
    family = {"dealer change": dealers["change_p_value"].to_numpy(),
              "CSS change": [0.004]}
    rule = StarRule.of(family, q=0.1, scope="report")
    pooled = [0.001, 0.03, 0.2, 0.004]
    expected = multipletests(pooled, alpha=0.1, method="fdr_bh")[0]
    assert rules.significant(dealers, "change", rule=rule).tolist() == expected[:3].tolist()
    assert rules.significant(css, "change", rule=rule).tolist() == [True, False, False]
    # a larger family raises the bar: 0.03 no longer passes among 40 tests
    crowded = StarRule.of({**family, "touchpoint change": [0.5] * 36}, q=0.1, scope="report")
    assert rules.significant(dealers, "change", rule=crowded).tolist() == [True, False, False]
    # scope: table keeps each table's own flags
    table = StarRule.of(family, q=0.1, scope="table")
    assert rules.significant(dealers, "change", rule=table).tolist() == [True, True, False]
    assert "within each table" in rules.rule_text(table)
    assert "over all the stars of this report" in rules.rule_text(rule)
    assert "Бенджамини-Хохберг" in rules.rule_text(rule, language="ru")



def test_numbers_are_grouped_and_right_aligned_in_html():
    import re

    from analysis.report.book import ReportBook

    frame = pd.DataFrame({"dealer": ["A", "B"], "customers": [1884, 527],
                          "nps": [12.5, -3.0], "small": [True, False]})
    html = ReportBook("en").table_html("t", frame)
    align = dict(re.findall(r'<td headers="report-table-(\w+)" class="gt_row (gt_\w+)', html))
    assert align == {"dealer": "gt_left", "customers": "gt_right", "nps": "gt_right",
                     "small": "gt_left"}
    assert ">1,884</td>" in html and ">True</td>" in html
    assert ">1\xa0884</td>" in ReportBook("ru").table_html("t", frame)
