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
CLDR data): :func:`set_language` ``"ru"`` writes ``+21,6``, ``[+17,7; +25,3]``, ``31 %``,
``2 679 303 ₽`` and months as ``окт. 2026``. English is the default (``+21.6``, ``Oct 2026``).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from contextlib import contextmanager
from functools import cache

import numpy as np
import pandas as pd

MISSING = "–"  # an en dash: a hyphen would read as a minus sign
DECIMALS = 1
LOCALES = {"en": "en_GB", "ru": "ru_RU"}
_language = "en"


def set_language(language: str | None) -> str:
    """Write numbers and months for ``language`` (en or ru) from now on, in this process
    (a report is one kernel, one language). Returns the language set."""
    global _language
    if language is not None:
        if language not in LOCALES:
            raise ValueError(f"language must be one of {sorted(LOCALES)}, got {language!r}")
        _language = language
    return _language


def get_language() -> str:
    return _language


def _symbols() -> tuple[str, str, str]:
    """(decimal symbol, interval separator, percent suffix) of the current locale."""
    if _language == "en":
        return ".", ", ", "%"
    from babel.numbers import format_percent, get_decimal_symbol

    decimal = get_decimal_symbol(LOCALES[_language])
    suffix = format_percent(0.5, locale=LOCALES[_language]).replace("50", "")
    return decimal, "; " if decimal == "," else ", ", suffix.replace("\xa0", "\u202f")


def _group_symbol() -> str:
    """The locale's thousands separator (a no-break space in Russian, so a number never
    breaks across lines)."""
    if _language == "en":
        return ","
    from babel.numbers import get_group_symbol

    return get_group_symbol(LOCALES[_language]).replace("\u202f", "\xa0")


def _local(text: str) -> str:
    decimal = _symbols()[0]
    return text if decimal == "." else text.replace(".", decimal)


def _grouped(value: float) -> str:
    """A whole number with the locale's digit grouping: ``2,679,303``, ``2 679 303``."""
    text = f"{int(round(float(value))):,d}"
    return text if _language == "en" else text.replace(",", _group_symbol())


def _month_as(value, pattern: str, language: str | None) -> str:
    """A month in one of Babel's date patterns, in the report's language."""
    if is_missing(value):
        return MISSING
    from babel.dates import format_date

    period = pd.Period(str(value), freq="M")
    return format_date(period.to_timestamp().date(), pattern,
                       locale=LOCALES[language or _language])


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

    return format_date(pd.Timestamp(value).date(), "medium", locale=LOCALES[language or _language])


def currency(*, language: str | None = None) -> str:
    """The network's currency (params/network.yaml ``currency``, an ISO code) as the
    locale writes it: ``₽`` in Russian, ``RUB`` in English (Babel's CLDR symbols)."""
    from babel.numbers import get_currency_symbol

    return get_currency_symbol(_currency_code(), locale=LOCALES[language or _language])


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


def number(value, decimals: int = DECIMALS) -> str:
    """An unsigned number with ``decimals`` places: ``7.9``; integers stay integers."""
    if is_missing(value):
        return MISSING
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        return str(int(value))
    return _local(f"{_rounded(value, decimals):.{decimals}f}")


def signed(value, decimals: int = DECIMALS) -> str:
    """A signed quantity (NPS, a change, an uplift): ``+21.6``, ``-3.0``; zero is ``0.0``."""
    if is_missing(value):
        return MISSING
    shown = _rounded(value, decimals)
    return _local(f"{shown:.{decimals}f}" if shown == 0 else f"{shown:+.{decimals}f}")


def nps(value, decimals: int = DECIMALS) -> str:
    """An NPS in points: ``+21.6``."""
    return signed(value, decimals)


def interval(low, high, decimals: int = DECIMALS, *, sign: bool = False) -> str:
    """``[low, high]``; ``sign=True`` for signed quantities: ``[+17.7, +25.3]``.

    Missing if either end is missing.
    """
    if is_missing(low) or is_missing(high):
        return MISSING
    fmt = signed if sign else number
    return f"[{fmt(low, decimals)}{_symbols()[1]}{fmt(high, decimals)}]"


def with_interval(centre, low, high, decimals: int = DECIMALS, *, sign: bool = False) -> str:
    """A value followed by its interval: ``+4.2 [+2.0, +6.5]``; the value alone without one."""
    fmt = signed if sign else number
    if is_missing(low) or is_missing(high):
        return fmt(centre, decimals)
    return f"{fmt(centre, decimals)} {interval(low, high, decimals, sign=sign)}"


def percent(share, decimals: int = 0) -> str:
    """A share as a percentage: 0.314 -> ``31%``."""
    if is_missing(share):
        return MISSING
    return _local(f"{_rounded(100 * float(share), decimals):.{decimals}f}") + _symbols()[2]


def percent_interval(low, high, decimals: int = 0) -> str:
    """An interval of shares as percentages: ``[25%, 38%]``."""
    if is_missing(low) or is_missing(high):
        return MISSING
    return f"[{percent(low, decimals)}{_symbols()[1]}{percent(high, decimals)}]"


def p_value(p, *, alpha: float = 0.05) -> str:
    """``<0.001``, ``0.004``, ``0.23``; never rounded across ``alpha`` (0.0499 -> ``0.0499``)."""
    if is_missing(p):
        return MISSING
    p = float(p)
    if p < 0.001:
        return _local("<0.001")
    decimals = 3 if p < 0.01 else 2
    text = f"{p:.{decimals}f}"
    while (float(text) < alpha) != (p < alpha) and decimals < 17:
        decimals += 1
        text = f"{p:.{decimals}f}"
    return _local(text)


def count(n) -> str:
    """A count as an integer, digits grouped by thousands: ``1,234`` (``1 234`` in ru)."""
    if is_missing(n):
        return MISSING
    return _grouped(n)


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
    text = format_currency(0, code, locale=LOCALES[language or _language])
    prefix, suffix = text[: text.index("0")], text[text.rindex("0") + 1:]
    # a no-break space: the amount and its currency stay on one line
    if prefix and prefix[-1].isalpha():
        prefix += "\xa0"
    if suffix and suffix[0].isalpha():
        suffix = "\xa0" + suffix
    return prefix, suffix


def _with_currency(text: str) -> str:
    prefix, suffix = currency_affixes()
    return f"{prefix}{text}{suffix}"


def money(value) -> str:
    """An amount of money in whole units, digits grouped, with the network's currency:
    ``RUB 2,679,303`` (``2 679 303 ₽``); the number written as a :func:`count` is."""
    if is_missing(value):
        return MISSING
    return _with_currency(count(value))


def money_interval(low, high) -> str:
    """``RUB [1,204,500; 4,050,000]``: the ends split by a semicolon in every language (the
    comma groups digits in English), the currency once after them."""
    if is_missing(low) or is_missing(high):
        return MISSING
    return _with_currency(f"[{count(low)}; {count(high)}]")


def money_with_interval(centre, low, high) -> str:
    """An amount followed by its interval: ``RUB 2,679,303 [1,204,500; 4,050,000]``."""
    if is_missing(low) or is_missing(high):
        return money(centre)
    return f"{money(centre)} [{count(low)}; {count(high)}]"


def marked(text: str, flag: bool, mark: str) -> str:
    """``text`` with ``mark`` appended when ``flag`` (a significance star, a small-sample note)."""
    return text + mark if flag and text != MISSING else text


def each(function, *columns: Iterable, **options) -> list[str]:
    """``function`` applied element-wise over aligned columns: a list for a frame column."""
    return [function(*values, **options) for values in zip(*columns, strict=True)]



# --- charts ----------------------------------------------------------------------------------


@contextmanager
def in_language(language: str | None):
    """Write numbers for ``language`` inside the block only (a chart drawn in a language other
    than the process's); None keeps the current one."""
    before = _language
    set_language(language)
    try:
        yield
    finally:
        set_language(before)


def tick_decimals(values: Iterable, most: int = 4) -> int:
    """The fewest decimals that write every tick value exactly (0.05 steps need two)."""
    shown = [float(v) for v in values if not is_missing(v) and np.isfinite(float(v))]
    for decimals in range(most + 1):
        if all(abs(round(v, decimals) - v) < 1e-9 * max(1.0, abs(v)) for v in shown):
            return decimals
    return most


def tick_formatter(kind: str = "number", *, language: str | None = None):
    """A matplotlib tick formatter that writes an axis as this module writes numbers, in
    ``language`` (the current one when None) whenever the chart is drawn.

    ``kind`` is ``"number"`` (:func:`count` for whole ticks, so thousands are grouped, else
    :func:`number`), ``"signed"`` (:func:`signed`) or ``"percent"`` (shares as :func:`percent`:
    0.25 -> ``25%``, ``25 %`` in Russian). Decimals follow the ticks' step: ``0.05`` and
    ``0.10`` are ``0.05`` and ``0.10``, whole ticks have none.
    """
    from matplotlib.ticker import Formatter

    if kind not in ("number", "signed", "percent"):
        raise ValueError(f"kind must be number, signed or percent, got {kind!r}")
    lang = language or _language
    scale = 100.0 if kind == "percent" else 1.0

    class LocalTicks(Formatter):
        decimals = 0

        def set_locs(self, locs):
            super().set_locs(locs)
            self.decimals = tick_decimals(scale * np.asarray(locs, dtype=float))

        def __call__(self, x, pos=None):
            with in_language(lang):
                if kind == "percent":
                    return percent(x, self.decimals)
                if kind == "signed":
                    return signed(x, self.decimals)
                return count(x) if self.decimals == 0 else number(x, self.decimals)

    return LocalTicks()
