"""CSS: the weighted customer-service-satisfaction index of a brand's service report.

Each service answer rates the attributes of params/css.yaml on a 1-10 scale. A rating ``r``
scores ``100 * (r - 1) / 9``; the answer's index is the weighted mean of its scores with the
weights of params/css.yaml (10, 5, 15, 15, 10, 20, 5, 5, 5, 10: they must sum to 100).

Missing ratings
    A customer who skips an attribute is not given a score for it. The index is re-weighted
    over the rated attributes (``sum(w * score) / sum(w)`` over those), which assumes the
    skipped attribute would have scored like the customer's other ones. An answer whose
    rated attributes carry less than ``min_answered_weight`` (50 of 100) is left out: too
    little of the index would be observed.
Aggregates
    A dealer's (region's, the network's) index is the mean of its answers' indices, so every
    answer counts once; its interval is the normal interval of that mean, and a change is
    Welch's two-sample t test of two means (Satterthwaite's degrees of freedom): a normal z
    with estimated SDs gave false stars 18.8 % of the time at n = 2 and 8.5 % at n = 5.
    A change is flagged (``change_flag``, the report's star) only when both periods hold at
    least ``min_n`` answers, after Benjamini-Hochberg over the flaggable groups of each
    period at ``q`` of params/flags.yaml. The regional and national averages are the same mean
    over all answers of the region and the network in the period (answer-weighted, so large
    dealers weigh more, as in the brand's report).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import PARAMS_DIR, ParamsError, params_or
from analysis.errors import require_columns
from analysis.estimators import bh_flags, z_value
from analysis.settings import Settings, settings_or

__all__ = ["CSSWeightsError", "attribute_scores", "css_index", "load_css_params", "summarize_css",
           "weights", "welch_test"]


class CSSWeightsError(ParamsError):
    """The CSS attributes or weights in params/css.yaml are unusable; the message says why."""


def load_css_params(params: dict | None = None, *,
                    params_dir: str | Path | None = None) -> dict:
    """The CSS params with their weights checked: ``params`` when given, else params/css.yaml
    (or ``params_dir``/css.yaml)."""
    directory = Path(params_dir) if params_dir else PARAMS_DIR
    source = directory / "css.yaml" if params is None else "the CSS params given"
    return _checked(params_or("css", params, params_dir=directory), source)


def _checked(params: dict, source: str | Path) -> dict:
    attrs = params.get("attributes") or {}
    if not attrs:
        raise CSSWeightsError(f"{source} lists no CSS attributes under 'attributes'")
    weights = {}
    for name, spec in attrs.items():
        weight = spec.get("weight") if isinstance(spec, dict) else None
        if not isinstance(weight, int | float) or weight < 0:
            raise CSSWeightsError(f"{source}: attribute {name!r} needs a weight >= 0 in "
                                  f"percent, got {weight!r}")
        weights[name] = float(weight)
    total = sum(weights.values())
    if not np.isclose(total, 100.0):
        detail = ", ".join(f"{k} {v:g}" for k, v in weights.items())
        raise CSSWeightsError(f"CSS weights in {source} must sum to 100; they sum to {total:g} "
                              f"({detail}). Fix the weights in that file")
    lo, hi = params["scale"]["min"], params["scale"]["max"]
    if not lo < hi:
        raise CSSWeightsError(f"{source}: scale min ({lo}) must be below max ({hi})")
    return params


def weights(*, params: dict | None = None) -> pd.DataFrame:
    """The attributes with label and weight (percent), in the order of params/css.yaml."""
    p = load_css_params(params)
    return pd.DataFrame(
        [{"attribute": k, "label": v.get("label", k), "weight": float(v["weight"])}
         for k, v in p["attributes"].items()]
    )


def _ratings(responses: pd.DataFrame, p: dict) -> pd.DataFrame:
    """The attribute ratings of surveyed answers, checked against the scale."""
    attrs = list(p["attributes"])
    require_columns(responses, attrs, table="responses", fix=f"the CSS questions are asked at "
                    f"{p['touchpoints']} and named in params/css.yaml")
    ratings = responses[attrs].apply(pd.to_numeric, errors="coerce").astype(float)
    lo, hi = p["scale"]["min"], p["scale"]["max"]
    values = ratings.to_numpy()
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(values) & ((values < lo) | (values > hi) | (values != np.round(values)))
    # text that is not a number is bad too, not silently missing
    bad |= ratings.isna().to_numpy() & responses[attrs].notna().to_numpy()
    if bad.any():
        rows, cols = np.nonzero(bad)
        shown = ", ".join(f"{attrs[c]}={responses[attrs].iat[r, c]!r} at row {r}"
                          for r, c in zip(rows[:10], cols[:10]))
        raise ValueError(f"CSS ratings must be whole numbers from {lo} to {hi} or missing; got "
                         f"{shown}" + (f" and {len(rows) - 10} more" if len(rows) > 10 else ""))
    return ratings


def css_index(responses: pd.DataFrame, *, params: dict | None = None) -> pd.Series:
    """Each answer's CSS index (0-100), re-weighted over the rated attributes.

    NaN for answers at touchpoints without the CSS questions and for answers whose rated
    attributes carry less than ``min_answered_weight`` (see the module docstring).
    """
    p = load_css_params(params)
    ratings = _ratings(responses, p)
    lo, hi = p["scale"]["min"], p["scale"]["max"]
    w = np.array([float(v["weight"]) for v in p["attributes"].values()])
    values = ratings.to_numpy()
    answered = ~np.isnan(values)
    scores = np.where(answered, 100.0 * (values - lo) / (hi - lo), 0.0)
    weight_answered = answered @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        index = (scores @ w) / weight_answered
    keep = weight_answered >= p["min_answered_weight"]
    if "touchpoint" in responses:
        keep &= responses["touchpoint"].isin(p["touchpoints"]).to_numpy()
    return pd.Series(np.where(keep, index, np.nan), index=responses.index, name="css")


def _period_of(responses: pd.DataFrame, period: str | None, time_col: str):
    if not period:
        return None
    require_columns(responses, [time_col], table="responses",
                    fix=f"splitting by period {period!r} needs it")
    return responses[time_col].dt.to_period(period)


def _mean_table(values: pd.Series, keys: list[pd.Series]) -> pd.DataFrame:
    frame = pd.DataFrame({**{k.name: k for k in keys}, "_v": values}).dropna(subset=["_v"])
    if not keys:
        v = frame["_v"]
        return pd.DataFrame({"n": [len(v)], "css": [v.mean()], "_sd": [v.std(ddof=1)]})
    grouped = frame.groupby([k.name for k in keys], observed=True, sort=True)["_v"]
    return grouped.agg(n="count", css="mean", _sd="std").reset_index()


def welch_test(m1, s1, n1, m2, s2, n2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Welch's t test of two means from their SDs and counts: t, df and two-sided p.

    t and p are scipy's (``ttest_ind_from_stats(equal_var=False)``); df is Satterthwaite's
    ``(v1 + v2)^2 / (v1^2 / (n1 - 1) + v2^2 / (n2 - 1))`` with ``v = s^2 / n``, the df scipy
    tests with. NaN where either group has fewer than 2 answers or both have no spread.
    """
    from scipy import stats

    m1, s1, n1, m2, s2, n2 = (np.asarray(x, dtype=float) for x in (m1, s1, n1, m2, s2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        v1, v2 = s1**2 / n1, s2**2 / n2
        df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
        ok = np.isfinite(df) & (v1 + v2 > 0) & (n1 > 1) & (n2 > 1)
        # groups that cannot be tested go to scipy as harmless stand-ins, then become NaN
        t, p = stats.ttest_ind_from_stats(
            np.where(ok, m1, 0.0), np.where(ok, s1, 1.0), np.where(ok, n1, 2.0),
            np.where(ok, m2, 0.0), np.where(ok, s2, 1.0), np.where(ok, n2, 2.0),
            equal_var=False)
    return (np.where(ok, t, np.nan), np.where(ok, df, np.nan),
            np.where(ok, p, np.nan))


def _averages(base: pd.DataFrame, values: pd.Series, time_keys: list[pd.Series]):
    """The regional and national CSS of ``base`` (per period when ``time_keys``)."""
    region = _mean_table(values, [base["region"], *time_keys]).rename(
        columns={"css": "region_css"})
    nation = _mean_table(values, time_keys).rename(columns={"css": "national_css"})
    return region, nation


_REFERENCES: dict[int, tuple] = {}


def _reference_averages(reference: pd.DataFrame, *, period, time_col: str, params: dict):
    """:func:`_averages` of the reference answers (a regional report's whole network), once
    per reference frame and settings: a report compares several tables with the same
    network, whose CSS index is the costly part. The frame is kept with its averages, so its
    id cannot be reused by another frame while remembered."""
    key = (reference.shape, period, time_col, repr(params))
    known = _REFERENCES.get(id(reference))
    if known is not None and known[0] is reference and known[1] == key:
        return known[2]
    per = _period_of(reference, period, time_col)
    result = _averages(reference, css_index(reference, params=params),
                       [per.rename("period")] if per is not None else [])
    _REFERENCES.clear()  # one network at a time: a report's, not a session's
    _REFERENCES[id(reference)] = (reference, key, result)
    return result


def summarize_css(
    responses: pd.DataFrame,
    *,
    by: Sequence[str] = ("region", "dealer_id"),
    period: str | None = "M",
    time_col: str = "responded_at",
    level: float | None = None,
    min_n: int | None = None,
    reference: pd.DataFrame | None = None,
    params: dict | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The CSS index per group and period vs previous period, region and nation.

    Parameters
    ----------
    responses
        Answers with the CSS columns, the ``by`` keys, ``region`` (attach it with
        :func:`analysis.store.with_region`) and ``time_col``.
    by
        Grouping keys, e.g. ``("region", "dealer_id")``.
    period
        Pandas period alias or None.
    level, min_n
        Interval level (None: ``settings.level``, the report's one level) and small-sample
        threshold (None: params/css.yaml).
    reference
        The answers the regional and national averages come from, with ``region``: the
        whole network's when ``responses`` hold one region only (a regional report).
        None takes ``responses`` themselves.
    settings
        The run's :class:`analysis.settings.Settings` (None: params/*.yaml): the level and
        the false discovery rate ``q`` of the change flags.

    Returns
    -------
    DataFrame
        keys, period, n (answers in the index), css (0-100), css_low, css_high,
        css_previous, change_vs_previous, change_df, change_p_value (Welch t),
        change_p_adj, change_flag (both periods with at least ``min_n`` answers and
        Benjamini-Hochberg within the period at ``settings.q``), region_css,
        vs_region, national_css, vs_national, small_sample.
    """
    p = load_css_params(params)
    s = settings_or(settings)
    level = s.level if level is None else level
    min_n = p["min_n"] if min_n is None else min_n
    keys = list(by)
    require_columns(responses, [*keys, "region"], table="responses", fix="attach region with "
                    "analysis.store.with_region(responses, dealers)")
    values = css_index(responses, params=p)
    per = _period_of(responses, period, time_col)
    time_keys = [per.rename("period")] if per is not None else []
    key_series = [responses[k] for k in keys] + time_keys
    out = _mean_table(values, key_series)
    z = z_value(level)
    half = z * out["_sd"] / np.sqrt(out["n"])
    out = out.assign(css_low=(out["css"] - half).clip(0, 100),
                     css_high=(out["css"] + half).clip(0, 100))
    group_keys = [*keys, "period"] if per is not None else keys
    if per is not None:
        prev = out[[*group_keys, "n", "css", "_sd"]].assign(period=lambda d: d["period"] + 1)
        merged = out[group_keys].merge(prev, on=group_keys, how="left", validate="one_to_one")
        out["css_previous"] = merged["css"].to_numpy()
        out["change_vs_previous"] = out["css"] - out["css_previous"]
        _, df, p_value = welch_test(out["css"].to_numpy(), out["_sd"].to_numpy(),
                                    out["n"].to_numpy(), merged["css"].to_numpy(),
                                    merged["_sd"].to_numpy(), merged["n"].to_numpy())
        # no star below the small-sample threshold: those tests leave the family
        eligible = (out["n"].to_numpy() >= min_n) & (merged["n"].to_numpy() >= min_n)
        p_adj, flag = bh_flags(np.where(eligible, p_value, np.nan), q=s.q,
                               groups=out["period"].astype(str).to_numpy())
        out["change_df"] = df
        out["change_p_value"] = p_value
        out["change_p_adj"] = p_adj
        out["change_flag"] = flag
    if reference is None:
        region, nation = _averages(responses, values, time_keys)
    else:
        require_columns(reference, ["region"], table="reference answers",
                        fix="attach it with analysis.store.with_region(reference, dealers)")
        region, nation = _reference_averages(reference, period=period, time_col=time_col,
                                             params=p)
    region = region[["region", *[s.name for s in time_keys], "region_css"]]
    nation = nation[[*[s.name for s in time_keys], "national_css"]]
    if "region" not in keys:
        # a group spanning regions has no single region; the region mapping must be unique
        region_of = (pd.DataFrame({**{k: responses[k] for k in keys},
                                   "region": responses["region"]})
                     .drop_duplicates(keys))
        out = out.merge(region_of, on=keys, how="left", validate="many_to_one")
    out = out.merge(region, on=["region", *[s.name for s in time_keys]], how="left")
    out = (out.merge(nation, on=[s.name for s in time_keys], how="left") if time_keys
           else out.assign(national_css=nation["national_css"].iloc[0]))
    out = out.assign(vs_region=out["css"] - out["region_css"],
                     vs_national=out["css"] - out["national_css"],
                     small_sample=out["n"] < min_n)
    if "region" not in keys:
        out = out.drop(columns="region")
    return out.drop(columns="_sd").reset_index(drop=True)


def attribute_scores(
    responses: pd.DataFrame,
    *,
    by: Sequence[str] = ("dealer_id",),
    period: str | None = "M",
    time_col: str = "responded_at",
    params: dict | None = None,
) -> pd.DataFrame:
    """Tidy attribute scores per group: keys, period, attribute, label, weight, n, rating,
    score (0-100). Shows which attribute pulls a dealer's index down."""
    p = load_css_params(params)
    ratings = _ratings(responses, p)
    if "touchpoint" in responses:
        ratings = ratings.where(responses["touchpoint"].isin(p["touchpoints"]), axis=0)
    per = _period_of(responses, period, time_col)
    ids = {k: responses[k] for k in by} | ({"period": per} if per is not None else {})
    long = (pd.DataFrame(ids).join(ratings)
            .melt(id_vars=list(ids), var_name="attribute", value_name="rating")
            .dropna(subset=["rating"]))
    lo, hi = p["scale"]["min"], p["scale"]["max"]
    grouped = (long.groupby([*ids, "attribute"], observed=True, sort=True)["rating"]
               .agg(n="count", rating="mean").reset_index())
    return (grouped.merge(weights(params=p), on="attribute", how="left")
            .assign(score=lambda d: 100.0 * (d["rating"] - lo) / (hi - lo))
            [[*ids, "attribute", "label", "weight", "n", "rating", "score"]])
