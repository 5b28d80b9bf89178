"""A corpus of survey exports shaped as vendors, CRMs and Excel write them (issue 24, item 7).

Each case is what a team would send the first time: a SurveyMonkey-like CSV with two header
rows, a Qualtrics-like workbook with three header rows read through a column map (with a CRM's
dealers workbook: title rows and a totals row), a Google-Forms-like workbook (a timestamp and
each question's wording as its header), a four-column Windows-1251 CSV that names dealers and
comes without a dealers file, and a one-dealer file whose comments are all "нет", "-" or empty.

The answers come from the synthetic network (so root causes, drivers and dealers carry its
planted structure); every case plants bad rows whose lines it records, and lists the phones and
e-mails it wrote (they must never show on a page).

``python tests/vendor_corpus.py OUT_DIR`` writes the corpus for a look; the tests call
:func:`build`.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

DRIVERS = ("product_quality", "repair_quality", "booking", "staff", "atmosphere")


@dataclass
class Export:
    """One file of a case: where it is, its table, extra ingest arguments, the data rows it
    holds and the lines (as a person counts them) of the rows planted bad."""

    path: Path
    table: str
    rows: int
    bad_lines: tuple[int, ...] = ()
    args: tuple[str, ...] = ()


@dataclass
class Case:
    """A team's first delivery: its files in ingest order and what must never be shown."""

    name: str
    exports: list[Export]
    pii: list[str] = field(default_factory=list)


def _network(seed: int, *, dealers: int = 6, regions: int = 2, per_month: int = 160):
    from analysis.synthetic import make_network

    return make_network(n_dealers=dealers, n_regions=regions, months=2,
                        responses_per_month=per_month, seed=seed)


def _pii(frame: pd.DataFrame) -> list[str]:
    return [str(v) for col in ("phone", "email") if col in frame
            for v in frame[col].dropna().unique()]


def _text(value: object) -> str:
    """A cell as an export writes it: empty for a missing value."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _to_five(rating: float) -> object:
    """A 1-10 rating on the 1-5 scale vendors' matrix questions use."""
    return "" if pd.isna(rating) else str(math.ceil(rating / 2))


def _us_time(stamp: pd.Timestamp) -> str:
    hour = stamp.hour % 12 or 12
    return (f"{stamp.month}/{stamp.day}/{stamp.year} {hour}:{stamp.minute:02d}:"
            f"{stamp.second:02d} {'AM' if stamp.hour < 12 else 'PM'}")


def survey_monkey(out: Path) -> Case:
    """CSV, UTF-8 with BOM, ",": SurveyMonkey's two header rows (the question, then "Response"
    or a matrix item under a question written once), US dates with AM/PM, dealers named with
    their region, drivers on a 1-5 matrix, respondents' e-mails and names."""
    net = _network(11)
    r = net.responses.merge(net.dealers, on="dealer_id")
    visit = {"service": "Service", "sales_new": "New car sales", "sales_used": "Used car sales",
             "roadside": "Roadside assistance", "hotline": "Importer hotline"}
    top = ["Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address",
           "Email Address", "First Name", "Last Name", "Custom Data 1", "Dealer", "Region",
           "How likely is it that you would recommend this dealer to a friend or colleague?",
           "How would you rate the dealer on the following?", "", "", "", "",
           "What is the main reason for your score?", "Which visit was it?"]
    second = ["", "", "", "", "", "", "", "", "", "Response", "Response", "Response",
              "Product quality", "Repair quality", "Booking", "Staff", "Atmosphere",
              "Open-Ended Response", "Response"]
    rows = []
    for i, a in enumerate(r.itertuples()):
        start = a.responded_at - pd.Timedelta(minutes=4)
        rows.append([str(11400000000 + i), "431550101", _us_time(start),
                     _us_time(a.responded_at), f"10.0.{i // 250}.{i % 250}", _text(a.email),
                     "Ivan", "Petrov", "", a.dealer_name, a.region, str(a.nps),
                     *(_to_five(getattr(a, d)) for d in DRIVERS), _text(a.comment),
                     visit[a.touchpoint]])
    header_rows = 2
    bad = {3: (11, "11"), 17: (11, "")}  # row -> (column, value): out of range, skipped
    for row, (col, value) in bad.items():
        rows[row][col] = value
    path = out / "surveymonkey_export.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerows([top, second, *rows])
    return Case("survey_monkey", [Export(path, "responses", len(rows),
                                        tuple(header_rows + k + 1 for k in sorted(bad)))],
                _pii(r))


def _xlsx(path: Path, rows: list[list[object]]) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)


def qualtrics(out: Path) -> Case:
    """.xlsx with Qualtrics' three header rows (ids, the question text, ImportId JSON), read
    through a column map; drivers 0-10; touchpoints in Russian words; dealer codes, with a
    CRM's dealers workbook (title rows above the header, a totals row at the end)."""
    net = _network(12)
    r = net.responses
    words = {"service": "Сервис", "sales_new": "Продажа новых", "sales_used": "Продажа с пробегом",
             "roadside": "Помощь на дорогах", "hotline": "Горячая линия"}
    ids = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)",
           "Finished", "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName",
           "RecipientEmail", "ExternalReference", "DistributionChannel", "UserLanguage", "Q1",
           "Q1_NPS_GROUP", "Q2_1", "Q2_2", "Q2_3", "Q2_4", "Q2_5", "Q3", "Q4", "Q5"]
    texts = ["Start Date", "End Date", "Response Type", "IP Address", "Progress",
             "Duration (in seconds)", "Finished", "Recorded Date", "Response ID",
             "Recipient Last Name", "Recipient First Name", "Recipient Email",
             "External Data Reference", "Distribution Channel", "User Language",
             "How likely are you to recommend our dealership to a friend or colleague? "
             "(0 - not at all likely, 10 - extremely likely)",
             "How likely are you to recommend our dealership - Group",
             "Please rate from 0 to 10 - Product quality", "Please rate - Repair quality",
             "Please rate - Booking a visit", "Please rate - Staff", "Please rate - Atmosphere",
             "What could we do better?", "Dealer code", "Visit type"]
    imports = [json.dumps({"ImportId": i}) for i in
               ("startDate", "endDate", "status", "ipAddress", "progress", "duration",
                "finished", "recordedDate", "_recordId", "recipientLastName",
                "recipientFirstName", "recipientEmail", "externalDataReference",
                "distributionChannel", "userLanguage", "QID1", "QID1_NPS_GROUP", "QID2_1",
                "QID2_2", "QID2_3", "QID2_4", "QID2_5", "QID3_TEXT", "QID4_TEXT", "QID5")]
    rows = []
    for i, a in enumerate(r.itertuples()):
        when = a.responded_at.strftime("%Y-%m-%d %H:%M:%S")
        group = "Promoter" if a.nps >= 9 else "Passive" if a.nps >= 7 else "Detractor"
        rows.append([when, when, "IP Address", "10.1.0.1", 100, 240, "True", when,
                     f"R_{i:04d}xQ3kPz{i % 97:02d}", "Petrov", "Ivan",
                     _text(a.email) or None, None, "email", "RU", a.nps, group,
                     *(None if pd.isna(getattr(a, d)) else int(getattr(a, d)) for d in DRIVERS),
                     _text(a.comment) or None, a.dealer_id, words[a.touchpoint]])
    bad = {5: (23, "D999"), 40: (24, "Шиномонтаж")}  # an unknown dealer, an unknown visit
    for row, (col, value) in bad.items():
        rows[row][col] = value
    path = out / "qualtrics_export.xlsx"
    _xlsx(path, [ids, texts, imports, *rows])
    mapping = out / "qualtrics_columns.yaml"
    mapping.write_text(
        "# the Qualtrics survey's question ids -> the workbench's columns\n"
        "responses:\n  ResponseId: response_id\n  RecordedDate: responded_at\n"
        "  Q4: dealer_id\n  Q5: touchpoint\n  Q2_1: product_quality\n  Q2_2: repair_quality\n"
        "  Q2_3: booking\n  Q2_4: staff\n  Q2_5: atmosphere\n  Q3: comment\n"
        "  RecipientEmail: email\n", encoding="utf-8")
    dealers = out / "crm_dealers.xlsx"
    d = net.dealers
    _xlsx(dealers, [["Отчет: дилерская сеть"], ["Выгружено 01.11.2026 из CRM"], [],
                    ["Код дилера", "Наименование ДЦ", "Регион", "Город"],
                    *d[["dealer_id", "dealer_name", "region", "city"]].values.tolist(),
                    ["Итого", len(d), None, None]])
    header_rows = 3
    return Case("qualtrics", [
        Export(dealers, "dealers", len(d) + 1, (4 + len(d) + 1,)),
        Export(path, "responses", len(rows), tuple(header_rows + k + 1 for k in sorted(bad)),
               ("--columns", str(mapping))),
    ], _pii(r))


def google_forms(out: Path) -> Case:
    """.xlsx as Google Sheets saves a form's answers: a native timestamp, every question's
    wording as its header (Russian), dealers chosen by name from a list, no region, drivers
    asked in the question's words, the respondent's e-mail."""
    net = _network(13)
    r = net.responses.merge(net.dealers, on="dealer_id")
    header = ["Отметка времени", "Адрес электронной почты", "Выберите дилерский центр",
              "Насколько вероятно, что вы порекомендуете наш дилерский центр друзьям и "
              "знакомым? (0 - точно нет, 10 - точно да)",
              "Оцените качество ремонта", "Оцените работу персонала",
              "Что нам стоит улучшить?", "Оставьте телефон, если хотите, чтобы мы перезвонили"]
    rows = []
    for a in r.itertuples():
        rows.append([a.responded_at.to_pydatetime(), _text(a.email) or None, a.dealer_name,
                     a.nps,
                     None if pd.isna(a.repair_quality) else int(a.repair_quality),
                     None if pd.isna(a.staff) else int(a.staff), _text(a.comment) or None,
                     _text(a.phone) or None])
    bad = (9,)
    rows[9][0] = "вчера вечером"  # someone typed over a timestamp in the sheet
    path = out / "google_forms_answers.xlsx"
    _xlsx(path, [header, *rows])
    return Case("google_forms", [Export(path, "responses", len(rows),
                                        tuple(1 + k + 1 for k in bad))], _pii(r))


def four_columns(out: Path) -> Case:
    """The smallest export: score, dealer name, date, comment; Windows-1251 with ";"; three
    dealers, about 200 answers over two months; no dealers file, no region."""
    net = _network(14, dealers=3, regions=1, per_month=100)
    r = net.responses.merge(net.dealers, on="dealer_id")
    rows = [[str(a.nps), a.dealer_name, a.responded_at.strftime("%d.%m.%Y"),
             _text(a.comment)] for a in r.itertuples()]
    bad = {12: (0, "15"), 30: (2, "31.02.2026")}
    for row, (col, value) in bad.items():
        rows[row][col] = value
    path = out / "nps_export_1251.csv"
    with path.open("w", encoding="cp1251", errors="replace", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerows([["Оценка", "Дилер", "Дата", "Комментарий"], *rows])
    return Case("four_columns", [Export(path, "responses", len(rows),
                                        tuple(1 + k + 1 for k in sorted(bad)))], [])


def one_dealer(out: Path) -> Case:
    """One dealer, its region, drivers in Russian headers, and comments that say nothing:
    "нет", "-" or empty."""
    net = _network(15, dealers=1, regions=1, per_month=90)
    r = net.responses.merge(net.dealers, on="dealer_id")
    rng = np.random.default_rng(15)
    said = rng.choice(["нет", "-", "", "Нет", " нет "], size=len(r))
    rows = [[a.responded_at.strftime("%d.%m.%Y %H:%M"), a.dealer_name, a.region, str(a.nps),
             *("" if pd.isna(getattr(a, d)) else str(int(getattr(a, d)))
               for d in ("repair_quality", "booking", "staff")), text, _text(a.phone)]
            for a, text in zip(r.itertuples(), said, strict=True)]
    bad = (20,)
    rows[20][3] = "девять с половиной"
    path = out / "one_dealer.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerows([["Дата ответа", "Дилер", "Регион", "Оценка NPS", "Качество ремонта",
                           "Запись на сервис", "Персонал", "Комментарий", "Телефон"], *rows])
    return Case("one_dealer", [Export(path, "responses", len(rows),
                                      tuple(1 + k + 1 for k in bad))], _pii(r))


BUILDERS = (survey_monkey, qualtrics, google_forms, four_columns, one_dealer)


def build(directory: str | Path) -> list[Case]:
    """Write every case under ``directory/<case>/``; the cases, in order."""
    cases = []
    for builder in BUILDERS:
        out = Path(directory) / builder.__name__
        out.mkdir(parents=True, exist_ok=True)
        cases.append(builder(out))
    return cases


if __name__ == "__main__":
    for case in build(sys.argv[1] if len(sys.argv) > 1 else "vendor-corpus"):
        for e in case.exports:
            print(f"{case.name:<14} {e.table:<10} {e.rows:>4} rows, bad lines {e.bad_lines}: "
                  f"{e.path} {' '.join(e.args)}")
