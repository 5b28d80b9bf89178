"""The customer-care team's win-back export (``python -m analysis winback``) and the rule that
contacts reach only that export: never the HTML report or its executed notebook (issue 17)."""

import json
import re

import pandas as pd
import pytest

from analysis import retention, store
from analysis.__main__ import main
from analysis.privacy import contains_pii
from analysis.report import winback
from analysis.report.excel import write_excel

_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+")
_PHONE_OR_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[a-z]{2,}|(?:\+7|\b8)[\s(]*9\d\d[\s)-]*\d{3}")


@pytest.fixture(scope="module")
def demo(ingested_store):
    """12 months (lapsed customers need 9 without a visit), ingested as reports read it."""
    from analysis.synthetic import make_network

    net = make_network(n_dealers=8, n_regions=2, months=12, responses_per_month=700, seed=4)
    return net, ingested_store("winback", net)


def _expected(data_dir, month="2026-10", regions=None, include_contacts=False):
    """The list straight from the statistics, on the same answers and orders."""
    responses = store.load("responses", regions=regions, data_dir=data_dir)
    orders = store.load("repair_orders", regions=regions, data_dir=data_dir)
    service = responses.loc[responses["touchpoint"] == "service"]
    return retention.win_back(orders, service, as_of=pd.Period(month, freq="M").end_time,
                              include_contacts=include_contacts)


def _sheets(path) -> dict[str, pd.DataFrame]:
    return pd.read_excel(path, sheet_name=None, engine="openpyxl", dtype=object)


def _cells(sheets) -> pd.Series:
    return pd.concat([pd.Series(f.columns.astype(str)) for f in sheets.values()]
                     + [f[c].dropna().astype(str) for f in sheets.values() for c in f.columns],
                     ignore_index=True)


def test_export_without_the_flag_holds_no_contacts(demo, tmp_path, capsys):
    net, data = demo
    out = tmp_path / "winback.xlsx"
    assert main(["winback", "--month", "2026-10", "--data", str(data), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "without VINs, phones and e-mails" in said
    sheets = _sheets(out)
    listing = sheets["Win-back list"]  # the contents sheet names it "Win-back list, 2026-10"
    expected = _expected(data)
    assert len(expected) > 50 and set(expected["reason"]) == {"detractor", "lapsed"}
    assert len(listing) == len(expected)
    assert listing["Why call"].value_counts().to_dict() == {
        "recent detractor": int((expected["reason"] == "detractor").sum()),
        "lapsed": int((expected["reason"] == "lapsed").sum())}
    assert listing["Dealer ID"].tolist() == expected["dealer_id"].tolist()
    assert not {"VIN", "Phone", "E-mail"} & set(listing.columns)
    by_dealer = sheets["Win-back by dealer"].set_index("Dealer ID")
    assert by_dealer["Total"].to_dict() == expected["dealer_id"].value_counts().to_dict()
    # nothing personal anywhere in the workbook: no VIN, phone or e-mail of the data, no pattern
    cells = _cells(sheets)
    assert not contains_pii(cells).any()
    people = pd.concat([net.responses[c].dropna() for c in ("vin", "phone", "email")])
    assert not cells.isin(set(people)).any()


def test_export_with_the_flag_carries_the_contacts_of_each_customer(demo, tmp_path, capsys):
    net, data = demo
    out = tmp_path / "winback-central.xlsx"
    code = main(["winback", "--month", "2026-10", "--region", "Central", "--data", str(data),
                 "--out", str(out), "--include-contacts", "--language", "ru"])
    assert code == 0 and "personal data" in capsys.readouterr().out
    listing = _sheets(out)["Список для возврата"]
    expected = _expected(data, regions=["Central"], include_contacts=True)
    assert len(listing) == len(expected) > 0
    assert set(listing["Регион"]) == {"Central"}
    assert listing["VIN"].tolist() == expected["vin"].tolist()
    # each customer's phone and e-mail are those of the latest answer of the car at its dealer
    latest = (net.responses.sort_values("responded_at", kind="stable")
              .drop_duplicates(["dealer_id", "vin"], keep="last")
              .set_index(["dealer_id", "vin"]))
    answered = expected["last_answer_at"].notna().to_numpy()
    keys = list(zip(expected["dealer_id"][answered], expected["vin"][answered]))
    assert answered.sum() > 0
    assert listing.loc[answered, "Телефон"].tolist() == latest.loc[keys, "phone"].tolist()
    emails = latest.loc[keys, "email"].fillna("–").tolist()
    assert listing.loc[answered, "Эл. почта"].tolist() == emails
    # a car that never answered has no contact to show
    assert (listing.loc[~answered, "Телефон"] == "–").all()


def test_contacts_are_formula_neutralised_but_phones_stay_dialable(tmp_path):
    calls = pd.DataFrame({
        "dealer_id": ["D1", "D1"], "dealer_name": ["=HYPERLINK(\"x\")", "Major"],
        "region": ["N", "N"], "vin": ["XW8ABCDE123456789", None], "reason": ["detractor",
                                                                              "lapsed"],
        "last_visit": pd.to_datetime(["2026-10-01", "2025-12-01"]),
        "last_answer_at": pd.to_datetime(["2026-10-02", None]), "last_nps": [3, None],
        "months_since_visit": [0.5, 10.9], "phone": ["+7 916 123-45-67", None],
        "email": ["@SUM(1+1)*cmd|' /C calc'!A0", None]})
    table = winback.win_back_table(calls, include_contacts=True)
    path = write_excel({"list": table}, tmp_path / "x.xlsx", mask_personal_data=False)
    sheet = _sheets(path)["list"]
    assert sheet.loc[0, "Dealer"] == "'=HYPERLINK(\"x\")"
    assert sheet.loc[0, "E-mail"].startswith("'@")
    assert sheet.loc[0, "Phone"] == "+7 916 123-45-67"  # digits only: nothing to run
    assert sheet.loc[0, "VIN"] == "XW8ABCDE123456789"
    # a missing text is the page's dash; a missing date or number an empty cell
    assert sheet.loc[1, ["VIN", "Phone"]].tolist() == ["–"] * 2
    assert sheet.loc[1, ["Last answer", "Last score"]].isna().all()
    # the same table through the report's own path is masked
    masked = _sheets(write_excel({"list": table}, tmp_path / "y.xlsx"))["list"]
    assert masked.loc[0, "Phone"] == "[phone]" and masked.loc[0, "VIN"] == "[VIN]"


@pytest.mark.parametrize(("args", "message"), [
    (["--month", "2025-01"], "no answers or repair orders in 2025-01; months with answers: "),
    (["--month", "2026-10", "--region", "Atlantis"], "unknown region(s) 'Atlantis'; known "
                                                     "regions: Central, North-West"),
    (["--month", "2026-13"], "is not a month; write it as YYYY-MM"),
])
def test_a_month_without_data_or_an_unknown_region_is_a_clear_error(demo, tmp_path, capsys,
                                                                     args, message):
    _, data = demo
    out = tmp_path / "never.xlsx"
    assert main(["winback", *args, "--data", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not out.exists()


def test_the_report_and_its_notebook_carry_no_contacts(demo, tmp_path):
    from analysis.report import batch

    net, data = demo
    result = batch.run_report("Central", "2026-10", data_dir=data, out_dir=tmp_path,
                              formats=("html",))
    assert result.ok, (result.ename, result.evalue)
    html = _DATA_URI.sub("", result.html.read_text(encoding="utf-8"))
    notebook = json.loads(result.notebook.read_text(encoding="utf-8"))
    shown = [html]
    for cell in notebook["cells"]:
        shown.append("".join(cell.get("source", "")))
        for output in cell.get("outputs", []):
            shown += ["".join(v) if isinstance(v, list) else str(v)
                      for kind, v in output.get("data", {}).items() if not kind.startswith("image/")]
            shown.append("".join(output.get("text", "")))
    text = _DATA_URI.sub("", "\n".join(shown))
    # the loop's sections are there, and say how many customers to call
    assert "Win-back list for the customer-care team" in html
    people = pd.concat([net.responses[c].dropna() for c in ("phone", "email", "vin")])
    assert len(people) > 1000
    assert not [p for p in set(people) if p in text]
    assert not _PHONE_OR_EMAIL.search(text)


# --- one count, one place (issue 26, item 5) --------------------------------------------------

PLANTED_VIN = "XW8PLANTED0000001"


@pytest.fixture(scope="module")
def window_store(ingested_store):
    """14 months of data and one customer whose only visit was on the last day of the month
    twelve months before the report month: 365 days before its end, so lapsed (not yet lost),
    and outside the twelve trend months a report reads."""
    from analysis.synthetic import make_network

    net = make_network(n_dealers=4, n_regions=2, months=14, responses_per_month=300, seed=4)
    visit = net.repair_orders.iloc[[0]].assign(
        ro_id="RO9999999", vin=PLANTED_VIN, opened_at=pd.Timestamp("2025-10-31 10:00"),
        closed_at=pd.Timestamp("2025-10-31 16:00"))
    net.repair_orders = pd.concat([net.repair_orders, visit], ignore_index=True)
    return ingested_store("winback-window", net), net, visit["dealer_id"].iloc[0]


def test_the_report_and_the_export_count_the_same_customers(window_store, monkeypatch):
    from analysis.report import sections
    from analysis.report.book import ReportBook
    from analysis.report.data import load_report_data

    data_dir, net, dealer = window_store
    region = net.dealers.set_index("dealer_id").loc[dealer, "region"]
    shown, listed = [], []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    counted = retention.load_win_back

    def spy(*args, **kwargs):  # the list the report counts
        listed.append(counted(*args, **kwargs))
        return listed[-1]

    monkeypatch.setattr(sections.retention, "load_win_back", spy)
    data = load_report_data(region=region, data_dir=data_dir)
    try:
        assert data.month == "2026-10"
        first = data.months[0]
        # the report's own frames start twelve months back: the planted visit is not in them
        assert PLANTED_VIN not in set(data.repair_orders["vin"])
        service = data.responses.loc[data.responses["touchpoint"] == "service"]
        own = retention.win_back(data.repair_orders, service,
                                 as_of=pd.Period(data.month, freq="M").end_time)
        sections.customers(ReportBook("en"), data)
    finally:
        data.close()
    export = winback.load_win_back("2026-10", regions=[region], data_dir=data_dir)
    lapsed = export.loc[export["reason"] == "lapsed"]
    assert PLANTED_VIN in set(lapsed["vin"])
    # the count the report used to make from its own frames missed exactly the customers
    # last seen before its first trend month (the planted one and any the demo has)
    before = lapsed["last_visit"] < pd.Period(first, freq="M").start_time
    assert PLANTED_VIN in set(lapsed.loc[before, "vin"])
    assert (own["reason"] == "lapsed").sum() == len(lapsed) - before.sum()
    # now the report counts the export's list, customer by customer
    report_list, export_list = listed  # the export reads the same function
    pd.testing.assert_frame_equal(report_list, export_list)
    keys = ["dealer_id", "vin", "reason"]
    pd.testing.assert_frame_equal(report_list[keys], export[keys])
    text = " ".join(str(getattr(obj, "data", "")) for obj in shown)
    detractors = int((export["reason"] == "detractor").sum())
    assert f"{detractors} recent detractors and {len(lapsed)} lapsed customers" in text


def test_the_list_reads_back_to_the_last_day_a_customer_is_not_yet_lost():
    assert retention.win_back_months("2026-10") == tuple(
        str(p) for p in pd.period_range("2025-10", "2026-10", freq="M"))
    # 365 days before the end of a month is still within twelve months of 30.44 days
    assert retention.win_back_months("2026-03")[0] == "2025-03"
