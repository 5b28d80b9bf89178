"""The decisions a report makes once: confidence level, false discovery rate, star scope,
bootstrap draws, language, windows and margins, read from params/*.yaml at the edge.

A :class:`Settings` is built where a run starts (the command line, a notebook's parameters,
a test) by :meth:`Settings.from_params` and handed down; the statistics and the report read
its fields instead of reading params again, so one report cannot mix two levels or two q.
It is frozen: a variation is a new object (:meth:`Settings.with_`).

    >>> s = Settings.from_params()
    >>> s.level, s.q
    (0.95, 0.1)
    >>> s.with_(language="ru").language
    'ru'
    >>> s.significant(0.03), s.significant(0.07)
    (True, False)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from analysis import config
from analysis.config import ParamsError, load_params
from analysis.estimators import check_level

__all__ = ["LANGUAGES", "RETIRED", "SCOPES", "Settings", "default_language", "level_or",
           "significant", "settings_or"]

LANGUAGES = ("en", "ru")
SCOPES = ("report", "table")


@dataclass(frozen=True)
class Settings:
    """What every figure of one run is decided with.

    Attributes
    ----------
    level
        Confidence level of every interval shown (params/nps.yaml ``level``).
    q
        False discovery rate of a family of stars (params/flags.yaml ``q``).
    scope
        ``report``: one star family over the report; ``table``: each table its own
        (params/flags.yaml ``scope``).
    n_boot
        Bootstrap draws of the driver importance and its change (params/drivers.yaml
        ``n_boot``); the report's star family is computed with the same number.
    language
        Language the report is written in (params/report.yaml ``languages``' first).
    rank_level
        Level of the dealers' rank intervals (params/flags.yaml ``ranks.level``).
    vs_region_months
        Months over which a dealer's gap to its region is judged (params/flags.yaml
        ``vs_region.months``).
    margins
        The smallest material change per quantity, ``(name, value)`` pairs (params/flags.yaml
        ``equivalence``; read with :meth:`margin`).
    params_dir
        Where the params were read (None: params/).
    """

    level: float
    q: float
    scope: str = "report"
    n_boot: int = 200
    language: str = "en"
    rank_level: float = 0.9
    vs_region_months: int = 12
    margins: tuple[tuple[str, float], ...] = ()
    params_dir: Path | None = None

    def __post_init__(self) -> None:
        check_level(self.level)
        check_level(self.rank_level)
        if not 0 < float(self.q) < 1:
            raise ValueError(f"false discovery rate q must lie strictly between 0 and 1, "
                             f"got {self.q!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"flags scope must be one of {SCOPES}, got {self.scope!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"report language must be one of {LANGUAGES}, "
                             f"got {self.language!r}")
        if int(self.n_boot) < 1:
            raise ValueError(f"bootstrap draws must be at least 1, got {self.n_boot!r}")
        pairs = self.margins.items() if isinstance(self.margins, dict) else self.margins
        object.__setattr__(self, "margins", tuple(sorted((str(k), float(v)) for k, v in pairs)))

    @classmethod
    def from_params(cls, params_dir: str | os.PathLike | None = None,
                    **overrides: Any) -> Settings:
        """The settings params/*.yaml (or ``params_dir``) decide, with ``overrides`` (field
        names; None leaves the params' value) on top."""
        def read(name: str) -> dict:
            return load_params(name, params_dir=params_dir)

        flags = read("flags")
        decided = {
            "level": float(read("nps")["level"]),
            "q": float(flags["q"]),
            "scope": str(flags.get("scope", "report")),
            "n_boot": int(read("drivers").get("n_boot", 200)),
            "language": default_language(params_dir),
            "rank_level": float((flags.get("ranks") or {}).get("level", 0.9)),
            "vs_region_months": int((flags.get("vs_region") or {}).get("months", 12)),
            "margins": {k: float(v) for k, v in (flags.get("equivalence") or {}).items()},
            "params_dir": None if params_dir is None else Path(params_dir),
        }
        _check_retired(read, params_dir, decided)
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"unknown settings {unknown}; known: {sorted(names)}")
        decided.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**decided)

    def with_(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (None leaves a field as it is)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def alpha(self) -> float:
        """``1 - level``: a p-value below it is significant on its own."""
        return 1.0 - self.level

    def significant(self, p_value) -> bool | np.ndarray:
        """Whether one p-value, alone (no family), is significant: below ``1 - level``.
        A missing p-value is not. An array of p-values gives an array of verdicts (NaN:
        False). The report's stars use the family rule (:class:`analysis.stars.StarRule`),
        which falls back to this without one."""
        return significant(p_value, self.level)

    def margin(self, quantity: str = "nps_points") -> float:
        """The smallest material change of ``quantity`` (``nps_points``, ``importance_pp``,
        ``cause_points``)."""
        try:
            return dict(self.margins)[quantity]
        except KeyError:
            raise KeyError(f"params/flags.yaml equivalence has no {quantity!r}; "
                           f"it has {[k for k, _ in self.margins]}") from None


def settings_or(settings: Settings | None) -> Settings:
    """``settings`` when given, else :meth:`Settings.from_params`: what a ``settings=None``
    argument of a statistics function means (as :func:`analysis.config.params_or` for
    params). The params' settings are decided once per process and params directory, as
    :func:`analysis.config.load_params` reads each file once: a function called in a loop
    does not decide them again."""
    return _from_params(config.PARAMS_DIR) if settings is None else settings


@cache
def _from_params(directory: Path) -> Settings:
    # keyed by the directory load_params reads at the call (params/ or DEALER_VOICE_PARAMS)
    return Settings.from_params()


def significant(p_value, level: float) -> bool | np.ndarray:
    """The one decision on a p-value alone (no family): below ``1 - level``. A missing
    p-value (None, NaN) is not significant; an array gives an array of verdicts. A report's
    stars use its family rule (:class:`analysis.stars.StarRule`) instead."""
    if p_value is None:
        return False
    alpha = 1.0 - check_level(level)
    if np.ndim(p_value) == 0:
        p = float(p_value)
        return not math.isnan(p) and p < alpha
    p = np.asarray(p_value, dtype=float)
    with np.errstate(invalid="ignore"):
        return p < alpha


# keys a params file no longer has: the one setting that decides them now, by field
RETIRED = (
    ("css", (), "level", "level"),
    ("operations", ("red_flags",), "level", "level"),
    ("operations", ("incidents",), "level", "level"),
    ("loop", ("actions",), "level", "level"),
    ("loop", ("retention",), "level", "level"),
    ("loop", ("funnel",), "level", "level"),
    ("taxonomy", ("learning",), "level", "level"),
    ("flags", ("calibration",), "importance_n_boot", "n_boot"),
    ("labels", (), "language", "language"),
)
_WHERE = {"level": "params/nps.yaml level", "n_boot": "params/drivers.yaml n_boot",
          "language": "the first of params/report.yaml languages"}


def _check_retired(read, params_dir, decided: dict) -> None:
    """A ParamsError naming the file and key when a params directory still sets a retired key
    to another value than the one setting now decides (an edit there would do nothing);
    the same value is harmless and passes."""
    directory = Path(params_dir) if params_dir is not None else None
    for name, path, key, field_name in RETIRED:
        if directory is not None and not (directory / f"{name}.yaml").exists():
            continue
        section = read(name)
        for part in path:
            section = section.get(part) or {}
        if key in section and section[key] != decided[field_name]:
            where = ".".join((*path, key))
            raise ParamsError(
                f"params/{name}.yaml: {where} ({section[key]!r}) is no longer read: every "
                f"report uses {_WHERE[field_name]} ({decided[field_name]!r}). Set the value "
                f"there and remove {where} from {name}.yaml.")


def default_language(params_dir: str | os.PathLike | None = None) -> str:
    """The reports' default language: the first of params/report.yaml ``languages``."""
    languages = load_params("report", params_dir=params_dir).get("languages") or ["en"]
    return str(languages[0] if isinstance(languages, list) else languages)


def level_or(level: float | None, settings: Settings | None = None) -> float:
    """``level`` when given, else the run's (``settings``', None: the params'); checked. What
    a ``level=None`` argument means anywhere."""
    return check_level(settings_or(settings).level if level is None else level)
