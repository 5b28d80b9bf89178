"""Grammar through the catalogue: counts in each language's plural forms, no gendered
templates, no English on a Russian page (issue 26, item 2).

Count phrases are found in params/labels.yaml itself, so a phrase added without forms fails
here: a placeholder next to a word is a count, unless :data:`NOT_COUNTS` names it.
"""

from __future__ import annotations

import re

import pytest

from analysis.config import load_params
from analysis.report import catalogue as L
from analysis.report import format as F

# Russian: 1, 21, 101 take the "one" form, 2 "few", 5 and 11 "many" (CLDR); English 1 "one"
RUSSIAN = {1: "one", 2: "few", 5: "many", 11: "many", 21: "one", 101: "one"}
ENGLISH = {1: "one", 2: "other", 5: "other", 11: "other", 21: "other", 101: "other"}

# placeholders whose value is no count (a month, a name, a percent, a signed or decimal
# number, a list): a word after them does not agree with a number
NOT_COUNTS = {
    "month", "period", "previous", "first", "last", "now",            # months and times
    "region", "dealer", "driver", "cause", "reason", "what", "list", "table", "unit",  # names, lists
    "level", "share", "q", "threshold", "compliance", "rate", "shares", "alpha",  # percents
    "nps", "ref", "change", "impact", "gap", "uplift", "current", "benchmark",  # NPS, ratings
    "margin",                                                         # NPS points, a threshold
    "interval", "f1", "f1_interval", "r2", "before",                  # intervals, statistics
    "difference", "next",                                             # decimals, a name
    "direction", "mark", "rule", "trend", "counts", "error", "message", "logs", "drivers",
    "order", "currency",                                              # money
    # parts of ingest's reasons, copied as ingest wrote them (quarantine_reasons)
    "earliest", "latest", "low", "high", "words", "codes", "values", "chars",
}
# a count followed by one of these governs no noun ("41 of 145 suggestions", "41 из 145")
FUNCTION_WORDS = {"of", "in", "over", "at", "and", "or", "from",
                  "из", "за", "и", "или", "у", "в", "по"}


def _entries():
    for group, entries in load_params("labels").items():
        if group == "language":
            continue
        for key, entry in entries.items():
            yield group, str(key), entry


def _texts(language: str):
    for group, key, entry in _entries():
        text = str(entry[language] or entry["en"])
        if "{" in text:
            yield group, key, text


def _bare_counts(template: str) -> list[str]:
    """Placeholders outside plural arguments that a word follows: ``{n} строк``."""
    spans = L.plurals(template)
    pieces, last = [], 0
    for start, end, _, branches in spans:
        pieces += [template[last:start], *branches.values()]
        last = end
    pieces.append(template[last:])
    found = []
    for piece in pieces:
        for match in re.finditer(r"\{(\w+)\}", piece):
            if match.group(1) in NOT_COUNTS or piece[:match.start()].endswith("-"):
                continue  # ТОП-{n}: part of a name, not a count of something
            word = re.match(r"\s+([^\W\d_][\w-]*)", piece[match.end():])
            if word and word.group(1).lower() not in FUNCTION_WORDS:
                found.append(f"{match.group(0)} {word.group(1)}")
    return found


def _count_phrases(language: str):
    return [(group, key, text) for group, key, text in _texts(language) if L.plurals(text)]


def _fill(group: str, key: str, language: str, n: int) -> tuple[str, dict]:
    text = str(load_params("labels")[group][key][language])
    counts = {name for _, _, name, _ in L.plurals(text)}
    values = {name: n if name in counts else f"<{name}>" for name in L.placeholders(text)}
    return L.text(group, key, language=language, **values), values


# --- the catalogue -----------------------------------------------------------------------------


def test_the_catalogue_has_count_phrases_in_both_languages():
    assert len(_count_phrases("ru")) >= 25
    assert len(_count_phrases("en")) >= 25


@pytest.mark.parametrize("group, key", [(g, k) for g, k, _ in _count_phrases("ru")])
def test_every_russian_count_phrase_takes_the_form_of_each_number(group, key):
    template = str(load_params("labels")[group][key]["ru"])
    for _, _, name, branches in L.plurals(template):
        assert {"one", "few", "many", "other"} <= set(branches), f"{group}.{key}: {name}"
        assert branches["one"] != branches["many"], f"{group}.{key}: {name} has one form"
    for n, form in RUSSIAN.items():
        shown, values = _fill(group, key, "ru", n)
        for _, _, _, branches in L.plurals(template):
            expected = branches[form].replace("#", str(n)).format(**values)
            assert expected in shown, f"{group}.{key} at {n}: wants {expected!r} in {shown!r}"


@pytest.mark.parametrize("group, key", [(g, k) for g, k, _ in _count_phrases("en")])
def test_every_english_count_phrase_says_one_and_two_apart(group, key):
    template = str(load_params("labels")[group][key]["en"])
    for n in (1, 2):
        shown, values = _fill(group, key, "en", n)
        for _, _, name, branches in L.plurals(template):
            assert {"one", "other"} <= set(branches), f"{group}.{key}: {name}"
            expected = branches[ENGLISH[n]].replace("#", str(n)).format(**values)
            assert expected in shown, f"{group}.{key} at {n}: wants {expected!r} in {shown!r}"


@pytest.mark.parametrize("language", ["ru", "en"])
def test_no_count_phrase_lacks_its_plural_forms(language):
    # found from the catalogue: a phrase added as "{n} строк" fails here
    bare = {f"{group}.{key}": found for group, key, text in _texts(language)
            if (found := _bare_counts(text))}
    assert not bare, f"counts without plural forms ({language}): {bare}"


def test_the_check_finds_a_count_without_forms():
    assert _bare_counts("Еще {more} строк в файле Excel.") == ["{more} строк"]
    assert _bare_counts("{n} actions reviewed") == ["{n} actions"]
    assert _bare_counts("Еще {more, plural, one {# строка} few {# строки} many {# строк} "
                        "other {# строки}}.") == []
    assert _bare_counts("Рассмотрено действий: {n}; в ТОП-{n} сети, {n} из {m, plural, "
                        "one {# x} other {# y}}") == []


def test_plural_forms_follow_babel_and_counts_are_grouped():
    assert [L.plural_category(n, language="ru") for n in RUSSIAN] == list(RUSSIAN.values())
    assert L.plural_category(1, language="en") == "one"
    assert L.plural_category(2.5, language="ru") == "other"
    assert L.text("notes", "more_rows", language="ru", more=1) == "Еще 1 строка в файле Excel."
    assert L.text("notes", "more_rows", language="ru", more=3) == "Еще 3 строки в файле Excel."
    assert L.text("notes", "more_rows", language="ru", more=12) == "Еще 12 строк в файле Excel."
    assert L.text("notes", "more_rows", language="en", more=1) == "1 more row in the Excel file."
    assert L.text("kind_counts", "complaint", language="ru", n=179) == "179 жалоб"
    assert L.text("kind_counts", "complaint", language="ru", n=3201) == "3\xa0201 жалоба"
    # a whole number anywhere in a template is written as a count: 9,008, never 9008
    assert "9,008 lapsed customers" in L.text("notes", "win_back", language="en",
                                              detractors=2, lapsed=9008, dealers=3)
    with pytest.raises(TypeError, match="count"):
        L.text("notes", "more_rows", language="ru", more="1\xa0234")


def test_russian_templates_need_no_grammatical_gender():
    # a name from the data never agrees with a participle: "«X» оценен" reads wrong for a
    # feminine driver; the phrase quotes the name and says "оценка"
    shown = L.text("summary", "act_growth", language="ru", dealer="Д", driver="Атмосфера",
                   current="6,7", benchmark="7,9", uplift="2,0")
    assert "«Атмосфера» - оценка 6,7" in shown
    for group, key, text in _texts("ru"):
        for match in re.finditer(r"\{\w+\}»?\s+(\w+)", text):
            assert not re.fullmatch(r"\w+(ен|ан|ён)(а|о|ы)?", match.group(1)), (
                f"{group}.{key}: {match.group(0)!r} agrees with the name's gender")


def test_months_currency_and_masks_come_from_the_catalogue_and_params():
    import pandas as pd

    from analysis.report.data import ReportData

    data = ReportData("Central", "2026-10", ("2026-10",), pd.DataFrame(), pd.DataFrame())
    assert data.title_in("ru") == "Регион Central - голос клиента, октябрь 2026"
    assert data.title_in("en") == "Region Central - customer voice, October 2026"
    assert L.text("columns", "value_per_year", language="ru") == "Под риском в год, ₽"
    assert F.money(15000, language="ru") == "15\xa0000\xa0₽"
    assert L.masked("Звоните [phone], пишите [e-mail]", language="ru") == (
        "Звоните [телефон], пишите [эл. почта]")
    assert L.masked("Call [phone]", language="en") == "Call [phone]"
    assert L.matched("quarantine_reasons", "out of range 0-10", language="ru") == (
        "вне диапазона 0-10")
    assert L.matched("quarantine_reasons", "something new", language="ru") == "something new"


def test_the_privacy_tokens_are_the_catalogues_keys():
    # the statistics layer masks with its own tokens; the report translates exactly those
    from analysis import privacy

    assert set(L.names("masks")) == {privacy.PHONE_MASK, privacy.EMAIL_MASK, privacy.VIN_MASK}


# --- a rendered Russian page -------------------------------------------------------------------


def _page_text(html: str) -> str:
    import html as html_lib

    text = re.sub(r"<style.*?</style>|<script.*?</script>", " ", html, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", "\n", text))


def _english_fragments() -> set[str]:
    """Long English pieces of catalogue phrases whose Russian differs: none may be on a
    Russian page."""
    found = set()
    for group, _, entry in _entries():
        if group == "masks" or not entry["ru"] or str(entry["ru"]) == str(entry["en"]):
            continue
        text = str(entry["en"])
        for _, _, _, branches in L.plurals(text):
            text += " " + " ".join(branches.values())
        for piece in re.split(r"\{[^{}]*\}|[{}#]", text):
            piece = piece.strip(" ,.;:()-\"")
            if len(piece) >= 14 and " " in piece and re.search("[a-z]{4}", piece):
                found.add(piece)
    return found


@pytest.fixture(scope="module")
def russian_page(six_dealer_data):
    monkeypatch = pytest.MonkeyPatch()
    from report_pages import render_sections

    try:
        html, _, book = render_sections(monkeypatch, six_dealer_data, language="ru",
                                        keep_going=True)
    finally:
        monkeypatch.undo()
    return _page_text(html), book


def test_a_russian_page_reads_as_russian(russian_page):
    text, book = russian_page
    assert not book.failures
    for bad in ("Store versions", "The same numbers again", "[phone]", "[e-mail]",
                "duplicate row", "more rows", "reviewed", "оценен "):
        assert bad not in text, bad
    # the title's month is named, not 2026-10
    title = text.strip().splitlines()[0]
    assert not re.search(r"\d{4}-\d{2}", title) and "2026" in title, title
    # every count before "строк"/"строки"/"строка" in the form its number takes
    for number, word in re.findall(r"(\d[\d\xa0]*) (строк[аи]?)\b", text):
        n = int(number.replace("\xa0", ""))
        form = {"строка": "one", "строки": "few", "строк": "many"}[word]
        assert L.plural_category(n, language="ru") == form, f"{number} {word}"
    leftover = sorted(p for p in _english_fragments() if p in text)
    assert not leftover, leftover


def test_a_russian_page_writes_counts_and_money_as_numbers_are_written(russian_page):
    text, book = russian_page
    sentences = [line for line in text.splitlines() if len(line) > 60]
    for line in sentences:
        # 9008 without a separator: a number of four digits or more that is no year
        bare = [n for n in re.findall(r"(?<![\w\-.:/=,\xa0])(\d{4,})(?![\w\-:])", line)
                if not re.fullmatch(r"(19|20)\d\d", n)]
        assert not bare, f"{bare} in {line!r}"
    money = [line for line in sentences if "средний заказ" in line]
    assert money and all("₽" in line for line in money)
    stake = book.tables.get(L.text("tables", "value_at_stake", language="ru"))
    if stake is not None:  # customers at stake are whole customers, not 59.0
        column = stake[L.text("columns", "customers_at_stake", language="ru")]
        assert column.dtype.kind in "iu" or str(column.dtype) == "Int64"
