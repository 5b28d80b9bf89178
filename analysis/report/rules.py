"""The report's significance rule, in one place: what the summary, tables and charts call a
real change.

With ``scope: report`` in params/flags.yaml every star of a report follows one
Benjamini-Hochberg family over all the p-values the report shows
(:class:`analysis.stars.StarRule`, built once per report before its sections run:
:func:`analysis.report.sections.star_rule`); sections pass it as ``rule`` and
:func:`significant` consults it. Without a rule (``scope: table``, or a table drawn on its
own) a frame's ``{test}_flag`` column (BH within that table) is used, and without one a raw
``p < 1 - level`` (:meth:`analysis.settings.Settings.significant`). :func:`significant` is the
report's one significance function: every star of a table or chart is its answer.
:func:`rule_text` is the sentence a report states its stars with; :func:`evidence` what a
change that is not starred still allows one to say.

The level, q, scope and margins are the report's :class:`~analysis.settings.Settings`
(``settings``: :attr:`analysis.report.data.ReportData.settings`); a call without them (a table
drawn on its own) takes the params' (:func:`settings_or`).

:func:`cause_verdict` is what the report may say about its root causes (which costs most, and
whether each cost more or less than last month), decided once from the causes' tests
(:func:`analysis.rootcause.compare_causes`) under the same rule: the summary, the root-cause
section and its table all word this verdict and none decides it again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.config import load_params
from analysis.report import catalogue as L
from analysis.settings import Settings
from analysis.stars import StarRule
from analysis.stars import evidence as _evidence

__all__ = ["LEADS", "TRENDS", "cause_verdict", "CauseVerdict", "evidence", "margin", "rule_text",
           "Settings", "settings_or", "significant", "StarRule"]


def settings_or(settings: Settings | None) -> Settings:
    """``settings``, or the params' (:meth:`Settings.from_params`) for a table or chart drawn
    on its own: a report hands its own down (:attr:`ReportData.settings`)."""
    return Settings.from_params() if settings is None else settings


def significant(frame: pd.DataFrame, test: str = "change", *,
                level_: float | None = None, rule: StarRule | None = None,
                settings: Settings | None = None) -> pd.Series:
    """Which rows of ``frame`` pass the report's significance rule for ``test``.

    ``test`` names the comparison: ``change`` (vs the previous period) or ``vs_region``.
    ``rule`` (the report's :class:`~analysis.stars.StarRule`) decides when given; otherwise
    ``{test}_flag`` when the frame has it (multiple-testing corrected within its table),
    else each ``{test}_p_value`` alone (:meth:`Settings.significant`: below ``1 - level``;
    ``level_`` another level, as CSS has its own). Missing values are never significant.
    """
    if rule is not None:
        return rule.significant(frame, test)
    flag, p_value = f"{test}_flag", f"{test}_p_value"
    if flag in frame:
        return frame[flag].fillna(False).astype(bool)
    if p_value in frame:
        judge = settings_or(settings)
        if level_ is not None:
            judge = judge.with_(level=float(level_))
        p = pd.to_numeric(frame[p_value], errors="coerce")
        return pd.Series([judge.significant(v) for v in p], index=frame.index, dtype=bool)
    return pd.Series(False, index=frame.index)


def rule_text(rule: StarRule | None = None, *, language: str | None = None,
              settings: Settings | None = None) -> str:
    """The star rule in words (params/labels.yaml ``summary.star_rule_*``), with the rule's
    ``q`` (without one, the settings'): one family over the report, or Benjamini-Hochberg
    within each table."""
    if rule is None:
        s = settings_or(settings)
        q, scope = s.q, s.scope
    else:
        q, scope = rule.q, rule.scope
    from analysis.report import format as F

    return L.text("summary", f"star_rule_{scope}", language=language,
                  q=F.percent(float(q), language=L.resolve(language)))


def margin(quantity: str = "nps_points", *, settings: Settings | None = None) -> float:
    """The smallest material change of ``quantity`` (:meth:`Settings.margin`: params/flags.yaml
    ``equivalence``)."""
    return settings_or(settings).margin(quantity)


def evidence(frame: pd.DataFrame, test: str = "change", *, rule: StarRule | None = None,
             quantity: str = "nps_points", low: str | None = None,
             high: str | None = None, settings: Settings | None = None) -> pd.Series:
    """What each row's change allows the report to say (:func:`analysis.stars.evidence`):
    ``real`` (starred by :func:`significant`), ``none`` (its interval rules a material change
    out), ``not_in_family`` (the interval alone excludes 0, the report-wide rule does not
    star it) or ``unclear`` (not enough evidence yet). The interval is ``{test}_low`` and
    ``{test}_high`` unless named."""
    s = settings_or(settings)
    real = significant(frame, test, rule=rule, settings=s)
    verdict = _evidence(real.to_numpy(), frame[f"{test}_p_value"], frame[low or f"{test}_low"],
                        frame[high or f"{test}_high"], margin=s.margin(quantity),
                        alpha=s.alpha)
    return pd.Series(verdict, index=frame.index)


# --- what the report says about causes ---------------------------------------------------------

LEADS = ("clear", "only", "same", "unclear")
TRENDS = ("more", "less", "same", "unclear")


@dataclass(frozen=True)
class CauseVerdict:
    """What a report says about its causes this month, each claim as its test allows.

    Attributes
    ----------
    lead
        ``clear``: the costliest cause costs more than the next beyond chance (the lead test is
        a star of the report's rule and its interval excludes 0); ``only``: a single cause;
        ``same``: the named causes' differences from the first all lie within ``+-margin``
        points (their intervals do); ``unclear``: none of these, the data cannot tell yet.
    causes
        :attr:`analysis.rootcause.CauseComparison.impact` (the costliest first) with
        ``named`` (the causes the report names: the first when ``clear`` or ``only``; else
        the first, the next and any other whose interval behind the first includes 0, at most
        ``summary_causes``) and ``trend``: ``more`` / ``less`` (it cost more / less than the
        month before: the change is a star of the report's rule and its interval excludes 0),
        ``same`` (the change was tested and its interval lies within ``+-margin``),
        ``unclear`` (neither), "" (no answers of the cause the month before).
    lead_test
        :attr:`analysis.rootcause.CauseComparison.lead` (one row; empty with one cause).
    margin, level
        The margin of "about the same" (NPS points, params/flags.yaml ``equivalence.cause_points``) and
        the level of the intervals.
    """

    lead: str
    causes: pd.DataFrame
    lead_test: pd.DataFrame
    margin: float
    level: float

    @property
    def named(self) -> pd.DataFrame:
        """The causes the report names, the costliest first."""
        return self.causes.loc[self.causes["named"]]

    @property
    def costliest(self) -> str | None:
        """The cause called the costliest, or None when the report names none."""
        return str(self.causes["cause"].iloc[0]) if self.lead in ("clear", "only") else None

    def summary(self) -> str:
        """The verdict as text: the lead and the trend of every cause."""
        head = f"lead: {self.lead} (margin {self.margin:g} points, level {self.level:.0%})"
        cols = ["cause", "named", "contribution", "change", "change_low", "change_high", "trend"]
        return head + "\n" + self.causes[cols].round(3).to_string(index=False)


def _clear_of_zero(low: pd.Series, high: pd.Series) -> np.ndarray:
    return ((low > 0) | (high < 0)).fillna(False).to_numpy(dtype=bool)


def _within(low: pd.Series, high: pd.Series, margin: float) -> np.ndarray:
    return ((low > -margin) & (high < margin)).fillna(False).to_numpy(dtype=bool)


def cause_verdict(comparison, *, rule: StarRule | None = None, margin: float | None = None,
                  top: int | None = None, settings: Settings | None = None) -> CauseVerdict:
    """The report's verdict on its causes from their tests (:func:`analysis.rootcause.
    compare_causes`) under the report's star ``rule`` (:func:`significant`).

    A claim of a difference needs both the rule's star and an interval at the report's level
    that excludes 0, so the words never contradict the interval printed beside them; a claim
    of no material difference ("about the same") needs the whole interval within
    ``+-margin`` points. ``margin`` and ``top`` default to the settings' ``cause_points``
    margin (params/flags.yaml ``equivalence``) and ``report.summary_causes`` of
    params/taxonomy.yaml.

    Returns
    -------
    CauseVerdict
        The lead (``clear``, ``only``, ``same`` or ``unclear``), the causes with ``named``
        and ``trend``, the lead test, the margin and level.
    """
    report = load_params("taxonomy")["report"]
    settings = settings_or(settings)
    margin = settings.margin("cause_points") if margin is None else float(margin)
    top = int(report["summary_causes"] if top is None else top)
    causes = comparison.impact.reset_index(drop=True)
    lead_test = comparison.lead
    named = np.zeros(len(causes), dtype=bool)
    if len(causes) == 1:
        lead = "only"
        named[0] = True
    elif len(causes) == 0:
        lead = "unclear"
    else:
        row = lead_test.iloc[:1]
        starred = bool(significant(row, "lead", rule=rule, settings=settings).iloc[0]) and bool(
            _clear_of_zero(row["difference_low"], row["difference_high"])[0])
        if starred:
            lead = "clear"
            named[0] = True
        else:
            # the first, the next and any other the data cannot place behind the first
            close = ~_clear_of_zero(causes["behind_top_low"], causes["behind_top_high"])
            close[:2] = True
            named = close & (np.arange(len(causes)) < top)
            within = _within(causes["behind_top_low"], causes["behind_top_high"], margin)
            lead = "same" if within[named][1:].all() else "unclear"
    changed = significant(causes, "change", rule=rule,
                          settings=settings).to_numpy(dtype=bool) & _clear_of_zero(
        causes["change_low"], causes["change_high"])
    # "about the same" is a claim too: only on a change tested (enough answers both months)
    steady = causes["change_p_value"].notna().to_numpy() & _within(
        causes["change_low"], causes["change_high"], margin)
    # contributions are negative: a lower one costs more
    trend = np.select(
        [causes["change"].isna().to_numpy(), changed & (causes["change"] < 0).to_numpy(),
         changed, steady], ["", "more", "less", "same"], "unclear")
    return CauseVerdict(lead=lead, causes=causes.assign(named=named, trend=trend),
                        lead_test=lead_test, margin=margin, level=comparison.level)
