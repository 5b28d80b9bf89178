"""A team's own exports, first time (issue 24): the minimum export, survey tools' shapes
(SurveyMonkey's two header rows, Qualtrics' three read through a column map, Google Forms'
timestamp and question wordings), dates decided per column, driver ratings on any scale, the
dealers taken from a responses export, and the dry run. Every file is built here."""

import csv
import datetime
import io
import json

import openpyxl
import pandas as pd
import pytest

from analysis import ingest, schemas, store
from analysis.__main__ import main
from analysis.ingest import IngestError, read_export

NOW = pd.Timestamp("2026-11-15 12:00")
DEALERS = pd.DataFrame({"dealer_id": ["D001", "D002", "D003"],
                        "dealer_name": ["Автоцентр Тула", "Моторс Омск", "Drive Сочи"],
                        "region": ["Central", "Siberia", "South"],
                        "city": ["Тула", "Омск", "Сочи"]})
NAMES = DEALERS["dealer_name"].tolist()


def write_csv(path, rows, *, sep=";", encoding="utf-8"):
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(path, rows):
    book = openpyxl.Workbook()
    for r in rows:
        book.active.append(list(r))
    book.save(path)
    return path


def whole(result, dealers=DEALERS):
    """Every row read is accepted or quarantined, and the accepted rows are valid."""
    assert len(result.accepted) + len(result.quarantined) == result.n_read
    known = result.dealers if result.dealers is not None else dealers
    schemas.validate(result.table, result.accepted, dealers=known, now=NOW)
    return result


def problems(result):
    return dict(zip(result.quarantined["source_line"], result.quarantined["problem"]))


# --- the minimum export: score, dealer, date --------------------------------------------------
def team_export(path, *, extra=()):
    """The analyst's file of issue 24: Windows-1251, ';', dealer names in the code column."""
    rows = [["Оценка", "Код дилера", "Дата", "Точка контакта", "Комментарий"]]
    for i in range(30):
        rows.append([str(i % 11), NAMES[i % 3], f"{1 + i % 28:02d}.{9 + i % 2}.2026 1{i % 10}:05",
                     ["Продажа", "Сервис", "ТО", "Покупка автомобиля"][i % 4],
                     ["", "нет", "Долго ждал выдачи", "Всё отлично"][i % 4]])
    rows.append(rows[1])  # the same answer twice: two customers, not a duplicate
    rows += [list(r) for r in extra]
    return write_csv(path, rows, encoding="cp1251")


BAD = [["11", "Моторс Омск", "01.10.2026 10:00", "Сервис", ""],          # score 11
       ["5", "Моторс Омск", "01.10.2026 10:00", "Шиномонтаж", ""],       # a touchpoint unknown
       ["5", "Моторс Омск", "32.10.2026 10:00", "Сервис", ""]]           # no such day


def test_a_four_column_export_without_a_dealers_table_ingests_whole(tmp_path):
    path = team_export(tmp_path / "team.csv", extra=BAD)
    root = tmp_path / "data"
    record = ingest.ingest_file(path, table="responses", data_root=root, now=NOW)
    r = whole(record.result)
    assert (r.encoding, r.delimiter, r.n_read) == ("cp1251", ";", 34)
    assert len(r.accepted) == 31 and len(r.quarantined) == 3
    got = problems(r)
    assert got[33] == "nps: out of range 0-10 ('11')"
    assert got[34].startswith("touchpoint: not one of: New car sales, ")
    assert "Сервис и ремонт" in got[34] and "(or the codes sales_new, " in got[34]
    assert got[35] == "responded_at: not a date ('32.10.2026 10:00')"
    assert r.accepted["touchpoint"].head(4).tolist() == ["sales_new", "service", "service",
                                                         "sales_new"]
    # the derived answer ids: two identical rows are two answers
    assert r.accepted["response_id"].is_unique
    assert r.accepted["response_id"].str.fullmatch(r"r-[0-9a-f]{12}-[12]").all()
    assert not r.accepted["open_to_dealer"].any()          # params: closed to the dealer
    assert r.accepted[list(schemas.DRIVERS)].isna().all().all()
    # the dealers, from the export
    dealers = store.load("dealers", data_dir=root / "processed")
    assert sorted(dealers["dealer_id"]) == sorted(NAMES)
    assert (dealers["dealer_name"] == dealers["dealer_id"]).all()
    assert set(dealers["region"]) == {"Unassigned"}
    text = record.summary()
    assert "dealers taken from this export: 3 (new to the store" in text
    assert "response_id: derived from the row" in text
    stored = store.load("responses", data_dir=root / "processed")
    assert len(stored) == 31 and set(schemas.DRIVERS) <= set(stored)
    assert stored[list(schemas.DRIVERS)].isna().all().all()
    # re-sending the file stores nothing new
    again = ingest.ingest_file(path, table="responses", data_root=root, now=NOW)
    assert (again.appended.added, again.appended.replaced) == (0, 0)
    assert again.dealers is None
    # a later dealers export completes the dealers it names
    later = write_csv(tmp_path / "dealers.csv", [["Код дилера", "Дилер", "Регион", "Город"],
                                                 ["Моторс Омск", "Моторс Омск", "Siberia",
                                                  "Омск"]])
    ingest.ingest_file(later, table="dealers", data_root=root, now=NOW)
    dealers = store.load("dealers", data_dir=root / "processed").set_index("dealer_id")
    assert dealers.loc["Моторс Омск", "region"] == "Siberia"
    assert dealers.loc["Моторс Омск", "city"] == "Омск"
    assert dealers.loc["Drive Сочи", "region"] == "Unassigned"
    # the next export's dealers are matched to the table, whatever their spelling
    nxt = write_csv(tmp_path / "nov.csv", [["Оценка", "Дилер", "Дата"],
                                           ["9", "МОТОРС  ОМСК", "02.11.2026 10:00"],
                                           ["9", "Нет такого", "02.11.2026 10:00"]])
    r = whole(ingest.ingest_file(nxt, table="responses", data_root=root, now=NOW).result,
              dealers=store.load("dealers", data_dir=root / "processed"))
    assert r.accepted["dealer_id"].tolist() == ["Моторс Омск"]
    assert problems(r) == {3: "dealer_id: unknown dealer (not in the dealers table) "
                              "('Нет такого')"}


def test_dealers_by_code_with_name_region_and_city_columns(tmp_path):
    rows = [["Дата", "Код дилера", "Дилерский центр", "Регион", "Город", "Оценка"],
            ["01.10.2026", "D001", "Автоцентр Тула", "Central", "Тула", "9"],
            ["02.10.2026", "d001", "Автоцентр Тула", "Central", "", "7"],
            ["03.10.2026", "D002", "Моторс Омск", "", "Омск", "3"]]
    r = whole(read_export(write_csv(tmp_path / "x.csv", rows), table="responses", now=NOW,
                          derive_dealers=True))
    assert r.accepted["dealer_id"].tolist() == ["D001", "D001", "D002"]
    assert r.dealers.to_dict("records") == [
        {"dealer_id": "D001", "dealer_name": "Автоцентр Тула", "region": "Central",
         "city": "Тула"},
        {"dealer_id": "D002", "dealer_name": "Моторс Омск", "region": "Unassigned",
         "city": "Омск"}]
    assert "region" not in r.accepted and "city" not in r.accepted
    # with a dealers table the export's own names, regions and cities are not used
    r = whole(read_export(tmp_path / "x.csv", table="responses", now=NOW, dealers=DEALERS))
    assert r.dealers is None and set(r.ignored_columns) == {"Дилерский центр", "Регион",
                                                            "Город"}


def test_touchpoint_for_the_file_in_the_readers_words(tmp_path):
    path = write_csv(tmp_path / "x.csv", [["Дата", "Дилер", "Оценка"],
                                          ["01.10.2026", "Моторс Омск", "9"]])
    r = read_export(path, table="responses", dealers=DEALERS, now=NOW, touchpoint="Продажа")
    assert r.accepted["touchpoint"].tolist() == ["sales_new"]
    assert r.derived["touchpoint"] == "sales_new for every row (--touchpoint)"
    with pytest.raises(IngestError, match="'Шиномонтаж' is not one of: .*Сервис и ремонт"):
        read_export(path, table="responses", dealers=DEALERS, now=NOW, touchpoint="Шиномонтаж")


def test_a_required_column_missing_names_the_accepted_headers(tmp_path):
    path = write_csv(tmp_path / "x.csv", [["Дата", "Дилер", "Комментарий"],
                                          ["01.10.2026", "Моторс Омск", "ok"]])
    with pytest.raises(IngestError, match="nps.*оценка.*recommend.*--columns"):
        read_export(path, table="responses", dealers=DEALERS, now=NOW)


# --- driver ratings on their own scales -------------------------------------------------------
def test_driver_scales_are_detected_per_column_or_declared_and_logged(tmp_path):
    header = ["Дата", "Код дилера", "Оценка", "Booking", "Staff", "Atmosphere", "Product quality"]
    rows = [header,
            ["01.10.2026", "D001", "9", "5", "7", "0", ""],
            ["02.10.2026", "D001", "8", "4", "6", "10", ""],
            ["03.10.2026", "D002", "3", "1", "2", "4", ""],
            ["04.10.2026", "D002", "6", "3", "11", "8", ""]]   # 11: on no scale
    path = write_csv(tmp_path / "ratings.csv", rows)
    r = whole(read_export(path, table="responses", dealers=DEALERS, now=NOW))
    assert r.scales == {"booking": (1, 5), "staff": (1, 7), "atmosphere": (0, 10)}
    assert r.details["booking"] == "scale 1-5, detected"
    assert r.details["product_quality"] == "no ratings in this column"
    assert problems(r) == {5: "staff: outside the scale 1-7 ('11')"}
    assert r.accepted["booking"].tolist() == [5.0, 4.0, 1.0]   # stored as they came
    assert "'Booking' -> booking (scale 1-5, detected)" in r.summary()
    declared = read_export(path, table="responses", dealers=DEALERS, now=NOW,
                           scales={"booking": "1-10", "*": "1-5"})
    assert declared.scales["booking"] == (1, 10) and declared.scales["staff"] == (1, 5)
    assert declared.details["booking"] == "scale 1-10, declared"
    assert problems(declared)[2] == "staff: outside the scale 1-5 ('7'); atmosphere: outside " \
                                    "the scale 1-5 ('0')"
    with pytest.raises(IngestError, match="outside 0-10"):
        read_export(path, table="responses", dealers=DEALERS, now=NOW, scales={"*": "1-100"})
    # the log and the commit carry the scales; rating_scales reads them back
    root = tmp_path / "data"
    ingest.ingest_file(write_csv(tmp_path / "d.csv", [list(DEALERS)] + DEALERS.values.tolist()),
                       table="dealers", data_root=root, now=NOW)
    ingest.ingest_file(path, table="responses", data_root=root, now=NOW)
    scales = ingest.rating_scales(root / "processed")
    assert scales["booking"] == (1, 5) and scales["atmosphere"] == (0, 10)
    assert scales["product_quality"] == (1, 10)          # not carried: params/drivers.yaml
    commit = store.commit_log(root / "processed" / "responses").iloc[-1]
    assert commit["ingest"]["scales"]["staff"] == [1, 7]


def test_stored_ratings_validate_on_the_union_of_the_scales():
    answers = pd.DataFrame({
        "response_id": ["R1", "R2"], "dealer_id": ["D001"] * 2, "touchpoint": ["service"] * 2,
        "responded_at": pd.to_datetime(["2026-10-01", "2026-10-02"]), "nps": [9, 0],
        **{d: [0.0, 10.0] for d in schemas.DRIVERS}, "open_to_dealer": [True, False]})
    schemas.validate("responses", answers)
    with pytest.raises(Exception, match="less_than_or_equal_to"):
        schemas.validate("responses", answers.assign(booking=[11.0, 1.0]))
    with pytest.raises(Exception, match="less_than_or_equal_to"):
        schemas.validate("responses", answers.assign(nps=[11, 1]))


# --- survey tools' shapes ---------------------------------------------------------------------
def surveymonkey(path):
    top = ["Respondent ID", "Collector ID", "Start Date", "End Date", "Dealer",
           "How likely are you to recommend this dealer to a friend or colleague?",
           "Please rate the dealer on the following:", "", "", "Any comments?"]
    sub = ["", "", "", "", "Response", "Response", "Booking", "Staff", "Atmosphere",
           "Open-Ended Response"]
    rows = [top, sub]
    for i in range(12):
        day = 3 + i
        rows.append([str(114000 + i), "4001", f"10/{day}/2026 09:12:01 AM",
                     f"10/{day}/2026 09:{15 + i}:40 PM", NAMES[i % 3], str(i % 11),
                     str(1 + i % 5), str(1 + (i + 1) % 5), str(1 + (i + 2) % 5),
                     "" if i % 2 else f"comment {i}"])
    rows.append(["114099", "4001", "10/20/2026 09:12:01 AM", "10/20/2026 10:00:00 AM",
                 NAMES[0], "11", "3", "3", "3", ""])                       # planted: score 11
    return write_csv(path, rows, sep=",")


def test_surveymonkey_two_header_rows_are_one(tmp_path):
    r = whole(read_export(surveymonkey(tmp_path / "sm.csv"), table="responses",
                          dealers=DEALERS, now=NOW))
    assert r.n_read == 13 and len(r.accepted) == 12
    assert problems(r) == {15: "nps: out of range 0-10 ('11')"}
    assert "header: lines 1-2 combined" in r.notes
    assert r.columns == {
        "Respondent ID": "response_id", "End Date": "responded_at", "Dealer": "dealer_name",
        "How likely are you to recommend this dealer to a friend or colleague?": "nps",
        "Please rate the dealer on the following: - Booking": "booking",
        "Please rate the dealer on the following: - Staff": "staff",
        "Please rate the dealer on the following: - Atmosphere": "atmosphere",
        "Any comments?": "comment"}
    assert r.details["nps"] == "by its wording"
    assert r.details["responded_at"] == ("mm/dd/yyyy h:MM:SS AM/PM; chosen over "
                                         "'Start Date'")
    assert r.details["booking"] == "scale 1-5, detected"
    assert r.accepted["responded_at"].iloc[0] == pd.Timestamp("2026-10-03 21:15:40")
    assert r.accepted["dealer_id"].tolist()[:3] == ["D001", "D002", "D003"]
    assert "Start Date" not in r.columns and "Collector ID" in r.ignored_columns


def qualtrics(path):
    ids = ["StartDate", "EndDate", "RecordedDate", "ResponseId", "Q1", "Q2_1", "Q2_2", "Q3",
           "DealerCode"]
    text = ["Start Date", "End Date", "Recorded Date", "Response ID",
            "How likely are you to recommend us? (0-10)", "Please rate - Booking",
            "Please rate - Staff", "What could we do better?", "Dealer code"]
    imports = [json.dumps({"ImportId": i}) for i in
               ("startDate", "endDate", "recordedDate", "_recordId", "QID1", "QID2_1", "QID2_2",
                "QID3_TEXT", "QID4")]
    rows = [ids, text, imports]
    for i in range(8):
        stamp = datetime.datetime(2026, 10, 5 + i, 10, 1, 2)
        rows.append([stamp, stamp, stamp, f"R_{i:03d}", i + 2, 1 + i % 7, 2 + i % 5,
                     "ok" if i % 3 else None, DEALERS["dealer_id"][i % 3]])
    rows.append([stamp, stamp, stamp, "R_900", 9, 8, 3, None, "D001"])    # planted: 8 on 1-7
    return write_xlsx(path, rows)


@pytest.fixture()
def root(tmp_path):
    """A data root whose store knows the dealers."""
    path = write_csv(tmp_path / "dealers.csv", [list(DEALERS)] + DEALERS.values.tolist())
    ingest.ingest_file(path, table="dealers", data_root=tmp_path / "data", now=NOW)
    return tmp_path / "data"


def test_qualtrics_three_header_rows_through_a_column_map(tmp_path, root, capsys):
    columns = tmp_path / "map.yaml"
    columns.write_text("responses: {Q1: nps, Q2_1: booking, Q2_2: staff, Q3: comment, "
                       "DealerCode: dealer_id}\nscales: {booking: 1-7}\n", encoding="utf-8")
    path = qualtrics(tmp_path / "qualtrics.xlsx")
    assert main(["ingest", str(path), "--table", "responses", "--columns", str(columns),
                 "--data", str(root), "--now", "2026-11-15 12:00"]) == 0
    out = capsys.readouterr().out
    assert "read 9, accepted 8, quarantined 1" in out   # the ImportId row is no answer
    assert "note: header: rows 1-3 combined; the ImportId row names nothing" in out
    assert "'Q2_1 - Please rate - Booking' -> booking (scale 1-7, declared)" in out
    assert "'RecordedDate - Recorded Date' -> responded_at (date cells; chosen over " \
           "'EndDate - End Date', 'StartDate - Start Date')" in out
    assert "booking: outside the scale 1-7" in out
    stored = store.load("responses", data_dir=root / "processed")
    assert sorted(stored["response_id"])[:2] == ["R_000", "R_001"]
    assert stored["nps"].max() == 9


def test_a_column_map_naming_an_unknown_column_is_an_error(tmp_path):
    with pytest.raises(IngestError, match="unknown column.*'score' \\(for 'Q1'\\)"):
        ingest.load_column_map({"responses": {"Q1": "score"}})
    with pytest.raises(IngestError, match="'answers' is neither a table"):
        ingest.load_column_map({"answers": {"Q1": "nps"}})
    with pytest.raises(IngestError, match="not LOW-HIGH"):
        ingest.load_column_map({"scales": {"booking": "five"}})


def google_forms(path):
    header = ["Timestamp", "Dealer", "Region",
              "How likely are you to recommend this dealer to friends? (0 to 10)",
              "Оцените процесс записи на сервис", "Comments"]
    rows = [header]
    for i in range(10):
        rows.append([f"10/{13 + i}/2026 {8 + i}:05:{i:02d}", ["Север Авто", "Юг Моторс"][i % 2],
                     ["North", "South"][i % 2], i, 1 + i % 5, "" if i % 2 else "Долго"])
    rows.append(["10/33/2026 8:05:00", "Север Авто", "North", 5, 3, ""])   # no such day
    return write_xlsx(path, rows)


def test_google_forms_timestamp_wording_and_us_dates(tmp_path):
    root = tmp_path / "data"
    record = ingest.ingest_file(google_forms(tmp_path / "form.xlsx"), table="responses",
                                data_root=root, now=NOW)
    r = whole(record.result)
    assert (r.n_read, len(r.accepted)) == (11, 10)
    assert problems(r) == {12: "responded_at: not a date ('10/33/2026 8:05:00')"}
    assert r.details["responded_at"] == "mm/dd/yyyy HH:MM:SS"
    assert r.details["nps"] == "by its wording"
    # no alias names it, its wording ("записи") and its values (whole numbers) do
    assert r.columns["Оцените процесс записи на сервис"] == "booking"
    assert r.details["booking"] == "scale 1-5, detected; by its wording"
    assert r.accepted["responded_at"].iloc[0] == pd.Timestamp("2026-10-13 08:05:00")
    dealers = store.load("dealers", data_dir=root / "processed").sort_values("dealer_id")
    assert dealers["region"].tolist() == ["North", "South"]


def test_russian_nps_wording_and_excel_serial_dates(tmp_path):
    rows = [["Дата", "ДЦ",
             "Насколько вероятно, что вы порекомендуете наш дилерский центр? (от 0 до 10)",
             "Почему вы бы порекомендовали нас?"],
            [46300.5, "Моторс Омск", 9, "Быстро"],
            ["46301.25", "Моторс Омск", 10, ""]]
    r = whole(read_export(write_xlsx(tmp_path / "ru.xlsx", rows), table="responses",
                          dealers=DEALERS, now=NOW))
    nps_header = rows[0][2]
    assert r.columns[nps_header] == "nps" and r.details["nps"] == "by its wording"
    assert r.details["responded_at"] == "Excel serial numbers"
    assert r.accepted["responded_at"].tolist() == [pd.Timestamp("2026-10-05 12:00"),
                                                   pd.Timestamp("2026-10-06 06:00")]


def test_a_crm_workbook_words_drivers_in_any_case_and_a_form_tool_its_submit_date(tmp_path):
    """Shapes met after the corpus was written: a CRM workbook whose title rows stand above
    the header and whose drivers are asked in the genitive ("Оценка качества ремонта"), and a
    form tool's CSV with a start and a submit date (the answer is given when submitted)."""
    rows = [["Отчет по опросу клиентов"], ["Период: 01.10.2026 - 31.10.2026"], [],
            ["№ п/п", "Дата опроса", "ДЦ", "NPS (0-10)", "Оценка качества ремонта (1-5)",
             "Оценка записи на сервис (1-5)"],
            [1, datetime.datetime(2026, 10, 5), "Моторс Омск", 9, 5, 4],
            [2, datetime.datetime(2026, 10, 6), "Моторс Омск", 6, 2, 3]]
    r = whole(read_export(write_xlsx(tmp_path / "crm.xlsx", rows), table="responses",
                          dealers=DEALERS, now=NOW))
    assert r.columns["Оценка качества ремонта (1-5)"] == "repair_quality"
    assert r.details["repair_quality"] == "scale 1-5, detected; by its wording"
    assert r.accepted["repair_quality"].tolist() == [5, 2]
    form = write_csv(tmp_path / "form.csv", [
        ["#", "Which dealership did you visit?", "How likely are you to recommend us? (0-10)",
         "Start Date (UTC)", "Submit Date (UTC)"],
        ["a1", "Моторс Омск", "9", "2026-10-31 23:58:00", "2026-11-01 00:03:00"]], sep=",")
    r = whole(read_export(form, table="responses", dealers=DEALERS, now=NOW))
    assert r.columns["Submit Date (UTC)"] == "responded_at"
    assert r.accepted["responded_at"].tolist() == [pd.Timestamp("2026-11-01 00:03")]


def ambiguous(path):
    return write_csv(path, [["Date", "Dealer code", "Score"], ["10/3/2026", "D001", "9"],
                            ["11/2/2026", "D002", "7"], ["1/2/2026", "D003", "5"]], sep=",")


def test_an_ambiguous_date_column_is_refused_with_the_fix(tmp_path, capsys):
    path = ambiguous(tmp_path / "dates.csv")
    with pytest.raises(IngestError, match=r"'Date' \(responded_at\).*day/month and as "
                                          r"month/day.*--date-format.*formats:"):
        read_export(path, table="responses", dealers=DEALERS, now=NOW)
    us = read_export(path, table="responses", dealers=DEALERS, now=NOW, date_format="%m/%d/%Y")
    assert us.accepted["responded_at"].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-10-03", "2026-11-02", "2026-01-02"]
    ru = read_export(path, table="responses", dealers=DEALERS, now=NOW,
                     columns={"formats": {"responded_at": "%d/%m/%Y"}})
    assert ru.accepted["responded_at"].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-03-10", "2026-02-11", "2026-02-01"]
    assert ru.details["responded_at"] == "dd/mm/yyyy"
    # the command line: a message, no traceback, a non-zero exit
    assert main(["ingest", str(path), "--table", "responses", "--data",
                 str(tmp_path / "data"), "--now", "2026-11-15 12:00"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: column 'Date'") and "Traceback" not in err


# --- the dry run ------------------------------------------------------------------------------
def test_check_writes_nothing_and_says_what_the_report_will_show(tmp_path, capsys):
    path = team_export(tmp_path / "team.csv", extra=BAD)
    data = tmp_path / "data"
    data.mkdir()
    assert main(["ingest", str(path), "--check", "--data", str(data),
                 "--now", "2026-11-15 12:00"]) == 0
    assert list(data.iterdir()) == []
    out = capsys.readouterr().out
    for line in ["team.csv (responses, cp1251, ';'; --table responses assumed): checked, "
                 "nothing written",
                 "    'Оценка' -> nps",
                 "    'Дата' -> responded_at (dd.mm.yyyy HH:MM)",
                 "    'Точка контакта' -> touchpoint",
                 "    response_id: derived from the row (the same row gets the same id)",
                 "  rows read 34: would accept 31, quarantine 3",
                 "  dealers taken from this export: 3 (new to the store, which had no dealers "
                 "export yet; one completes them)",
                 "report sections (month 2026-10):",
                 "  headline: ok",
                 "  drivers: no rating columns",
                 "  regions: 1 region (2 needed: a dealers export with regions)",
                 "  cities: no dealer cities (a dealers export with a city column)"]:
        assert line in out.splitlines(), line
    assert any(line.startswith("  root causes: ") and "distinct comments below 9 (10 needed)"
               in line for line in out.splitlines())


def test_check_with_a_store_and_a_touchpoint(tmp_path, root, capsys):
    path = surveymonkey(tmp_path / "sm.csv")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    assert main(["ingest", str(path), "--table", "responses", "--check", "--data", str(root),
                 "--touchpoint", "Сервис", "--now", "2026-11-15 12:00"]) == 0
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    out = capsys.readouterr().out
    assert "    touchpoint: service for every row (--touchpoint)" in out
    assert "    'Dealer' -> dealer_name (the dealer; matched to the dealers table by name or " \
           "spelling in 13 rows)" in out
    assert "  drivers: few_ratings" not in out
    assert "  regions: ok" in out and "  cities: ok" in out


def test_cli_errors_name_the_file_without_a_traceback(tmp_path, capsys):
    bad_map = tmp_path / "map.yaml"
    bad_map.write_text("responses: {Q1: score}\n", encoding="utf-8")
    path = team_export(tmp_path / "team.csv")
    assert main(["ingest", str(path), "--table", "responses", "--columns", str(bad_map)]) == 2
    assert "error: " in capsys.readouterr().err
    assert main(["ingest", str(tmp_path / "none.csv"), "--check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "none.csv: no such file" in err
    assert main(["ingest", str(path), "--check", "--scale", "booking=1-5", "--scale", "x"]) == 1
    assert "not LOW-HIGH" in capsys.readouterr().err


def test_month_by_month_exports_without_a_dealers_file_keep_bringing_their_dealers(tmp_path):
    """A team that never sends a dealers file: each month's export brings the dealers the
    store does not know yet (spellings of a known dealer are matched, not added); once a
    dealers export was ingested, an unknown dealer is quarantined instead."""
    root = tmp_path / "data"
    first, second, third = (tmp_path / n for n in ("sep.csv", "oct.csv", "nov.csv"))
    first.write_text("Оценка;Дилер;Дата\n9;Альфа;01.09.2026\n5;Бета;02.09.2026\n",
                     encoding="cp1251")
    second.write_text("Оценка;Дилер;Дата\n9;альфа;01.10.2026\n7;Гамма;02.10.2026\n",
                      encoding="cp1251")
    for path in (first, second):
        ingest.ingest_file(path, table="responses", data_root=root, now=NOW)
    processed = root / "processed"
    assert sorted(store.load("dealers", data_dir=processed)["dealer_id"]) == [
        "Альфа", "Бета", "Гамма"]
    assert sorted(store.load("responses", data_dir=processed)["dealer_id"]) == [
        "Альфа", "Альфа", "Бета", "Гамма"]
    dealers = tmp_path / "dealers.csv"
    dealers.write_text("Код дилера;Дилер;Регион\nАльфа;Альфа;North\nБета;Бета;North\n"
                       "Гамма;Гамма;South\n", encoding="utf-8")
    ingest.ingest_file(dealers, table="dealers", data_root=root, now=NOW)
    third.write_text("Оценка;Дилер;Дата\n9;Дельта;01.11.2026\n8;Бета;02.11.2026\n",
                     encoding="cp1251")
    record = ingest.ingest_file(third, table="responses", data_root=root, now=NOW)
    assert len(record.result.accepted) == 1
    assert "unknown dealer" in record.result.quarantined["problem"].iloc[0]
