"""The stars of a monthly report as one family of tests, and the rule that stars them.

A report stars tests of several tables: the scope's NPS change by month (the headline and its
trend chart), each touchpoint's and (network report) each region's change by month, each
dealer's change and gap to the rest of its region, each dealer's CSS change, each driver's
importance change, and the root causes' claims: the costliest cause against the next and each
cause's change from the month before (:func:`cause_tables`). With ``scope: report`` (params/flags.yaml) they form one
Benjamini-Hochberg family at ``q`` (:func:`analysis.estimators.joint_flags`): under the null
every table's own BH adds about ``q`` false stars, the report's family about ``q`` in all.

BH rejects exactly the tests whose p-value is at most the largest ``p_(k)`` with
``p_(k) <= k q / m``, so the family's verdict is one cut-off: :class:`StarRule` keeps it, and
any table of the report stars a row when its raw p-value is at most the cut-off (and the row
is in the family: a CSS change below the small-sample threshold never is). The report
(:mod:`analysis.report.rules`) and the calibration (:mod:`analysis.calibration`) both build
the family with :func:`report_tables` / :func:`family_p_values` and star with
:meth:`StarRule.significant`: the calibration measures the report's own rule.

Growth zones are a test of their own (one-sided, BH over the network's dealer x driver pairs,
:func:`analysis.growth.growth_zones`), measured apart as false zones per run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.estimators import joint_flags
from analysis.settings import SCOPES, Settings, settings_or

__all__ = ["CAUSE_FAMILIES", "EVIDENCE", "FAMILIES", "StarRule", "cause_tables", "evidence",
           "family_p_values",
           "importance_tests", "report_tables"]

# family name -> the test its frame carries (``{test}_p_value``, ``{test}_p_adj``)
FAMILIES = {
    "nps change": "change",
    "touchpoint change": "change",
    "region change": "change",
    "dealer change": "change",
    "dealer vs region": "vs_region",
    "CSS change": "change",
    "driver importance change": "change",
    "cause lead": "lead",
    "cause change": "change",
}
# the families of the root causes' claims: they need the causes of the month's comments
# (:func:`analysis.rootcause.compare_causes`), which the report labels and a shuffle does not
CAUSE_FAMILIES = ("cause lead", "cause change")


def _eligible(frame: pd.DataFrame, test: str) -> np.ndarray:
    """Rows whose test belongs to the family: a finite p-value and, where the table's own
    rule left a row out (``{test}_p_adj`` NaN: a CSS change below ``min_n``), not that row."""
    p = pd.to_numeric(frame[f"{test}_p_value"], errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(p)
    adjusted = f"{test}_p_adj"
    if adjusted in frame:
        keep &= pd.to_numeric(frame[adjusted], errors="coerce").notna().to_numpy()
    return keep


def family_p_values(tables: Mapping[str, pd.DataFrame | None]) -> dict[str, np.ndarray]:
    """The raw p-values of every test the report stars, per family (missing tables: none).

    ``tables`` maps a name of :data:`FAMILIES` to the frame the report shows for it.
    """
    out = {}
    for name, frame in tables.items():
        if name not in FAMILIES:
            raise ValueError(f"unknown family {name!r}; known: {list(FAMILIES)}")
        test = FAMILIES[name]
        if frame is None or frame.empty or f"{test}_p_value" not in frame:
            out[name] = np.zeros(0)
            continue
        p = pd.to_numeric(frame[f"{test}_p_value"], errors="coerce").to_numpy(dtype=float)
        out[name] = p[_eligible(frame, test)]
    return out


def importance_tests(change: pd.DataFrame | None) -> pd.DataFrame | None:
    """:func:`analysis.drivers.importance_change` with its test named as the other tables'
    (``change_p_value``, ``change_p_adj``, ``change_flag``)."""
    if change is None:
        return None
    return change.rename(columns={"p_value": "change_p_value", "p_adj": "change_p_adj"})


@dataclass(frozen=True)
class StarRule:
    """The report's star rule: one BH family over the report (``scope="report"``) or each
    table's own ``*_flag`` (``scope="table"``).

    Attributes
    ----------
    cutoff
        A test of the family is starred when its raw p-value is at most this (``-inf``:
        nothing is starred). Only meaningful for ``scope="report"``.
    tests, stars
        Tests in the family and how many are starred, per family.
    """

    scope: str
    q: float
    cutoff: float
    tests: dict[str, int] = field(default_factory=dict)
    stars: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, p_values: Mapping[str, np.ndarray], *, q: float | None = None,
           scope: str | None = None, settings: Settings | None = None) -> StarRule:
        """The rule of a report whose stars are ``p_values`` (:func:`family_p_values`);
        ``q`` and ``scope`` given win over ``settings`` (None: params/*.yaml,
        :meth:`analysis.settings.Settings.from_params`)."""
        s = settings_or(settings)
        q = float(s.q if q is None else q)
        scope = str(s.scope if scope is None else scope)
        if scope not in SCOPES:
            raise ValueError(f"flags scope must be one of {SCOPES}, got {scope!r}")
        joint = joint_flags({k: np.asarray(v, dtype=float) for k, v in p_values.items()}, q=q)
        flagged = np.concatenate([np.asarray(p_values[k], dtype=float)[joint[k][1]]
                                  for k in joint] or [np.zeros(0)])
        cutoff = float(flagged.max()) if len(flagged) else float("-inf")
        return cls(scope=scope, q=q, cutoff=cutoff,
                   tests={k: int(np.isfinite(v).sum()) for k, v in p_values.items()},
                   stars={k: int(joint[k][1].sum()) for k in joint})

    def significant(self, frame: pd.DataFrame, test: str = "change") -> pd.Series:
        """Which rows of ``frame`` carry a star for ``test`` (``change`` or ``vs_region``)."""
        if self.scope == "table":
            flag = f"{test}_flag"
            if flag in frame:
                return frame[flag].astype("boolean").fillna(False).astype(bool)
            return pd.Series(False, index=frame.index)
        if f"{test}_p_value" not in frame:
            return pd.Series(False, index=frame.index)
        p = pd.to_numeric(frame[f"{test}_p_value"], errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            starred = _eligible(frame, test) & (p <= self.cutoff)
        return pd.Series(starred, index=frame.index)

    def count(self, tables: Mapping[str, pd.DataFrame | None]) -> dict[str, int]:
        """Stars per family that this rule puts on ``tables`` (as :func:`report_tables`)."""
        return {name: int(self.significant(frame, FAMILIES[name]).sum())
                if frame is not None and not frame.empty else 0
                for name, frame in tables.items()}


def cause_tables(causes) -> dict[str, pd.DataFrame | None]:
    """The frames of the root causes' families (:data:`CAUSE_FAMILIES`) from a
    :class:`analysis.rootcause.CauseComparison` (None: no causes this month, no tests)."""
    if causes is None:
        return dict.fromkeys(CAUSE_FAMILIES)
    return {"cause lead": causes.lead, "cause change": causes.impact}


def report_tables(responses: pd.DataFrame, *, month: str, network: bool,
                  reference: pd.DataFrame | None = None, n_boot: int | None = None,
                  cluster: str | None = None, time_col: str = "responded_at",
                  ranking: pd.DataFrame | None = None, monthly: pd.DataFrame | None = None,
                  causes=None, settings: Settings | None = None
                  ) -> dict[str, pd.DataFrame | None]:
    """The frames whose tests a monthly report stars, one per family (:data:`FAMILIES`).

    ``responses`` are the report's answers (its months, its region; with ``region``);
    ``network`` adds the regions' family; ``reference`` the network's answers (CSS averages).
    ``ranking`` and ``monthly`` take frames the caller already has
    (:func:`analysis.nps.rank_dealers` of ``month``, :func:`analysis.nps.summarize` by month).
    ``causes`` (:func:`analysis.rootcause.compare_causes` of the month) adds the root causes'
    families; without it they are left out (a shuffle of answers has no causes).
    ``settings`` (None: params/*.yaml) decides the level, the CSS and importance flags' q
    and the importance bootstrap's draws (``n_boot``, when given, wins): the report passes
    its own, so the family and the importance it shows come from the same draws.
    """
    from analysis import css, drivers, nps

    s = settings_or(settings)
    n_boot = s.n_boot if n_boot is None else n_boot
    period = pd.Period(month, freq="M")
    if monthly is None:
        monthly = nps.summarize(responses, by=(), period="M", time_col=time_col, settings=s)
    if ranking is None:
        ranking = nps.rank_dealers(responses, period=month, time_col=time_col, settings=s)
    out: dict[str, pd.DataFrame | None] = {
        "nps change": monthly,
        "touchpoint change": nps.summarize(responses, by=("touchpoint",), period="M",
                                           time_col=time_col, settings=s),
        "region change": (nps.summarize(responses, by=("region",), period="M",
                                        time_col=time_col, settings=s)
                          if network else None),
        "dealer change": ranking,
        "dealer vs region": ranking,
        "CSS change": None,
        "driver importance change": None,
    }
    attrs = list(css.load_css_params()["attributes"])
    if set(attrs) <= set(responses.columns) and responses[attrs].notna().any().any():
        table = css.summarize_css(responses, by=("region", "dealer_id"), period="M",
                                  reference=reference, time_col=time_col, settings=s)
        out["CSS change"] = table.loc[table["period"] == period].reset_index(drop=True)
    # fewer than two months, or too few answers: the report shows no importance change
    with contextlib.suppress(drivers.DriverDataError, ValueError):
        out["driver importance change"] = importance_tests(drivers.importance_change(
            responses, period="M", time_col=time_col, n_boot=n_boot, random_state=0,
            cluster=cluster, settings=s))
    if causes is not None:
        out.update(cause_tables(causes))
    return out


# what a change's numbers allow the report to say (params/flags.yaml ``equivalence``)
EVIDENCE = ("real", "none", "unclear", "not_in_family")


def evidence(real, p_value, low, high, *, margin: float | None = None,
             alpha: float | None = None, quantity: str = "nps_points",
             settings: Settings | None = None) -> np.ndarray:
    """What each change's evidence allows one to say, as one of :data:`EVIDENCE`.

    ``margin`` and ``alpha`` given win over ``settings`` (None: params/*.yaml): its
    ``margin(quantity)`` and its ``alpha`` (``1 - level``: the single-test rule of
    :meth:`analysis.settings.Settings.significant`).

    ``real``: the report's rule stars it (``real``, from :meth:`StarRule.significant`).
    ``none``: no material change - not starred, ``p_value >= alpha`` and the interval
    ``[low, high]`` inside ``[-margin, margin]`` (an equivalence test: the interval rules a
    change of ``margin`` or more out). ``not_in_family``: the interval alone excludes 0
    (``p_value < alpha``) but the report-wide rule does not star it (one test of many).
    ``unclear``: anything else - not enough evidence yet either way (the interval still
    allows a material change). A missing p-value or interval is ``unclear``.

    Returns an array of the verdicts, one per change.
    """
    if margin is None or alpha is None:
        s = settings_or(settings)
        margin = s.margin(quantity) if margin is None else margin
        alpha = s.alpha if alpha is None else alpha
    real = np.asarray(real, dtype=bool)
    p = np.asarray(p_value, dtype=float)
    lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    with np.errstate(invalid="ignore"):
        raw = p < alpha  # Settings.significant's rule, at the alpha given
        within = (lo >= -margin) & (hi <= margin) & (p >= alpha)
    return np.select([real, raw, within], ["real", "not_in_family", "none"], "unclear")
