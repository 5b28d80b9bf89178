"""The report's significance rule, in one place: what the summary, tables and charts call a
real change.

With ``scope: report`` in params/flags.yaml every star of a report follows one
Benjamini-Hochberg family over all the p-values the report shows
(:class:`analysis.stars.StarRule`, built once per report before its sections run:
:func:`analysis.report.sections.star_rule`); sections pass it as ``rule`` and
:func:`significant` consults it. Without a rule (``scope: table``, or a table drawn on its
own) a frame's ``{test}_flag`` column (BH within that table) is used, and without one a raw
``p < 1 - level``. :func:`rule_text` is the sentence a report states its stars with.
"""

from __future__ import annotations

import pandas as pd

from analysis.config import load_params
from analysis.report import labels as L
from analysis.stars import StarRule

__all__ = ["StarRule", "level", "rule_text", "significant"]


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
