"""The one formatter of the reports: every number a reader sees as text is written here.

The HTML book and the Excel workbook show the same frames, so they show the same text:

============  ===================  ==========================================================
what          looks like           rule
============  ===================  ==========================================================
NPS, change   ``+21.6``, ``-3.0``  :func:`signed`: a sign always, except for a value that
                                   rounds to zero, which is ``0.0`` (never ``-0.0``)
interval      ``[+17.7, +25.3]``   :func:`interval`: brackets and a comma; signs only for
                                   signed quantities (NPS, changes, uplifts), ``[7.4, 8.1]``
                                   for means, CSS and shares
percent       ``31%``              :func:`percent` of a share (0.31); no decimals by default
p-value       ``<0.001``, ``0.23`` :func:`p_value`: two decimals, three below 0.01, and more
                                   where rounding would move it across the significance
                                   threshold (0.0499 is ``0.0499``, never ``0.05``)
count         ``1,234``            :func:`count`: an integer, digits grouped by thousands
money         ``2,679,303 RUB``    :func:`money`: whole units, digits grouped, the currency of
                                   params/network.yaml (``currency``) after it in the
                                   locale's symbol (``2 679 303 ₽``); its interval
                                   ``[1,204,500; 4,050,000] RUB`` (:func:`money_interval`) is
                                   split by a semicolon, the comma being the grouping
month         ``Oct 2026``         :func:`month` in sentences and axes; :func:`month_long`
                                   (``October 2026``, ``октябрь 2026``) in titles
missing       ``–``                :data:`MISSING` (an en dash) for None, NaN and NaT
============  ===================  ==========================================================

Numbers that stay numbers in a table (so that Excel can sum them) are left to the table; the
HTML book writes them with :func:`number`.

The rules are the same in every language; the symbols follow the report's locale (Babel's
CLDR data): in ``"ru"`` they write ``+21,6``, ``[+17,7; +25,3]``, ``31 %``, ``2 679 303 ₽`` and
months as ``окт. 2026``; English is the default (``+21.6``, ``Oct 2026``).

The language is given, never a setting of the process or of a block: every function takes
``language=``, and a :class:`Format` holds one (``Format("ru").signed(21.6)``). A book makes
its own and hands its language to the table's page cells, the workbook and the charts, so two
books in two languages in one process cannot change each other's numbers. A call not handed a
language writes in the run's default one (:attr:`analysis.settings.Settings.language`,
params/report.yaml), whatever else is being drawn at the time.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from analysis.settings import settings_or

__all__ = ["DECIMALS", "LOCALES", "MISSING", "Format", "count", "currency", "currency_affixes",
           "day", "each", "interval", "is_missing", "marked", "money", "money_interval",
           "money_with_interval", "month", "month_long", "month_since", "nps", "number",
           "p_value", "percent", "percent_interval", "signed", "tick_decimals",
           "tick_formatter", "with_interval"]

MISSING = "–"  # an en dash: a hyphen would read as a minus sign
DECIMALS = 1
LOCALES = {"en": "en_GB", "ru": "ru_RU"}


def _lang(language: str | None) -> str:
    """``language``, or the run's default (:attr:`analysis.settings.Settings.language`, the
    first of params/report.yaml ``languages``); checked."""
    if language in LOCALES:  # the common case: every cell of a table asks
        return language
    if not language:
        language = settings_or(None).language
    if language not in LOCALES:
        raise ValueError(f"language must be one of {sorted(LOCALES)}, got {language!r}")
    return language


@cache
def _symbols(language: str) -> tuple[str, str, str]:
    """(decimal symbol, interval separator, percent suffix) of ``language``'s locale."""
    if language == "en":
        return ".", ", ", "%"
    from babel.numbers import format_percent, get_decimal_symbol

    decimal = get_decimal_symbol(LOCALES[language])
    suffix = format_percent(0.5, locale=LOCALES[language]).replace("50", "")
    return decimal, "; " if decimal == "," else ", ", suffix.replace("\xa0", "\u202f")


@cache
def _group_symbol(language: str) -> str:
    """The locale's thousands separator (a no-break space in Russian, so a number never
    breaks across lines)."""
    if language == "en":
        return ","
    from babel.numbers import get_group_symbol

    return get_group_symbol(LOCALES[language]).replace("\u202f", "\xa0")


def _local(text: str, language: str) -> str:
    decimal = _symbols(language)[0]
    return text if decimal == "." else text.replace(".", decimal)


def _grouped(value: float, language: str) -> str:
    """A whole number with the locale's digit grouping: ``2,679,303``, ``2 679 303``."""
    text = f"{int(round(float(value))):,d}"
    return text if language == "en" else text.replace(",", _group_symbol(language))


def _month_as(value, pattern: str, language: str | None) -> str:
    """A month in one of Babel's date patterns, in the report's language."""
    if is_missing(value):
        return MISSING
    from babel.dates import format_date

    period = pd.Period(str(value), freq="M")
    return format_date(period.to_timestamp().date(), pattern,
                       locale=LOCALES[_lang(language)])


def month(value, *, language: str | None = None) -> str:
    """A month as readers write it: ``Oct 2026``, ``окт. 2026`` (Babel's abbreviated month)."""
    return _month_as(value, "LLL yyyy", language)


def month_since(value, *, language: str | None = None) -> str:
    """A month after "since": ``Aug 2026``, ``с мая 2026`` (Babel's abbreviated month in its
    format form, which Russian declines after a preposition)."""
    return _month_as(value, "MMM yyyy", language)


def month_long(value, *, language: str | None = None) -> str:
    """A month as a title names it: ``October 2026``, ``октябрь 2026`` (Babel's standalone
    month name, so Russian reads in the nominative)."""
    return _month_as(value, "LLLL y", language)


def day(value, *, language: str | None = None) -> str:
    """A day as readers write it: ``5 Oct 2026``, ``5 окт. 2026 г.`` (Babel's medium date)."""
    if is_missing(value):
        return MISSING
    from babel.dates import format_date

    return format_date(pd.Timestamp(value).date(), "medium", locale=LOCALES[_lang(language)])


def currency(*, language: str | None = None) -> str:
    """The network's currency (params/network.yaml ``currency``, an ISO code) as the
    locale writes it: ``₽`` in Russian, ``RUB`` in English (Babel's CLDR symbols)."""
    from babel.numbers import get_currency_symbol

    return get_currency_symbol(_currency_code(), locale=LOCALES[_lang(language)])


@cache  # read once: every money cell asks
def _currency_code() -> str:
    from analysis.config import load_params

    return str(load_params("network").get("currency") or "")


def is_missing(value) -> bool:
    """True for None, NaN, NaT and pandas' NA."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes are not missing values
        return False


def _rounded(value: float, decimals: int) -> float:
    # rounding as the text will show it; a value that rounds to zero is zero (no "-0.0")
    shown = float(f"{float(value):.{decimals}f}")
    return 0.0 if shown == 0 else shown


def number(value, decimals: int = DECIMALS, *, language: str | None = None) -> str:
    """An unsigned number with ``decimals`` places: ``7.9``; integers stay integers."""
    if is_missing(value):
        return MISSING
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        return str(int(value))
    return _local(f"{_rounded(value, decimals):.{decimals}f}", _lang(language))


def signed(value, decimals: int = DECIMALS, *, language: str | None = None) -> str:
    """A signed quantity (NPS, a change, an uplift): ``+21.6``, ``-3.0``; zero is ``0.0``."""
    if is_missing(value):
        return MISSING
    shown = _rounded(value, decimals)
    return _local(f"{shown:.{decimals}f}" if shown == 0 else f"{shown:+.{decimals}f}",
                  _lang(language))


def nps(value, decimals: int = DECIMALS, *, language: str | None = None) -> str:
    """An NPS in points: ``+21.6``."""
    return signed(value, decimals, language=language)


def interval(low, high, decimals: int = DECIMALS, *, sign: bool = False,
             language: str | None = None) -> str:
    """``[low, high]``; ``sign=True`` for signed quantities: ``[+17.7, +25.3]``.

    Missing if either end is missing.
    """
    if is_missing(low) or is_missing(high):
        return MISSING
    lang = _lang(language)
    fmt = signed if sign else number
    return (f"[{fmt(low, decimals, language=lang)}{_symbols(lang)[1]}"
            f"{fmt(high, decimals, language=lang)}]")


def with_interval(centre, low, high, decimals: int = DECIMALS, *, sign: bool = False,
                  language: str | None = None) -> str:
    """A value followed by its interval: ``+4.2 [+2.0, +6.5]``; the value alone without one."""
    fmt = signed if sign else number
    if is_missing(low) or is_missing(high):
        return fmt(centre, decimals, language=language)
    return (f"{fmt(centre, decimals, language=language)} "
            f"{interval(low, high, decimals, sign=sign, language=language)}")


def percent(share, decimals: int = 0, *, language: str | None = None) -> str:
    """A share as a percentage: 0.314 -> ``31%``."""
    if is_missing(share):
        return MISSING
    lang = _lang(language)
    return (_local(f"{_rounded(100 * float(share), decimals):.{decimals}f}", lang)
            + _symbols(lang)[2])


def percent_interval(low, high, decimals: int = 0, *, language: str | None = None) -> str:
    """An interval of shares as percentages: ``[25%, 38%]``."""
    if is_missing(low) or is_missing(high):
        return MISSING
    lang = _lang(language)
    return (f"[{percent(low, decimals, language=lang)}{_symbols(lang)[1]}"
            f"{percent(high, decimals, language=lang)}]")


def p_value(p, *, alpha: float = 0.05, language: str | None = None) -> str:
    """``<0.001``, ``0.004``, ``0.23``; never rounded across ``alpha`` (0.0499 -> ``0.0499``)."""
    if is_missing(p):
        return MISSING
    lang = _lang(language)
    p = float(p)
    if p < 0.001:
        return _local("<0.001", lang)
    decimals = 3 if p < 0.01 else 2
    text = f"{p:.{decimals}f}"
    while (float(text) < alpha) != (p < alpha) and decimals < 17:
        decimals += 1
        text = f"{p:.{decimals}f}"
    return _local(text, lang)


def count(n, *, language: str | None = None) -> str:
    """A count as an integer, digits grouped by thousands: ``1,234`` (``1 234`` in ru)."""
    if is_missing(n):
        return MISSING
    return _grouped(n, _lang(language))


def currency_affixes(language: str | None = None, *,
                     code: str | None = None) -> tuple[str, str]:
    """The network's currency (params/network.yaml, or ``code``) around an amount, where and
    how the reader's locale puts it (Babel's CLDR pattern): ``("RUB\xa0", "")`` in English,
    ``("", "\xa0₽")`` in Russian. The page (:func:`money`) and the workbook's number formats
    both read it, so an amount reads the same in both."""
    from babel.numbers import format_currency

    code = code or _currency_code()
    if not code:
        return "", ""
    text = format_currency(0, code, locale=LOCALES[_lang(language)])
    prefix, suffix = text[: text.index("0")], text[text.rindex("0") + 1:]
    # a no-break space: the amount and its currency stay on one line
    if prefix and prefix[-1].isalpha():
        prefix += "\xa0"
    if suffix and suffix[0].isalpha():
        suffix = "\xa0" + suffix
    return prefix, suffix


def _with_currency(text: str, language: str) -> str:
    prefix, suffix = currency_affixes(language)
    return f"{prefix}{text}{suffix}"


def money(value, *, language: str | None = None) -> str:
    """An amount of money in whole units, digits grouped, with the network's currency:
    ``RUB 2,679,303`` (``2 679 303 ₽``); the number written as a :func:`count` is."""
    if is_missing(value):
        return MISSING
    lang = _lang(language)
    return _with_currency(count(value, language=lang), lang)


def money_interval(low, high, *, language: str | None = None) -> str:
    """``RUB [1,204,500; 4,050,000]``: the ends split by a semicolon in every language (the
    comma groups digits in English), the currency once after them."""
    if is_missing(low) or is_missing(high):
        return MISSING
    lang = _lang(language)
    return _with_currency(f"[{count(low, language=lang)}; {count(high, language=lang)}]", lang)


def money_with_interval(centre, low, high, *, language: str | None = None) -> str:
    """An amount followed by its interval: ``RUB 2,679,303 [1,204,500; 4,050,000]``."""
    if is_missing(low) or is_missing(high):
        return money(centre, language=language)
    lang = _lang(language)
    return (f"{money(centre, language=lang)} "
            f"[{count(low, language=lang)}; {count(high, language=lang)}]")


def marked(text: str, flag: bool, mark: str) -> str:
    """``text`` with ``mark`` appended when ``flag`` (a significance star, a small-sample note)."""
    return text + mark if flag and text != MISSING else text


def each(function, *columns: Iterable, **options) -> list[str]:
    """``function`` applied element-wise over aligned columns: a list for a frame column."""
    return [function(*values, **options) for values in zip(*columns, strict=True)]


# --- charts ----------------------------------------------------------------------------------


def tick_decimals(values: Iterable, most: int = 4) -> int:
    """The fewest decimals that write every tick value exactly (0.05 steps need two)."""
    shown = [float(v) for v in values if not is_missing(v) and np.isfinite(float(v))]
    for decimals in range(most + 1):
        if all(abs(round(v, decimals) - v) < 1e-9 * max(1.0, abs(v)) for v in shown):
            return decimals
    return most


def tick_formatter(kind: str = "number", *, language: str | None = None):
    """A matplotlib tick formatter that writes an axis as this module writes numbers, in
    ``language`` (the catalogue's default when None) whenever the chart is drawn.

    ``kind`` is ``"number"`` (:func:`count` for whole ticks, so thousands are grouped, else
    :func:`number`), ``"signed"`` (:func:`signed`) or ``"percent"`` (shares as :func:`percent`:
    0.25 -> ``25%``, ``25 %`` in Russian). Decimals follow the ticks' step: ``0.05`` and
    ``0.10`` are ``0.05`` and ``0.10``, whole ticks have none.
    """
    from matplotlib.ticker import Formatter

    if kind not in ("number", "signed", "percent"):
        raise ValueError(f"kind must be number, signed or percent, got {kind!r}")
    lang = _lang(language)
    scale = 100.0 if kind == "percent" else 1.0

    class LocalTicks(Formatter):
        decimals = 0

        def set_locs(self, locs):
            super().set_locs(locs)
            self.decimals = tick_decimals(scale * np.asarray(locs, dtype=float))

        def __call__(self, x, pos=None):
            if kind == "percent":
                return percent(x, self.decimals, language=lang)
            if kind == "signed":
                return signed(x, self.decimals, language=lang)
            return (count(x, language=lang) if self.decimals == 0
                    else number(x, self.decimals, language=lang))

    return LocalTicks()


# --- the formatter of one language ---------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    """The formatter in one language: the functions of this module with ``language`` given
    (a book makes its own, :attr:`analysis.report.book.ReportBook.format`); None is the
    catalogue's default language.

    >>> Format("ru").interval(17.7, 25.3, sign=True), Format("en").percent(0.314)
    ('[+17,7; +25,3]', '31%')
    """

    language: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "language", _lang(self.language))

    def number(self, value, decimals: int = DECIMALS) -> str:
        return number(value, decimals, language=self.language)

    def signed(self, value, decimals: int = DECIMALS) -> str:
        return signed(value, decimals, language=self.language)

    def nps(self, value, decimals: int = DECIMALS) -> str:
        return nps(value, decimals, language=self.language)

    def interval(self, low, high, decimals: int = DECIMALS, *, sign: bool = False) -> str:
        return interval(low, high, decimals, sign=sign, language=self.language)

    def with_interval(self, centre, low, high, decimals: int = DECIMALS, *,
                      sign: bool = False) -> str:
        return with_interval(centre, low, high, decimals, sign=sign, language=self.language)

    def percent(self, share, decimals: int = 0) -> str:
        return percent(share, decimals, language=self.language)

    def percent_interval(self, low, high, decimals: int = 0) -> str:
        return percent_interval(low, high, decimals, language=self.language)

    def p_value(self, p, *, alpha: float = 0.05) -> str:
        return p_value(p, alpha=alpha, language=self.language)

    def count(self, n) -> str:
        return count(n, language=self.language)

    def money(self, value) -> str:
        return money(value, language=self.language)

    def money_interval(self, low, high) -> str:
        return money_interval(low, high, language=self.language)

    def money_with_interval(self, centre, low, high) -> str:
        return money_with_interval(centre, low, high, language=self.language)

    def month(self, value) -> str:
        return month(value, language=self.language)

    def month_since(self, value) -> str:
        return month_since(value, language=self.language)

    def month_long(self, value) -> str:
        return month_long(value, language=self.language)

    def day(self, value) -> str:
        return day(value, language=self.language)

    def currency(self) -> str:
        return currency(language=self.language)

    def tick_formatter(self, kind: str = "number"):
        return tick_formatter(kind, language=self.language)

    is_missing = staticmethod(is_missing)
    marked = staticmethod(marked)
