"""What each column of a report table holds, said once where the table is built.

A report table (:mod:`analysis.report.tables`) is a frame of numbers, dates and words under
the catalogue's headers; ``frame.attrs["kinds"]`` maps each header to its :class:`Kind`. The
page writes every cell from it through the one formatter (:mod:`analysis.report.format`),
and the workbook (:mod:`analysis.report.excel`) stores the same number with the number format
that shows it the same way. Nothing is guessed from a header's words.

What the page shows in one cell is several columns of the frame, so that every number in
the workbook is a number of its own:

========================  ==================================  ===============================
page                      frame columns (roles)               workbook
========================  ==================================  ===============================
``+21.6 [+17.7, +25.3]``  value, low, high                    three numbers
``[+17.7, +25.3]``        low, high                           two numbers
``29 (small n)``          value, mark                         a number and a note
``-3.0*``                 value, mark                         a number and ``*``
``31% / 4%``              value, value                        two numbers
``3–17``                  low, high of counts                 two numbers
``Booking: +4.2 [...]``   label, value, low, high             a word and three numbers
========================  ==================================  ===============================

A column whose page cell is another's part names that column in ``into``. Columns without a
kind (a frame built elsewhere) take one from their dtype: integers are counts, floats numbers
with the book's decimals, datetimes dates, monthly periods months, the rest text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from analysis.report import format as F

__all__ = ["DATES", "KINDS", "NUMERIC", "ROLES", "TEXT", "Kind", "Table", "infer", "number_format",
           "of", "p_value_format", "page", "resolved", "stored", "text", "with_kinds"]

NUMERIC = ("count", "number", "signed", "percent", "p_value", "money")
DATES = ("date", "datetime", "month")
KINDS = (*NUMERIC, *DATES, "text")
ROLES = ("value", "low", "high", "mark", "label")


@dataclass(frozen=True)
class Kind:
    """How one column of a report table reads.

    ``kind``: one of :data:`KINDS` (``signed`` is an NPS, a change, an uplift; ``percent`` a
    share shown as a percentage; ``money`` whole units of the network's currency).
    ``decimals``: places shown (None: the book's, for a plain number). ``into``: the header of
    the page column this one is part of, in ``role`` (:data:`ROLES`); a ``mark`` is shown
    after the value, in brackets when ``brackets``. ``scale``: ``nps`` or ``rate`` columns
    carry the workbook's colour scale (``better``: which end is green). ``alpha``: a p-value
    is never rounded across it.
    """

    kind: str = "text"
    decimals: int | None = None
    into: str | None = None
    role: str = "value"
    scale: str | None = None
    better: str = "high"
    alpha: float = 0.05
    brackets: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC

    def places(self, default: int = F.DECIMALS) -> int:
        """Decimals shown: the kind's own, or ``default`` for a plain number."""
        if self.decimals is not None:
            return self.decimals
        return {"count": 0, "money": 0, "percent": 0}.get(self.kind, default)


TEXT = Kind()


def _array(values, n: int | None = None) -> np.ndarray:
    if isinstance(values, pd.Series | pd.Index):
        return values.to_numpy()
    if np.isscalar(values) or values is None:
        return np.full(n or 0, values, dtype=object)
    return np.asarray(values)


class Table:
    """A report table built column by column: the values and how each reads.

    >>> t = Table(language="en").count("Answers", [120, 7], mark=([False, True], "small n"))
    >>> t.frame().columns.tolist()
    ['Answers', 'Answers: note']
    """

    def __init__(self, *, language: str | None = None) -> None:
        from analysis.report import catalogue as L

        self.language = L.resolve(language)
        self._data: dict[str, object] = {}
        self._kinds: dict[str, Kind] = {}

    def _header(self, key: str, column: str) -> str:
        from analysis.report import catalogue as L

        return L.text("excel", key, language=self.language, column=column)

    def add(self, header: str, values, kind: Kind = TEXT) -> Table:
        """One column of the frame, as it is."""
        if header in self._data:
            raise ValueError(f"column {header!r} twice in one table")
        self._data[header] = values
        self._kinds[header] = kind
        return self

    def text(self, header: str, values) -> Table:
        return self.add(header, values, TEXT)

    def _numbers(self, header: str, values, kind: Kind, *, interval=None, mark=None,
                 into: str | None = None) -> Table:
        into = into or (header if interval is not None or mark is not None else None)
        self.add(header, values, replace(kind, into=into, role="value"))
        if interval is not None:
            self._ends(header, *interval, kind, into=into)
        if mark is not None:
            flags, text_ = mark
            self.mark(header, flags, text_, brackets=text_ != "*", into=into)
        return self

    def _ends(self, header: str, low, high, kind: Kind, *, into: str) -> None:
        for role, values in (("low", low), ("high", high)):
            self.add(self._header(role, header), values,
                     replace(kind, into=into, role=role, scale=None))

    def mark(self, header: str, flags, text_: str, *, brackets: bool = True,
             into: str | None = None) -> Table:
        """A note column after ``header``: ``text_`` where ``flags`` is true; the page shows
        it after the value (in brackets when ``brackets``)."""
        flags = [not F.is_missing(f) and bool(f) for f in _array(flags)]
        values = np.array([text_ if f else "" for f in flags], dtype=object)
        return self.add(self._header("note", header), values,
                        Kind("text", into=into or header, role="mark", brackets=brackets))

    def count(self, header: str, values, *, interval=None, mark=None, into=None,
              **options) -> Table:
        return self._numbers(header, values, Kind("count", **options), interval=interval,
                             mark=mark, into=into)

    def number(self, header: str, values, decimals: int = F.DECIMALS, *, interval=None,
               mark=None, into=None, **options) -> Table:
        return self._numbers(header, values, Kind("number", decimals, **options),
                             interval=interval, mark=mark, into=into)

    def signed(self, header: str, values, decimals: int = F.DECIMALS, *, interval=None,
               mark=None, into=None, **options) -> Table:
        """A signed quantity (NPS, a change, an uplift): ``+21.6``."""
        return self._numbers(header, values, Kind("signed", decimals, **options),
                             interval=interval, mark=mark, into=into)

    def percent(self, header: str, values, decimals: int = 0, *, interval=None, mark=None,
                into=None, **options) -> Table:
        """A share (0.31) shown as a percentage (``31%``)."""
        return self._numbers(header, values, Kind("percent", decimals, **options),
                             interval=interval, mark=mark, into=into)

    def money(self, header: str, values, *, interval=None, into=None) -> Table:
        """Whole units of the network's currency."""
        return self._numbers(header, values, Kind("money", 0), interval=interval, into=into)

    def label(self, header: str, values) -> Table:
        """Words that lead a page cell of numbers (``Booking: +4.2 [+2.0, +6.5]``); the
        numbers follow with ``into=header``. A missing label leaves the cell empty."""
        return self.add(header, values, Kind("text", into=header, role="label"))

    def p_value(self, header: str, values, *, alpha: float = 0.05) -> Table:
        return self.add(header, values, Kind("p_value", alpha=alpha))

    def interval(self, header: str, low, high, kind: str = "number",
                 decimals: int | None = None, *, into: str | None = None) -> Table:
        """An interval alone: one page column ``[low, high]``, two numbers in the workbook
        (counts are a range of ranks: ``3–17``); ``into`` another page column's."""
        self._ends(header, low, high, Kind(kind, decimals), into=into or header)
        return self

    def pair(self, header: str, first, second, kind: str = "percent",
             decimals: int | None = None, *, names: Sequence[str]) -> Table:
        """Two numbers in one page cell (``31% / 4%``), two columns ``names`` in the frame."""
        for name, values in zip(names, (first, second), strict=True):
            self.add(name, values, Kind(kind, decimals, into=header))
        return self

    def date(self, header: str, values, *, time: bool = False) -> Table:
        return self.add(header, _datetimes(values), Kind("datetime" if time else "date"))

    def month(self, header: str, values) -> Table:
        return self.add(header, _months(values), Kind("month"))

    def frame(self) -> pd.DataFrame:
        """The table: its columns with their kinds in ``attrs["kinds"]``."""
        n = max((len(v) for v in self._data.values() if not np.isscalar(v)), default=0)
        data = {h: _typed(_array(v, n), self._kinds[h]) for h, v in self._data.items()}
        return with_kinds(pd.DataFrame(data), self._kinds)


def _typed(values: np.ndarray, kind: Kind):
    """Numbers as float (or nullable integers for counts); other values as they are."""
    if kind.kind in DATES or not kind.numeric:
        return values
    numbers_ = pd.to_numeric(pd.Series(values, dtype=object).where(
        lambda s: s.map(lambda v: not F.is_missing(v)), None), errors="raise").astype(float)
    if kind.kind == "count" and (numbers_.dropna() % 1 == 0).all():
        return numbers_.round().astype("Int64").array  # whole numbers, missing ones kept
    return numbers_.to_numpy()


def _datetimes(values) -> pd.Series:
    values = pd.Series(_array(values))
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    return pd.to_datetime(values)


def _months(values) -> pd.Series:
    values = pd.Series(_array(values))
    if isinstance(values.dtype, pd.PeriodDtype):
        return values
    return values.map(lambda v: pd.NaT if F.is_missing(v) else pd.Period(str(v), freq="M")
                      ).astype("period[M]")


def with_kinds(frame: pd.DataFrame, kinds: dict[str, Kind]) -> pd.DataFrame:
    """``frame`` with its columns' kinds (kept in ``attrs``, which pandas carries along)."""
    frame.attrs["kinds"] = {str(h): k for h, k in kinds.items() if h in frame.columns}
    return frame


def infer(values: pd.Series, decimals: int = F.DECIMALS) -> Kind:
    """The kind of a column that has none, from its dtype."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return TEXT
    if pd.api.types.is_integer_dtype(dtype):
        return Kind("count")
    if pd.api.types.is_float_dtype(dtype):
        return Kind("number", decimals)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        stamps = pd.Series(values).dropna()
        if isinstance(stamps.dtype, pd.DatetimeTZDtype):
            stamps = stamps.dt.tz_localize(None)
        return Kind("date" if (stamps == stamps.dt.normalize()).all() else "datetime")
    if dtype == pd.PeriodDtype("M"):
        return Kind("month")
    return TEXT


def of(frame: pd.DataFrame, decimals: int = F.DECIMALS) -> list[Kind]:
    """Each column's kind, in column order: the table's own, else :func:`infer`'s."""
    known = frame.attrs.get("kinds", {})
    out = []
    for i, header in enumerate(frame.columns):
        kind = known.get(str(header))
        if kind is None:
            kind = infer(frame.iloc[:, i], decimals)
        elif kind.kind == "number" and kind.decimals is None:
            kind = replace(kind, decimals=decimals)
        out.append(kind)
    return out


def resolved(frame: pd.DataFrame, decimals: int = F.DECIMALS) -> pd.DataFrame:
    """A shallow copy of ``frame`` whose every column has its kind (the book's decimals for
    plain numbers), for a workbook written later."""
    out = frame.copy(deep=False)
    out.attrs = {**frame.attrs, "kinds": dict(zip(map(str, frame.columns), of(frame, decimals),
                                                  strict=True))}
    return out


# --- the page --------------------------------------------------------------------------------


def text(value, kind: Kind, decimals: int = F.DECIMALS, *, language: str | None = None) -> str:
    """One value as the page writes it, in ``language`` (the catalogue's default when None)."""
    if F.is_missing(value):
        return F.MISSING
    d = kind.places(decimals)
    match kind.kind:
        case "count":
            return F.count(value, language=language)
        case "number":
            return F.number(float(value), d, language=language)
        case "signed":
            return F.signed(value, d, language=language)
        case "percent":
            return F.percent(value, d, language=language)
        case "money":
            return F.money(value, language=language)
        case "p_value":
            return F.p_value(value, alpha=kind.alpha, language=language)
        case "date":
            return pd.Timestamp(value).strftime("%Y-%m-%d")
        case "datetime":
            return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")
        case "month":
            return F.month(value, language=language)
    return str(value)


def _ends(low, high, kind: Kind, decimals: int, language: str) -> str:
    """An interval as the page writes it."""
    if F.is_missing(low) or F.is_missing(high):
        return F.MISSING
    d = kind.places(decimals)
    match kind.kind:
        case "count":  # a range of ranks: 3–17, or 3 when both ends agree
            lo, hi = int(low), int(high)
            return f"{lo}" if lo == hi else f"{lo}–{hi}"
        case "percent":
            return F.percent_interval(low, high, d, language=language)
        case "money":
            return F.money_interval(low, high, language=language)
    return F.interval(low, high, d, sign=kind.kind == "signed", language=language)


def _cell(parts: list[tuple[Kind, object]], decimals: int, language: str) -> str:
    """The page's cell of one row of a column group (see the module's table)."""
    roles: dict[str, list] = {}
    for kind, value in parts:
        roles.setdefault(kind.role, []).append((kind, value))
    label = roles.get("label")
    if label and F.is_missing(label[0][1]):
        return ""  # an empty slot (a dealer with fewer growth zones)
    values = [text(v, k, decimals, language=language) for k, v in roles.get("value", [])]
    shown = " / ".join(values)
    if "low" in roles and "high" in roles:
        (kind, low), (_, high) = roles["low"][0], roles["high"][0]
        ends = _ends(low, high, kind, decimals, language)
        if values and kind.kind == "money" and ends != F.MISSING:
            # the amount already carries the currency: 2,679,303 RUB [1,204,500; 4,050,000]
            ends = f"[{F.count(low, language=language)}; {F.count(high, language=language)}]"
        if not values:
            shown = ends
        elif ends != F.MISSING:
            shown = f"{shown} {ends}"
    for kind, note in roles.get("mark", []):
        if not F.is_missing(note) and str(note) and shown != F.MISSING:
            shown += f" ({note})" if kind.brackets else str(note)
    if label:
        shown = f"{label[0][1]}: {shown}"
    return shown


def page(frame: pd.DataFrame, decimals: int = F.DECIMALS, *,
         language: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The table as the page shows it: every cell text in ``language`` (the book's; the
    catalogue's default when None), the parts of a cell joined.

    Returns the text frame and its columns that hold numbers (the page aligns them right).
    """
    from analysis.report import catalogue as L

    language = L.resolve(language)
    kinds = of(frame, decimals)
    groups: dict[str, list[int]] = {}
    for i, (header, kind) in enumerate(zip(frame.columns, kinds, strict=True)):
        groups.setdefault(kind.into or str(header), []).append(i)
    columns = [frame.iloc[:, i].to_numpy() for i in range(frame.shape[1])]
    out, right = {}, []
    for header, members in groups.items():
        if len(members) == 1 and kinds[members[0]].into is None:
            i = members[0]
            out[header] = [text(v, kinds[i], decimals, language=language) for v in columns[i]]
        else:
            out[header] = [_cell([(kinds[i], columns[i][r]) for i in members], decimals,
                                 language) for r in range(len(frame))]
        if (any(kinds[i].numeric for i in members)
                and not any(kinds[i].role == "label" for i in members)):
            right.append(header)
    return pd.DataFrame(out, index=frame.index, columns=list(out)), right


# --- the workbook ----------------------------------------------------------------------------


def stored(value, kind: Kind, decimals: int = F.DECIMALS) -> float | None:
    """The number the workbook stores for ``value``: the value itself, full precision, except
    where the page would read differently from the cell (Excel rounds a tie half away from
    zero, the formatter to even; a value the page rounds to zero is 0, never "-0.0"): there
    the number as the page shows it. Money is whole units, as the page writes it. None for a
    missing value."""
    if F.is_missing(value):
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    if kind.kind in ("count", "p_value"):
        return value
    if kind.kind == "money":  # whole units, as the page writes money
        return float(round(value))
    scale = 100.0 if kind.kind == "percent" else 1.0
    d = kind.places(decimals)
    shown = float(f"{value * scale:.{d}f}")
    excel = float(Decimal(repr(value * scale)).quantize(Decimal(1).scaleb(-d), ROUND_HALF_UP))
    if shown == 0:
        return 0.0
    return shown / scale if excel != shown else value


def number_format(kind: Kind, decimals: int = F.DECIMALS, *,
                  currency: tuple[str, str] = ("", "")) -> str | None:
    """The Excel number format that shows a column as the page does (Excel puts the reader's
    own separators in place of ``,`` and ``.``); money with ``currency``'s (prefix, suffix);
    None for text."""
    d = kind.places(decimals)
    places = "0" + ("." + "0" * d if d > 0 else "")
    match kind.kind:
        case "count":
            return "#,##0"
        case "money":
            prefix, suffix = (f'"{part}"' if part else "" for part in currency)
            return f"{prefix}#,##0{suffix}"
        case "number":
            return places
        case "signed":
            return f"+{places};-{places};{places}"
        case "percent":
            return places + "%"
        case "p_value":
            return "0.00"
        case "date":
            return "yyyy-mm-dd"
        case "datetime":
            return "yyyy-mm-dd hh:mm:ss"
        case "month":
            return "yyyy-mm"
    return None


def p_value_format(p, *, alpha: float = 0.05, language: str | None = None) -> str:
    """The number format of one p-value: the places :func:`analysis.report.format.p_value`
    writes in ``language`` (``0.0499`` keeps four), or its ``<0.001`` as that text
    (``<0,001`` in Russian)."""
    shown = F.p_value(p, alpha=alpha, language=language)
    if shown.startswith("<"):
        return f'"{shown}"'
    decimal = shown.lstrip("0123456789")[:1]
    places = len(shown.split(decimal, 1)[1]) if decimal else 0
    return "0" + ("." + "0" * places if places else "")
