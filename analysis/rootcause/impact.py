"""What each root cause costs in NPS: :func:`cause_impact`, :func:`dealer_cause_matrix`,
the tests behind a report's words on causes (:func:`compare_causes`) and the report's table
of causes (:func:`top_causes`).

The causes come from either estimator (or the team): a Series of causes indexed by
``response_id``, as :func:`~analysis.rootcause.label_responses` returns.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from analysis import nps as _nps
from analysis.config import params_or
from analysis.errors import require_columns
from analysis.estimators import bh_flags, two_sided_p, z_value
from analysis.rootcause.reading import RootCauseError, mask_texts
from analysis.settings import Settings, level_or, settings_or

if TYPE_CHECKING:
    from analysis.rootcause.clustering import RootCauseModel

__all__ = [
    "CauseComparison",
    "cause_impact",
    "compare_causes",
    "dealer_cause_matrix",
    "top_causes",
]


def _labels_for(responses: pd.DataFrame, labels, id_col: str) -> pd.Series:
    if isinstance(labels, Mapping):
        labels = pd.Series(labels, dtype="object")
    if isinstance(labels, pd.Series):
        require_columns(responses, [id_col], table="responses", error=RootCauseError,
                        fix="the labels are matched on it")
        return responses[id_col].map(labels).astype("object")
    labels = np.asarray(labels, dtype=object)
    if len(labels) != len(responses):
        raise RootCauseError(f"labels has {len(labels)} entries for {len(responses)} responses; "
                             "pass a Series indexed by response_id or one label per row")
    return pd.Series(labels, index=responses.index, dtype="object")


def _impact_long(responses: pd.DataFrame, labels, *, by: Sequence[str], score: str,
                 id_col: str) -> pd.DataFrame:
    keys = list(by)
    require_columns(responses, [*keys, score], table="responses", error=RootCauseError)
    cause = _labels_for(responses, labels, id_col)
    frame = responses[[*keys, score]].assign(cause=cause.to_numpy())
    scope = _nps.summarize(frame, by=keys, period=None, score=score)
    per = _nps.summarize(frame.dropna(subset=["cause"]), by=[*keys, "cause"], period=None,
                         score=score)
    out = per.merge(scope[[*keys, "n", "nps"]].rename(columns={"n": "scope_n",
                                                               "nps": "scope_nps"}),
                    on=keys, how="left") if keys else per.assign(
        scope_n=int(scope["n"].iloc[0]), scope_nps=float(scope["nps"].iloc[0]))
    labelled = out.groupby(keys)["n"].transform("sum") if keys else out["n"].sum()
    rest = out["scope_n"] - out["n"]
    with np.errstate(invalid="ignore", divide="ignore"):
        impact = np.where(rest > 0, out["n"] * (out["nps"] - out["scope_nps"]) / rest.where(
            rest > 0, 1), np.nan)
    return (out.rename(columns={"n": "count"})
            .assign(share=lambda d: d["count"] / d["scope_n"],
                    share_of_labelled=lambda d: d["count"] / labelled,
                    impact=impact)
            [[*keys, "cause", "count", "share", "share_of_labelled", "nps", "impact",
              "scope_n", "scope_nps"]])


def _category_counts(responses: pd.DataFrame, cause: pd.Series, *, keys: list[str],
                     score: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Counts per scope (``keys``) x cause (``""`` = no cause) x NPS category, sorted.

    Returns the (scope, cause) index frame and an array (cells x 3: det, pas, pro)."""
    codes = np.asarray(_nps.classify(responses[score]).codes, dtype=np.int64)
    frame = responses[keys].assign(cause=cause.fillna("").astype(str).to_numpy(), _k=codes)
    table = (frame.groupby([*keys, "cause", "_k"], observed=True, sort=True).size()
             .unstack("_k", fill_value=0).reindex(columns=[0, 1, 2], fill_value=0))
    return table.index.to_frame(index=False), table.to_numpy(dtype=np.int64)


def _contribution_draws(index: pd.DataFrame, counts: np.ndarray, *, keys: list[str],
                        n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """The contribution of every (scope, cause) cell: the point value and ``n_boot`` draws.

    Resampling a scope's answers with replacement is a multinomial draw of its cells'
    category counts, so the bootstrap runs on the count table (independent of row order).
    Returns (1 + n_boot) x cells, the point value first; NaN in the no-cause cells.
    """
    scope = (index.groupby(keys, sort=False).ngroup().to_numpy() if keys
             else np.zeros(len(index), dtype=np.int64))
    none = (index["cause"] == "").to_numpy()
    samples = [counts[None].astype(float)]
    if n_boot:
        drawn = np.empty((n_boot, *counts.shape))
        for s in np.unique(scope):
            rows = np.flatnonzero(scope == s)
            flat = counts[rows].ravel()
            total = flat.sum()
            drawn[:, rows] = rng.multinomial(total, flat / total, size=n_boot).reshape(
                n_boot, len(rows), 3)
        samples.append(drawn)
    c = np.concatenate(samples)  # draws x cells x 3
    n_cell = c.sum(axis=2)
    net = c[:, :, 2] - c[:, :, 0]
    n_scope = np.stack([np.bincount(scope, weights=row) for row in n_cell])
    ref_n = np.stack([np.bincount(scope, weights=row * none) for row in n_cell])
    ref_net = np.stack([np.bincount(scope, weights=row * none) for row in net])
    with np.errstate(invalid="ignore", divide="ignore"):
        ref_rate = np.where(ref_n > 0, ref_net / np.where(ref_n > 0, ref_n, 1), np.nan)
        contribution = 100.0 * (net - n_cell * ref_rate[:, scope]) / n_scope[:, scope]
    return np.where(none[None], np.nan, contribution)


def _cell_draws(responses: pd.DataFrame, labels, *, keys: list[str], score: str, id_col: str,
                n_boot: int, random_state) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The (scope, cause) cells, their category counts and the contribution draws
    (:func:`_contribution_draws`): the same ``random_state`` gives the same draws."""
    cause = _labels_for(responses, labels, id_col)
    index, counts = _category_counts(responses, cause, keys=keys, score=score)
    draws = _contribution_draws(index, counts, keys=keys, n_boot=n_boot,
                                rng=np.random.default_rng(random_state))
    return index, counts, draws


def cause_impact(responses: pd.DataFrame, labels, *, by: Sequence[str] = (),
                 score: str = "nps", id_col: str = "response_id", n_boot: int | None = None,
                 level: float | None = None, random_state: int | None = 0,
                 params: dict | None = None, settings: Settings | None = None
                 ) -> pd.DataFrame:
    """Per cause: count, share, the NPS of its responses, its contribution and impact.

    The contribution adds up: with ``ref_nps`` the NPS of the scope's answers that carry no
    cause (promoters, uncommented answers, answers no cause was found for)::

        contribution = count / scope_n * (nps - ref_nps)

    and the contributions of a scope's causes sum to ``scope_nps - ref_nps``, the points
    the scope loses to all its labelled answers together (``gap``). It is the report's
    column: readers add it. ``contribution_low`` and ``contribution_high`` are percentile
    bootstrap intervals at ``level`` (answers resampled within the scope, ``n_boot`` draws,
    params/taxonomy.yaml ``report``); causes whose intervals overlap are within each
    other's noise.

    The *scope* is every response passed in (of each ``by`` group): with or without a
    comment, promoters included. Its NPS is the overall NPS. For a cause with ``count``
    responses whose NPS is ``nps``::

        impact = count * (nps - scope_nps) / (scope_n - count)

    which equals ``scope_nps - NPS of the scope without this cause's responses``: the points
    the scope's NPS loses (negative) to the cause. A cause that holds the whole scope has no
    "without" and gets NaN.

    Parameters
    ----------
    responses
        One row per answer with ``score`` (0-10), ``id_col`` and the ``by`` columns.
    labels
        The cause of each labelled response: a Series (or dict) indexed by ``id_col`` as
        :func:`label_responses` returns, or one label per row of ``responses``. Responses
        without a label stay in the scope and in no cause.
    by
        Groups that are scopes of their own, e.g. ``("dealer_id",)``.

    Returns
    -------
    DataFrame
        ``[*by, cause, count, share, share_of_labelled, nps, impact, scope_n, scope_nps,
        ref_nps, gap, contribution, contribution_low, contribution_high]``, the most
        harmful cause by ``impact`` first.
    """
    out = _impact_long(responses, labels, by=by, score=score, id_col=id_col)
    out = _with_contributions(out, responses, labels, keys=list(by), score=score,
                              id_col=id_col, n_boot=n_boot,
                              level=level_or(level, settings),
                              random_state=random_state, params=params)
    # still in the order of ``impact``, which the display table shows; the report ranks by
    # ``contribution`` once its table shows that column
    return out.sort_values([*by, "impact", "count"], ascending=[*([True] * len(by)), True,
                                                                False]).reset_index(drop=True)


def _with_contributions(out: pd.DataFrame, responses: pd.DataFrame, labels, *,
                        keys: list[str], score: str, id_col: str, n_boot: int | None,
                        level: float | None, random_state, params: dict | None
                        ) -> pd.DataFrame:
    """``out`` (the per-cause rows) with ref_nps, gap and the contributions with intervals."""
    report = params_or("taxonomy", params)["report"]
    n_boot = int(report.get("impact_n_boot", 200) if n_boot is None else n_boot)
    level = level_or(level)
    index, counts, draws = _cell_draws(responses, labels, keys=keys, score=score,
                                       id_col=id_col, n_boot=n_boot,
                                       random_state=random_state)
    none = (index["cause"] == "").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = index.loc[none, keys].assign(
            ref_nps=_nps.nps_from_counts(counts[none, 2], counts[none, 1], counts[none, 0]))
    cells = index.assign(contribution=draws[0])
    if n_boot > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # no-cause cells: all NaN
            low, high = np.nanquantile(draws[1:], [0.5 - level / 2, 0.5 + level / 2], axis=0)
        cells = cells.assign(contribution_low=low, contribution_high=high)
    else:
        cells = cells.assign(contribution_low=np.nan, contribution_high=np.nan)
    cells = cells.loc[~none]
    out = out.assign(cause=out["cause"].astype(str))
    if keys:
        out = out.merge(ref, on=keys, how="left")
    else:
        out = out.assign(ref_nps=float(ref["ref_nps"].iloc[0]) if len(ref) else np.nan)
    out = out.assign(gap=out["scope_nps"] - out["ref_nps"])
    return out.merge(cells, on=[*keys, "cause"], how="left", validate="one_to_one")


def dealer_cause_matrix(responses: pd.DataFrame, labels, *,
                        value: Literal["impact", "contribution", "count", "share",
                                       "nps"] = "impact",
                        dealer: str = "dealer_name", score: str = "nps",
                        id_col: str = "response_id", params: dict | None = None
                        ) -> pd.DataFrame:
    """A dealer x cause matrix for the report (each dealer's responses are its own scope).

    ``value`` picks the cell: the NPS ``impact`` on the dealer or the cause's additive
    ``contribution`` to the dealer's gap (see :func:`cause_impact`), the ``count`` or
    ``share`` of its responses, or the cause's ``nps`` at that dealer. Causes are ordered by
    their network-wide impact in the frame passed in, dealers by name. Cells without
    responses hold 0 (NaN for ``nps``); cells built on fewer than ``matrix_min_count``
    responses (params/taxonomy.yaml, 5) are empty (NaN) for every value but ``count``: one
    answer is no measure of a cause at a dealer. A wide display frame, not a tidy one.
    """
    values = ("impact", "contribution", "count", "share", "nps")
    if value not in values:
        raise RootCauseError(f"value must be one of {values}, got {value!r}")
    p = params_or("taxonomy", params)["report"]
    long = _impact_long(responses, labels, by=(dealer,), score=score, id_col=id_col)
    if value == "contribution":
        long = _with_contributions(long, responses, labels, keys=[dealer], score=score,
                                   id_col=id_col, n_boot=0, level=None, random_state=0,
                                   params=params)
    order = cause_impact(responses, labels, score=score, id_col=id_col, n_boot=0,
                         params=params)["cause"].tolist()
    matrix = long.pivot(index=dealer, columns="cause", values=value)
    matrix = matrix.reindex(columns=[c for c in order if c in matrix.columns]).sort_index()
    matrix.columns.name = "cause"
    if value == "count":
        return matrix.fillna(0)
    few = long.pivot(index=dealer, columns="cause", values="count").reindex_like(matrix)
    filled = matrix if value == "nps" else matrix.fillna(0)
    return filled.mask(few.notna() & (few < p["matrix_min_count"]))


# --- the claims a report makes about causes ------------------------------------------------

@dataclass(frozen=True)
class CauseComparison:
    """Each cause's contribution this month, the costliest against the next, and each
    cause's change from the month before: the tests behind the report's words on causes.

    Attributes
    ----------
    impact
        :func:`cause_impact` of the month, the costliest first (by ``contribution``, then
        ``count``), with ``contribution_se`` (the bootstrap's standard error),
        ``behind_top`` (the cause's contribution minus the costliest's: >= 0, the points it
        costs less) with ``behind_top_low`` / ``behind_top_high`` at ``level`` (the same
        resamples for both causes: a paired bootstrap), and the change from the month before:
        ``previous_count``, ``previous_contribution``, ``change`` (this month's contribution
        minus that month's: negative, the cause costs more), ``change_se``, ``change_low``,
        ``change_high`` (NaN where the cause had no answers then, or no month before was
        given), ``change_p_value`` (z on the change; NaN where either month has fewer than
        ``test_min_count`` answers of the cause), ``change_p_adj`` and ``change_flag``
        (Benjamini-Hochberg over the causes' changes at params/flags.yaml ``q``: the flags a
        report whose stars are per table reads).
    lead
        One row, the costliest cause against the next (empty with fewer than two causes):
        ``cause``, ``runner_up``, ``difference`` (the costliest's contribution minus the
        next's: negative), ``difference_se``, ``difference_low``, ``difference_high``,
        ``lead_p_value`` (z on the paired difference; NaN when either has fewer than
        ``test_min_count`` answers), ``lead_p_adj`` and ``lead_flag`` (at ``q``).
    level
        The level of every interval.
    """

    impact: pd.DataFrame
    lead: pd.DataFrame
    level: float

    @property
    def has_previous(self) -> bool:
        """Whether the month before was compared (some cause has a previous contribution)."""
        return bool(self.impact["previous_contribution"].notna().any())

    def summary(self) -> str:
        """The comparison as text: the lead test and every cause's change."""
        lines = [f"{len(self.impact)} causes; intervals at {self.level:.0%}"]
        if not self.lead.empty:
            row = self.lead.iloc[0]
            lines.append(f"lead: {row['cause']} vs {row['runner_up']}: {row['difference']:+.2f} "
                         f"[{row['difference_low']:+.2f}, {row['difference_high']:+.2f}], "
                         f"p = {row['lead_p_value']:.3g}")
        cols = ["cause", "count", "contribution", "behind_top", "previous_contribution",
                "change", "change_low", "change_high", "change_p_value"]
        lines.append(self.impact[cols].round(3).to_string(index=False))
        return "\n".join(lines)


_EMPTY_LEAD = ["cause", "runner_up", "difference", "difference_se", "difference_low",
               "difference_high", "lead_p_value", "lead_p_adj", "lead_flag"]


def _draw_se(responses: pd.DataFrame, labels, *, score: str, id_col: str, n_boot: int,
             random_state) -> pd.DataFrame:
    """Bootstrap draws (rows) of each cause's contribution (columns), the draws
    :func:`cause_impact` takes its interval from (the same ``random_state``)."""
    index, _, draws = _cell_draws(responses, labels, keys=[], score=score, id_col=id_col,
                                  n_boot=n_boot, random_state=random_state)
    cause = index["cause"].to_numpy()
    keep = cause != ""
    return pd.DataFrame(draws[1:, keep], columns=cause[keep])


def compare_causes(responses: pd.DataFrame, labels, *, previous: pd.DataFrame | None = None,
                   previous_labels=None, score: str = "nps", id_col: str = "response_id",
                   n_boot: int | None = None, level: float | None = None,
                   random_state: int | None = 0, params: dict | None = None,
                   settings: Settings | None = None
                   ) -> CauseComparison:
    """Test what a report says about the causes of one scope and month: which costs most,
    and how each changed from the month before.

    The costliest cause is tested against the next by the difference of their contributions
    on the same bootstrap resamples of the month's answers (a paired bootstrap: the two
    contributions share the scope's answers, so their draws are not independent); each
    cause's change is this month's contribution minus the month before's, two independent
    samples, with the standard error of each month's bootstrap. Both tests are z-tests on the
    bootstrap standard error, two-sided, with intervals at ``level``; a test needs
    ``test_min_count`` answers of each cause involved in each month (params/taxonomy.yaml
    ``report``), fewer are too few for a normal approximation.

    Parameters
    ----------
    responses, labels
        The month's answers of the scope and their causes (as :func:`cause_impact`).
    previous, previous_labels
        The month before's answers of the same scope and their causes; None: no change is
        measured.
    n_boot, level, random_state
        Bootstrap draws (params/taxonomy.yaml ``report.impact_n_boot``), the intervals' level
        (default ``settings.level``) and the resampling seed.
    settings
        The run's :class:`~analysis.settings.Settings` (level and the tests' q); None: the
        params'.

    Returns
    -------
    CauseComparison
        The month's causes with their tests (``impact``) and the lead test (``lead``); see
        :class:`CauseComparison`.
    """
    report = params_or("taxonomy", params)["report"]
    n_boot = int(report["impact_n_boot"] if n_boot is None else n_boot)
    settings = settings_or(settings)
    level = level_or(level, settings)
    min_count = int(report["test_min_count"])
    q = settings.q
    z = z_value(level)
    kw = dict(score=score, id_col=id_col, n_boot=n_boot, random_state=random_state)
    impact = (cause_impact(responses, labels, level=level, params=params, **kw)
              .sort_values(["contribution", "count"], ascending=[True, False])
              .reset_index(drop=True))
    draws = _draw_se(responses, labels, **kw).reindex(columns=impact["cause"])
    se = draws.std(ddof=1).to_numpy() if n_boot > 1 else np.full(len(impact), np.nan)
    impact = impact.assign(contribution_se=se)
    lead = pd.DataFrame(columns=_EMPTY_LEAD)
    if len(impact):
        behind = draws.sub(draws.iloc[:, 0], axis=0)
        behind_se = (behind.std(ddof=1).to_numpy() if n_boot > 1
                     else np.full(len(impact), np.nan))
        point = (impact["contribution"] - impact["contribution"].iloc[0]).to_numpy()
        impact = impact.assign(behind_top=point, behind_top_low=point - z * behind_se,
                               behind_top_high=point + z * behind_se)
        if len(impact) > 1:
            enough = bool((impact["count"].iloc[:2] >= min_count).all())
            diff, diff_se = -point[1], behind_se[1]
            with np.errstate(invalid="ignore", divide="ignore"):
                p = float(two_sided_p(diff / diff_se)) if enough and diff_se > 0 else np.nan
            lead = pd.DataFrame({
                "cause": [impact["cause"].iloc[0]], "runner_up": [impact["cause"].iloc[1]],
                "difference": [diff], "difference_se": [diff_se],
                "difference_low": [diff - z * diff_se], "difference_high": [diff + z * diff_se],
                "lead_p_value": [p], "lead_p_adj": [p],
                "lead_flag": [bool(np.isfinite(p) and p <= q)]})
    else:
        impact = impact.assign(behind_top=np.nan, behind_top_low=np.nan,
                               behind_top_high=np.nan)
    impact = _with_change(impact, previous, previous_labels, z=z, q=q, min_count=min_count,
                          params=params, level=level, **kw)
    return CauseComparison(impact=impact, lead=lead, level=level)


def _with_change(impact: pd.DataFrame, previous, previous_labels, *, z: float, q: float,
                 min_count: int, params, level: float, **kw) -> pd.DataFrame:
    """``impact`` with each cause's change from ``previous`` (NaN without one)."""
    before = pd.DataFrame({"cause": pd.Series(dtype="object"),
                           **{c: pd.Series(dtype="float64") for c in (
                               "previous_count", "previous_contribution", "previous_se")}})
    if previous is not None and previous_labels is not None and len(previous):
        was = cause_impact(previous, previous_labels, level=level, params=params, **kw)
        draws = _draw_se(previous, previous_labels, **kw).reindex(columns=was["cause"])
        before = pd.DataFrame({
            "cause": was["cause"].astype(str).to_numpy(),
            "previous_count": was["count"].to_numpy(),
            "previous_contribution": was["contribution"].to_numpy(),
            "previous_se": (draws.std(ddof=1).to_numpy() if kw["n_boot"] > 1
                            else np.full(len(was), np.nan))})
    out = impact.merge(before.astype({"cause": str}), on="cause", how="left")
    change = out["contribution"] - out["previous_contribution"]
    change_se = np.sqrt(out["contribution_se"] ** 2 + out["previous_se"] ** 2)
    tested = ((out["count"] >= min_count) & (out["previous_count"] >= min_count)
              & (change_se > 0)).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(tested, two_sided_p(change / change_se), np.nan)
    adjusted, flags = bh_flags(p, q=q)
    return (out.drop(columns="previous_se")
            .assign(change=change, change_se=change_se, change_low=change - z * change_se,
                    change_high=change + z * change_se, change_p_value=p,
                    change_p_adj=adjusted, change_flag=flags))


def top_causes(responses: pd.DataFrame, labels, *, model: RootCauseModel | None = None,
               text: str = "comment", score: str = "nps", id_col: str = "response_id",
               top: int | None = None, params: dict | None = None) -> pd.DataFrame:
    """The ``top`` causes by NPS impact, with their label and masked quotes.

    Quotes come from ``model.clusters_`` when the model is given (its most typical comments),
    else they are the cause's most frequent masked comments in ``responses``.

    Returns
    -------
    DataFrame
        ``rank, cause, label, count, share, nps, impact, quotes`` (a tuple of masked
        comments), the most harmful cause first; see :func:`cause_impact`.
    """
    p = params_or("taxonomy", params)
    top = int(p["report"]["top"]) if top is None else top
    n_quotes = int(p["clustering"]["quotes"])
    impact = cause_impact(responses, labels, score=score, id_col=id_col)
    if model is not None and hasattr(model, "clusters_"):
        info = model.clusters_.set_index("cluster")[["label", "quotes"]]
    else:
        cause = _labels_for(responses, labels, id_col)
        quotes = (pd.DataFrame({"cause": cause.to_numpy(),
                                "quote": mask_texts(responses[text]).to_numpy()})
                  .dropna().value_counts().reset_index().groupby("cause").head(n_quotes)
                  .groupby("cause")["quote"].agg(tuple))
        info = pd.DataFrame({"label": "", "quotes": quotes})
    table = impact.join(info, on="cause").head(top)
    return pd.DataFrame({
        "rank": np.arange(1, len(table) + 1),
        "cause": table["cause"].to_numpy(),
        "label": table["label"].fillna("").to_numpy(),
        "count": table["count"].to_numpy(),
        "share": table["share"].to_numpy(),
        "nps": table["nps"].to_numpy(),
        "impact": table["impact"].to_numpy(),
        "quotes": table["quotes"].apply(lambda q: q if isinstance(q, tuple) else ()).to_numpy(),
    })
