"""Net Promoter Score: classification, the score of a set of answers, summaries by group.

NPS = % promoters (9-10) - % detractors (0-6), in points from -100 to +100. The cut-offs come
from params/nps.yaml.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.config import load_params

CATEGORIES = ("detractor", "passive", "promoter")


def _cutoffs(params: dict | None) -> tuple[int, int, int, int]:
    p = params if params is not None else load_params("nps")
    return p["scale"]["min"], p["scale"]["max"], p["detractor_max"], p["promoter_min"]


def validate_scores(scores, *, params: dict | None = None) -> np.ndarray:
    """Return the scores as an int array, or raise ValueError naming every bad value.

    Scores must be whole numbers on the scale in params/nps.yaml (0-10). Missing values are
    bad values too: a response without a score has no place in an NPS.
    """
    lo, hi, _, _ = _cutoffs(params)
    values = pd.to_numeric(pd.Series(scores, dtype="object"), errors="coerce")
    raw = pd.Series(scores, dtype="object").reset_index(drop=True)
    arr = values.to_numpy(dtype=float)
    bad = np.isnan(arr) | (arr < lo) | (arr > hi) | (arr != np.round(arr))
    if bad.any():
        positions = np.flatnonzero(bad)
        shown = ", ".join(f"{raw.iloc[i]!r} at position {i}" for i in positions[:10])
        more = f" and {len(positions) - 10} more" if len(positions) > 10 else ""
        raise ValueError(
            f"NPS scores must be whole numbers from {lo} to {hi}; got {shown}{more}"
        )
    return arr.astype(np.int64)


def classify(scores, *, params: dict | None = None) -> pd.Categorical:
    """Classify 0-10 scores into detractor (0-6), passive (7-8) and promoter (9-10)."""
    arr = validate_scores(scores, params=params)
    _, _, det_max, pro_min = _cutoffs(params)
    codes = np.where(arr <= det_max, 0, np.where(arr >= pro_min, 2, 1))
    return pd.Categorical.from_codes(codes, categories=list(CATEGORIES))


def nps_from_counts(promoters, passives, detractors) -> np.ndarray | float:
    """NPS in points from counts; NaN where there are no answers. Vectorised."""
    pro = np.asarray(promoters, dtype=float)
    det = np.asarray(detractors, dtype=float)
    n = pro + np.asarray(passives, dtype=float) + det
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n > 0, 100.0 * (pro - det) / np.where(n > 0, n, 1), np.nan)
    return float(out) if out.ndim == 0 else out


def nps(scores, *, params: dict | None = None) -> float:
    """NPS of a set of 0-10 scores, in points (-100..100); NaN for an empty set."""
    arr = validate_scores(scores, params=params)
    _, _, det_max, pro_min = _cutoffs(params)
    return nps_from_counts((arr >= pro_min).sum(), ((arr > det_max) & (arr < pro_min)).sum(),
                           (arr <= det_max).sum())


def count_categories(
    responses: pd.DataFrame,
    *,
    by: Sequence[str] = (),
    period: str | None = "M",
    score: str = "nps",
    time_col: str = "responded_at",
    params: dict | None = None,
) -> pd.DataFrame:
    """Counts of promoters, passives and detractors per group and period (no statistics)."""
    keys = list(by)
    missing = [c for c in [*keys, score] + ([time_col] if period else []) if c not in responses]
    if missing:
        raise KeyError(f"responses lack column(s) {missing}; available: {list(responses)}")
    arr = validate_scores(responses[score], params=params)
    _, _, det_max, pro_min = _cutoffs(params)
    frame = responses[keys].copy()
    if period:
        frame["period"] = responses[time_col].dt.to_period(period)
        keys = [*keys, "period"]
    frame["promoters"] = (arr >= pro_min).astype(np.int64)
    frame["detractors"] = (arr <= det_max).astype(np.int64)
    frame["n"] = 1
    if keys:
        counts = frame.groupby(keys, observed=True, sort=True)[["n", "promoters",
                                                                "detractors"]].sum()
        counts = counts.reset_index()
    else:
        counts = frame[["n", "promoters", "detractors"]].sum().to_frame().T
    counts["passives"] = counts["n"] - counts["promoters"] - counts["detractors"]
    return counts[[*keys, "n", "promoters", "passives", "detractors"]]


def summarize(
    responses: pd.DataFrame,
    *,
    by: Sequence[str] = ("region",),
    period: str | None = "M",
    score: str = "nps",
    time_col: str = "responded_at",
    params: dict | None = None,
) -> pd.DataFrame:
    """NPS by group and period: n, promoters, passives, detractors, nps.

    Parameters
    ----------
    responses
        One row per answer with the ``by`` columns, ``score`` (0-10) and ``time_col``.
    by
        Grouping columns, e.g. ``("region",)``, ``("dealer_id", "touchpoint")`` or ``()`` for
        the whole network.
    period
        A pandas period alias ("M", "Q", "W") or None for no time split.
    """
    counts = count_categories(responses, by=by, period=period, score=score,
                              time_col=time_col, params=params)
    return counts.assign(nps=nps_from_counts(counts["promoters"], counts["passives"],
                                             counts["detractors"]))
