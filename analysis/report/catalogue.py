"""The label catalogue: every name a reader sees, from params/labels.yaml.

The catalogue maps machine keys (column names, driver and touchpoint codes, causes, statuses,
sections, table titles, notes) to their text in each language. Every entry has an ``en`` and
a ``ru`` value; an empty ``ru`` falls back to ``en``, so translating a report means filling
that one file. ``language: en`` at its top is the default language of the reports.

Two kinds of look-up:

- :func:`text` for the report's own words (headers, titles, notes): an unknown key is a
  :class:`KeyError` naming the file, so a typo is not shown to a reader;
- :func:`name` for values found in the data (a touchpoint code, a discovered cluster): an
  unknown value is shown as it is.

Counts follow each language's plural rules (CLDR's, through Babel): a count next to a noun is
an ICU plural argument in the template, ``{n, plural, one {# жалоба} few {# жалобы}
many {# жалоб} other {# жалобы}}``, whose branch :func:`text` picks for the number passed as
``n`` (1 and 21 take ``one``, 2-4 ``few``, 5-20 ``many`` in Russian; ``=0 {...}`` matches one
number exactly); ``#`` is the number as :func:`analysis.report.format.count` writes it. Any
other whole number passed to a template is written that way too (``9,008``), and
``{currency}`` is the network's currency (params/network.yaml) in the language's symbol.
Phrases need no grammatical gender: a name the data supplies is quoted, never agreed with.
"""

from __future__ import annotations

import numbers
import os
import re
from functools import cache

from analysis.config import PARAMS_DIR, ParamsError, load_params
from analysis.settings import default_language, settings_or

__all__ = ["FALLBACK", "LANGUAGES", "catalogue", "column", "columns", "driver_labels", "has",
           "masked", "matched", "name", "names", "placeholders", "plural_category", "plurals",
           "render", "resolve", "text"]

LANGUAGES = ("en", "ru")
FALLBACK = "en"


def catalogue(*, params_dir: str | os.PathLike | None = None) -> dict:
    """params/labels.yaml (or ``params_dir``/labels.yaml) as a dict (shared: do not modify)."""
    return _catalogue(str(params_dir) if params_dir else "")


@cache
def _catalogue(params_dir: str) -> dict:
    # read once per process: tables look names up row by row
    return load_params("labels", params_dir=params_dir or None)


def resolve(value: str | None = None, *, params_dir: str | os.PathLike | None = None) -> str:
    """``value``, or the run's default language (:attr:`analysis.settings.Settings.language`:
    the first of params/report.yaml ``languages``); checked against :data:`LANGUAGES`."""
    chosen = value or (settings_or(None).language if params_dir is None
                       else default_language(params_dir))
    if chosen not in LANGUAGES:
        raise ParamsError(f"language must be one of {LANGUAGES}, got {chosen!r} "
                          f"(params/report.yaml 'languages:', or the language= argument)")
    return chosen


def _entry(entry, lang: str, where: str) -> str:
    if not isinstance(entry, dict) or not set(LANGUAGES) <= set(entry):
        raise ParamsError(f"{PARAMS_DIR / 'labels.yaml'}: {where} needs a value for each of "
                          f"{LANGUAGES}, got {entry!r}")
    value = entry[lang] if entry[lang] not in (None, "") else entry[FALLBACK]
    return str(value)


def _group(group: str, params_dir) -> dict:
    cat = catalogue(params_dir=params_dir)
    if group not in cat:
        raise KeyError(f"params/labels.yaml has no group {group!r}; it has "
                       f"{sorted(k for k in cat if k != 'language')}")
    return cat[group]


# --- plural arguments: {name, plural, one {...} few {...} many {...} other {...}} ---------------

_PLURAL = re.compile(r"\{(\w+)\s*,\s*plural\s*,")
_SELECTOR = re.compile(r"\s*(=\d+|zero|one|two|few|many|other)\s*\{")


def plurals(template: str, *, where: str = "a template") -> list[tuple[int, int, str, dict]]:
    """The plural arguments of ``template``: ``(start, end, name, {selector: text})`` each,
    ``start:end`` the argument's span. A branch may hold plain ``{placeholders}``, not
    another plural argument."""
    found, pos = [], 0
    while (match := _PLURAL.search(template, pos)) is not None:
        name, pos, branches = match.group(1), match.end(), {}
        while True:
            if (close := re.match(r"\s*\}", template[pos:])) is not None:
                pos += close.end()
                break
            selector = _SELECTOR.match(template, pos)
            if selector is None:
                raise ParamsError(f"params/labels.yaml: {where}: the plural argument {name!r} "
                                  f"needs 'selector {{text}}' pairs (one, few, many, other, "
                                  f"=0) and a closing brace, at {template[pos:pos + 30]!r}")
            depth, start = 1, selector.end()
            pos = start
            while depth and pos < len(template):
                depth += {"{": 1, "}": -1}.get(template[pos], 0)
                pos += 1
            if depth:
                raise ParamsError(f"params/labels.yaml: {where}: unbalanced braces in the "
                                  f"plural argument {name!r}")
            branch = template[start:pos - 1]
            if _PLURAL.search(branch):
                raise ParamsError(f"params/labels.yaml: {where}: a plural argument inside "
                                  f"another ({name!r}); write the phrase as two arguments")
            branches[selector.group(1)] = branch
        if "other" not in branches:
            raise ParamsError(f"params/labels.yaml: {where}: the plural argument {name!r} "
                              "needs an 'other' form")
        found.append((match.start(), pos, name, branches))
    return found


def placeholders(template: str) -> set[str]:
    """Every name ``template`` fills: its plural arguments' counts and its ``{placeholders}``,
    in its branches too."""
    import string

    found, pieces, last = set(), [], 0
    for start, end, name, branches in plurals(template):
        found.add(name)
        pieces += [template[last:start], *branches.values()]
        last = end
    pieces.append(template[last:])
    return found | {name for piece in pieces
                    for _, name, _, _ in string.Formatter().parse(piece) if name}


@cache
def _plural_rule(language: str):
    from babel import Locale

    from analysis.report.format import LOCALES

    return Locale.parse(LOCALES[language]).plural_form


def plural_category(n, *, language: str | None = None) -> str:
    """The CLDR plural category of ``n`` in ``language``: ``one``, ``few``, ``many`` or
    ``other`` (Russian: 1, 21, 101 one; 2-4 few; 0, 5-20, 11-14 many; fractions other)."""
    return _plural_rule(resolve(language))(_as_number(n, "n"))


def _as_number(value, name: str, where: str = "") -> int | float:
    """A count as a number: whole numbers as int (2.0 reads as 2, as it is written)."""
    if isinstance(value, str):  # plain digits only: "1 234" is already written for a reader
        try:
            value = float(value)
        except ValueError:
            value = None
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where or 'a template'}: {name} is a count and takes a number, got "
                        f"{value!r}")
    value = float(value) if not isinstance(value, numbers.Integral) else int(value)
    return int(value) if float(value).is_integer() else value


def _written(value, language: str) -> str:
    from analysis.report import format as F

    return (F.count(value, language=language) if float(value).is_integer()
            else F.number(value, language=language))


def render(template: str, *, language: str | None = None, where: str = "a template",
           **values) -> str:
    """``template`` with its plural arguments resolved for the numbers in ``values`` and its
    placeholders filled: whole numbers written as counts (``9,008``), ``{currency}`` the
    network's currency."""
    lang = resolve(language)
    parts, last = [], 0
    for start, end, name, branches in plurals(template, where=where):
        if name not in values:
            raise KeyError(f"{where}: the count {name!r} is not given")
        n = _as_number(values[name], name, where)
        branch = (branches.get(f"={n}") or branches.get(_plural_rule(lang)(n))
                  or branches["other"])
        parts += [template[last:start], branch.replace("#", _written(n, lang))]
        last = end
    text_ = "".join(parts) + template[last:]
    if "{currency}" in text_ and "currency" not in values:
        from analysis.report.format import currency

        values = {**values, "currency": currency(language=lang)}
    if not values:
        return text_
    shown = {k: _written(v, lang) if isinstance(v, numbers.Integral)
             and not isinstance(v, bool) else v for k, v in values.items()}
    return text_.format(**shown)


def has(group: str, key, *, params_dir: str | os.PathLike | None = None) -> bool:
    """Whether the catalogue names ``key`` in ``group``."""
    return str(key) in _group(group, params_dir)


def text(group: str, key: str, *, language: str | None = None,
         params_dir: str | os.PathLike | None = None, **values) -> str:
    """The report's own words: ``group.key`` in ``language``, with ``values`` filled in."""
    entries = _group(group, params_dir)
    if key not in entries:
        raise KeyError(f"params/labels.yaml has no {group}.{key}; add it with an en and a ru "
                       "value")
    lang = resolve(language, params_dir=params_dir)
    return render(_entry(entries[key], lang, f"{group}.{key}"), language=lang,
                  where=f"{group}.{key}", **values)


def name(group: str, value, *, language: str | None = None,
         params_dir: str | os.PathLike | None = None) -> str:
    """A value from the data (a touchpoint, a cause, a status) as the catalogue names it;
    the value itself when the catalogue does not list it."""
    entries = _group(group, params_dir)
    if value is None or str(value) not in entries:
        return "" if value is None else str(value)
    return _entry(entries[str(value)], resolve(language, params_dir=params_dir),
                  f"{group}.{value}")


def matched(group: str, value, *, language: str | None = None,
            params_dir: str | os.PathLike | None = None) -> str:
    """A message from below the report layer (an ingest reason) as the catalogue words it.

    The keys of ``group`` are the messages as written, a ``{name}`` standing for a part that
    varies (``out of range {low}-{high}``); the part is copied into the translation. A
    message no key matches is shown as it is.
    """
    if value is None:
        return ""
    text_ = str(value)
    lang = resolve(language, params_dir=params_dir)
    for key, entry in _group(group, params_dir).items():
        found = _pattern(str(key)).fullmatch(text_)
        if found is not None:
            return _entry(entry, lang, f"{group}.{key}").format(**found.groupdict())
    return text_


@cache
def _pattern(key: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", key)
    return re.compile("".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)"
                              for i, part in enumerate(parts)), flags=re.S)


def masked(text, *, language: str | None = None,
           params_dir: str | os.PathLike | None = None):
    """``text`` with the tokens that stand for a phone, an e-mail or a VIN
    (:mod:`analysis.privacy` writes ``[phone]``, ``[e-mail]``, ``[VIN]``) in ``language``
    (the catalogue's ``masks``); anything but a string is returned as it is."""
    if not isinstance(text, str) or "[" not in text:
        return text
    tokens = _mask_tokens(resolve(language, params_dir=params_dir), str(params_dir or ""))
    return tokens[0].sub(lambda m: tokens[1][m.group(0)], text) if tokens[1] else text


@cache
def _mask_tokens(language: str, params_dir: str) -> tuple[re.Pattern, dict[str, str]]:
    shown = {k: v for k, v in names("masks", language=language,
                                    params_dir=params_dir or None).items() if k != v}
    return re.compile("|".join(map(re.escape, shown)) or "(?!)"), shown


def names(group: str, *, language: str | None = None,
          params_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Every key of ``group`` with its name in ``language``."""
    return {key: name(group, key, language=language, params_dir=params_dir)
            for key in _group(group, params_dir)}


def column(key: str, *, language: str | None = None, **values) -> str:
    """A column header (``columns.key``)."""
    return text("columns", key, language=language, **values)


def columns(language: str | None = None):
    """A short-hand for the headers of one table: ``c = columns(lang); c("nps")``."""
    lang = resolve(language)

    def header(key: str, **values) -> str:
        return text("columns", key, language=lang, **values)

    return header


def driver_labels(language: str | None = None) -> dict[str, str]:
    """Driver column -> the label users read (the catalogue's ``drivers``)."""
    return names("drivers", language=language)
