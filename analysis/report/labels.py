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
"""

from __future__ import annotations

import os
from functools import cache

from analysis.config import PARAMS_DIR, ParamsError, load_params

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
    """``value``, or the catalogue's default language; checked against :data:`LANGUAGES`."""
    chosen = value or catalogue(params_dir=params_dir)["language"]
    if chosen not in LANGUAGES:
        raise ParamsError(f"language must be one of {LANGUAGES}, got {chosen!r} "
                          f"(params/labels.yaml, 'language:', or the language= argument)")
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
    template = _entry(entries[key], resolve(language, params_dir=params_dir),
                      f"{group}.{key}")
    return template.format(**values) if values else template


def name(group: str, value, *, language: str | None = None,
         params_dir: str | os.PathLike | None = None) -> str:
    """A value from the data (a touchpoint, a cause, a status) as the catalogue names it;
    the value itself when the catalogue does not list it."""
    entries = _group(group, params_dir)
    if value is None or str(value) not in entries:
        return "" if value is None else str(value)
    return _entry(entries[str(value)], resolve(language, params_dir=params_dir),
                  f"{group}.{value}")


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
