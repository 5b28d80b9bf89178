"""Relative importance of drivers: exact LMG and its bootstrap against statsmodels baselines.

Targets (issue 6):

- exact LMG with 15 drivers (32,768 subsets) on 1 M rows, correlation matrix included, within
  0.25x the time of one statsmodels OLS fit of the full model on the same frame;
- 200 bootstrap draws for 10 drivers on 100 k rows within 40x one point estimate.

A third row, without target, compares LMG with refitting OLS on every subset (the textbook
way) on a smaller problem. ``quick=True`` shrinks every size so the module runs in seconds;
the targets apply to the full sizes only.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import statsmodels.api as sm

from analysis.drivers import relative_importance
from benchmarks._common import best_time, ratio_row


def _ratings(n: int, p: int, *, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """Survey-like data: 1-10 ratings sharing a customer mood, a 0-10 score driven by them."""
    rng = np.random.default_rng(seed)
    mood = rng.normal(size=(n, 1))
    ratings = np.clip(np.round(8 + 1.2 * mood + rng.normal(size=(n, p))), 1, 10)
    weights = rng.uniform(0.05, 0.4, p)
    score = np.clip(np.round(ratings @ weights - weights.sum() * 6 + 6 + rng.normal(size=n)),
                    0, 10)
    names = [f"driver_{i:02d}" for i in range(p)]
    return pd.DataFrame(ratings, columns=names).assign(nps=score), names


def _ols(frame: pd.DataFrame, drivers: list[str]):
    return sm.OLS(frame["nps"], sm.add_constant(frame[drivers])).fit()


def run(quick: bool = False) -> list[dict]:
    rows = []

    # (a) exact LMG, 15 drivers, vs one OLS fit of the full model
    n, p = (20_000, 15) if quick else (1_000_000, 15)
    frame, drivers = _ratings(n, p, seed=1)
    lmg = best_time(lambda: relative_importance(frame, target="nps", drivers=drivers))
    ols = best_time(lambda: _ols(frame, drivers))
    rows.append(ratio_row(
        f"lmg exact, {p} drivers, {n:,} rows", lmg, "statsmodels OLS fit, full model", ols,
        max_ratio=None if quick else 0.25,
        note=f"{2**p:,} subsets from the correlation matrix, computed from the frame"))
    del frame

    # (b) bootstrap of LMG, 10 drivers: 200 draws vs one point estimate
    n, p, n_boot = (10_000, 10, 200) if quick else (100_000, 10, 200)
    frame, drivers = _ratings(n, p, seed=2)
    point = best_time(lambda: relative_importance(frame, target="nps", drivers=drivers),
                      repeat=5)
    boot = best_time(lambda: relative_importance(frame, target="nps", drivers=drivers,
                                                 n_boot=n_boot, random_state=0))
    rows.append(ratio_row(
        f"lmg + {n_boot} bootstrap draws, {p} drivers, {n:,} rows", boot,
        "one LMG point estimate", point, max_ratio=None if quick else 40.0,
        note="Poisson bootstrap of the cross-product matrix, subsets batched over draws"))

    # (c) no target: LMG vs the textbook refit of OLS on every subset
    n, p = (2_000, 6) if quick else (10_000, 8)
    frame, drivers = _ratings(n, p, seed=3)

    def refits() -> None:
        for k in range(1, p + 1):
            for subset in itertools.combinations(drivers, k):
                _ols(frame, list(subset))

    lmg = best_time(lambda: relative_importance(frame, target="nps", drivers=drivers))
    brute = best_time(refits, repeat=1)
    rows.append(ratio_row(
        f"lmg exact, {p} drivers, {n:,} rows", lmg,
        f"{2**p - 1} statsmodels OLS refits", brute,
        note="information only: the per-subset refit that the correlation walk replaces"))
    return rows
