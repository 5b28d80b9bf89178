"""The report's significance rule, in one place: what the summary, tables and charts call a
real change.

With ``scope: report`` in params/flags.yaml every star of a report follows one
Benjamini-Hochberg family over all the p-values the report shows
(:class:`analysis.stars.StarRule`, built once per report before its sections run:
:func:`analysis.report.sections.star_rule`); sections pass it as ``rule`` and
:func:`significant` consults it. Without a rule (``scope: table``, or a table drawn on its
own) a frame's ``{test}_flag`` column (BH within that table) is used, and without one a raw
``p < 1 - level``. :func:`rule_text` is the sentence a report states its stars with;
:func:`evidence` what a change that is not starred still allows one to say.
"""

from __future__ import annotations

import pandas as pd

from analysis.config import load_params
from analysis.report import labels as L
from analysis.stars import StarRule
from analysis.stars import evidence as _evidence

__all__ = ["StarRule", "evidence", "level", "margin", "rule_text", "significant"]


def level(value: float | None = None) -> float:
    """The report's confidence level (params/nps.yaml ``level`` by default)."""
    return float(load_params("nps")["level"] if value is None else value)


def significant(frame: pd.DataFrame, test: str = "change", *,
                level_: float | None = None, rule: StarRule | None = None) -> pd.Series:
    """Which rows of ``frame`` pass the report's significance rule for ``test``.

    ``test`` names the comparison: ``change`` (vs the previous period) or ``vs_region``.
    ``rule`` (the report's :class:`~analysis.stars.StarRule`) decides when given; otherwise
    ``{test}_flag`` when the frame has it (multiple-testing corrected within its table),
    else ``{test}_p_value < 1 - level``. Missing values are never significant.
    """
    if rule is not None:
        return rule.significant(frame, test)
    flag, p_value = f"{test}_flag", f"{test}_p_value"
    if flag in frame:
        return frame[flag].fillna(False).astype(bool)
    if p_value in frame:
        p = pd.to_numeric(frame[p_value], errors="coerce")
        return (p < 1 - level(level_)).fillna(False).astype(bool)
    return pd.Series(False, index=frame.index)


def rule_text(rule: StarRule | None = None, *, language: str | None = None) -> str:
    """The star rule in words (params/labels.yaml ``summary.star_rule_*``), with ``q`` of
    params/flags.yaml: one family over the report, or Benjamini-Hochberg within each table."""
    q = load_params("flags")["q"] if rule is None else rule.q
    scope = (load_params("flags").get("scope", "report") if rule is None else rule.scope)
    from analysis.report import format as F

    return L.text("summary", f"star_rule_{scope}", language=language,
                  q=F.percent(float(q)))


def margin(quantity: str = "nps_points") -> float:
    """The smallest material change of ``quantity`` (params/flags.yaml ``equivalence``)."""
    return float(load_params("flags")["equivalence"][quantity])


def evidence(frame: pd.DataFrame, test: str = "change", *, rule: StarRule | None = None,
             quantity: str = "nps_points", low: str | None = None,
             high: str | None = None) -> pd.Series:
    """What each row's change allows the report to say (:func:`analysis.stars.evidence`):
    ``real`` (starred by :func:`significant`), ``none`` (its interval rules a material change
    out), ``not_in_family`` (the interval alone excludes 0, the report-wide rule does not
    star it) or ``unclear`` (not enough evidence yet). The interval is ``{test}_low`` and
    ``{test}_high`` unless named."""
    real = significant(frame, test, rule=rule)
    verdict = _evidence(real.to_numpy(), frame[f"{test}_p_value"], frame[low or f"{test}_low"],
                        frame[high or f"{test}_high"], margin=margin(quantity),
                        alpha=1 - level())
    return pd.Series(verdict, index=frame.index)
