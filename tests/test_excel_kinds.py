"""A workbook's number formats come from what each column is (its kind, said where the table
is built: :mod:`analysis.report.kinds`), never from the words of its header: the same tables
under other headers, or in the other language, get the same format in every cell."""

from dataclasses import replace

import openpyxl
import pytest
from report_pages import render_sections

from analysis.report import excel
from analysis.report import format as F
from analysis.report import kinds as K


@pytest.fixture(scope="module")
def books(six_dealer_data):
    """Every section of the six-dealer network's report, in English and in Russian."""
    made = {}
    with pytest.MonkeyPatch.context() as mp:
        for language in ("en", "ru"):
            made[language] = render_sections(mp, six_dealer_data, language=language)[2]
    return made


def _tables(book) -> dict:
    return {title: K.resolved(frame, book._decimals.get(title, F.DECIMALS))
            for title, frame in book.tables.items()}


def _formats(path) -> list[tuple[str, list[list[str]]]]:
    """Each sheet's number format of every cell below the header, column by column."""
    wb = openpyxl.load_workbook(path)
    return [(ws.title, [[cell.number_format for cell in column[1:]]
                        for column in ws.iter_cols()]) for ws in wb.worksheets[1:]]


def _neutral(frame):
    """The frame with every header replaced by ``column k``, each column keeping its kind
    (a page column's parts still point at their page column)."""
    kinds = frame.attrs["kinds"]
    names = {str(h): f"column {k}" for k, h in enumerate(frame.columns)}
    out = frame.set_axis([names[str(h)] for h in frame.columns], axis=1)
    out.attrs = {**frame.attrs, "kinds": {
        names[h]: replace(kind, into=names.get(kind.into, kind.into))
        for h, kind in kinds.items() if h in names}}
    return out


@pytest.mark.parametrize("language", ["en", "ru"])
def test_formats_do_not_read_the_headers(books, language, tmp_path):
    book = books[language]
    tables = _tables(book)
    said = excel.write_excel(tables, tmp_path / "said.xlsx", language=language)
    neutral = excel.write_excel({title: _neutral(frame) for title, frame in tables.items()},
                                tmp_path / "neutral.xlsx", language=language)
    assert _formats(said) == _formats(neutral)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_each_cell_has_the_format_of_its_columns_kind(books, language, tmp_path):
    book = books[language]
    tables = _tables(book)
    path = excel.write_excel(tables, tmp_path / "book.xlsx", language=language)
    currency = excel.currency_affixes(language)
    sheets = _formats(path)
    checked = 0
    for (title, frame), (_, columns) in zip(tables.items(), sheets, strict=True):
        data = excel._excel_ready(frame, language=language)
        for c, kind in enumerate(K.of(data)):
            if not kind.numeric and kind.kind not in K.DATES:
                continue
            expected = K.number_format(kind, currency=currency)
            for value, shown in zip(data.iloc[:, c], columns[c], strict=True):
                if F.is_missing(value):
                    continue
                if kind.kind == "p_value":
                    expected = K.p_value_format(value, alpha=kind.alpha, language=language)
                assert shown == expected, (title, data.columns[c], kind)
                checked += 1
    assert checked > 500


def test_english_and_russian_workbooks_format_every_cell_alike(books, tmp_path):
    """The two languages' workbooks differ in words, never in a cell's number format (money
    aside: each names the network's currency as its language writes it; and a p-value below
    0.001, whose format is the page's text, ``<0.001`` or ``<0,001``)."""
    en, ru = (_formats(excel.write_excel(_tables(books[lang]), tmp_path / f"{lang}.xlsx",
                                         language=lang)) for lang in ("en", "ru"))
    assert len(en) == len(ru) > 20
    money = tuple(K.number_format(K.Kind("money"), currency=excel.currency_affixes(lang))
                  for lang in ("en", "ru"))
    differ = {(a, b) for (_, c_en), (_, c_ru) in zip(en, ru, strict=True)
              for col_en, col_ru in zip(c_en, c_ru, strict=True)
              for a, b in zip(col_en, col_ru, strict=True) if a != b}
    tiny = tuple(K.p_value_format(1e-9, language=lang) for lang in ("en", "ru"))
    assert tiny == ('"<0.001"', '"<0,001"')
    assert money[0] != money[1] and money in differ and differ <= {money, tiny}
