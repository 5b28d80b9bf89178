"""Dealer ranks (issue 25, item 7): the nested shrinkage behind them, the median rank inside
its interval, and the quarter chances against a planted truth (benchmarks/bench_ranks.py
measures the same at the demo's size)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from analysis import counting, nps


def _counts(rows) -> pd.DataFrame:
    """A count table from (region, dealer_id, month, promoters, passives, detractors)."""
    frame = pd.DataFrame(rows, columns=["region", "dealer_id", "period", "promoters",
                                        "passives", "detractors"])
    return frame.assign(period=pd.PeriodIndex(frame["period"], freq="M"))


# --- the nested shrinkage -------------------------------------------------------------------


def test_nested_shrinkage_matches_the_textbook_balanced_nested_anova():
    # 3 regions x 3 dealers x 60 answers, one month. Balanced nested ANOVA (Searle, Casella &
    # McCulloch 1992, 3.6): E[MS dealers] = s^2 + n tau_d^2, E[MS regions] = s^2 + n tau_d^2
    # + b n tau_r^2. A region's own estimate is its dealers' mean with variance
    # (tau_d^2 + s^2 / n) / b; it shrinks toward the network, each dealer toward its region.
    counts = {"R1": [(40, 10, 10), (30, 15, 15), (36, 12, 12)],
              "R2": [(20, 20, 20), (12, 24, 24), (25, 15, 20)],
              "R3": [(30, 20, 10), (18, 30, 12), (25, 20, 15)]}
    rows = [(r, f"{r}D{j}", "2026-01", *c) for r, cs in counts.items() for j, c in enumerate(cs)]
    out = (nps.summarize_counts(_counts(rows), by=("region", "dealer_id"), period=None)
           .set_index("dealer_id"))
    a, b, n = 3, 3, 60
    table = np.array([c for cs in counts.values() for c in cs], dtype=float)
    y = 100 * (table[:, 0] - table[:, 2]) / n
    ss_answers = n * 100**2 * ((table[:, 0] + table[:, 2]) / n - (y / 100) ** 2)
    s2 = ss_answers.sum() / (a * b * (n - 1))
    region_y = y.reshape(a, b).mean(axis=1)
    ms_dealers = n * ((y.reshape(a, b) - region_y[:, None]) ** 2).sum() / (a * (b - 1))
    ms_regions = b * n * ((region_y - y.mean()) ** 2).sum() / (a - 1)
    tau_d = (ms_dealers - s2) / n
    tau_r = (ms_regions - ms_dealers) / (b * n)
    assert tau_d > 0 and tau_r > 0
    v_region = (tau_d + s2 / n) / b
    w_region = tau_r / (tau_r + v_region)
    region_shrunk = w_region * region_y + (1 - w_region) * y.mean()
    w_dealer = tau_d / (tau_d + s2 / n)
    expected = w_dealer * y + (1 - w_dealer) * np.repeat(region_shrunk, b)
    ids = [f"{r}D{j}" for r in counts for j in range(b)]
    assert out.loc[ids, "nps_shrunk"].to_numpy() == pytest.approx(expected, rel=1e-12)
    # the posterior variance holds w s^2 / n and (1 - w)^2 times the region's, w_r v_r at
    # least (plus the network's noise and the doubt about w)
    floor = w_dealer * s2 / n + (1 - w_dealer) ** 2 * w_region * v_region
    assert (out["nps_shrunk_sd"] ** 2 > floor).all()


def test_a_region_of_alike_dealers_does_not_hold_its_dealers_spread():
    # regions that differ only by which dealers they hold: the old walk gave the regions a
    # spread of their own (about the dealers' over the dealers in a region) and so pulled
    # each dealer toward a region value made of itself; the nested estimate finds none
    rng = np.random.default_rng(3)
    rows = []
    for month in ("2026-01", "2026-02", "2026-03"):
        for d in range(24):
            p_pro = 0.45 + 0.12 * (d % 5 - 2) / 2
            c = rng.multinomial(400, [p_pro, 0.3, 0.7 - p_pro])
            rows.append((f"R{d % 6}", f"D{d}", month, *c))
    levels = nps._levels(*_walk(_counts(rows)))
    _, tau2, _ = nps._variance_components(levels)
    assert tau2[0][0] > 50  # the dealers differ by some 12 NPS points (SD)
    assert tau2[1][0] < 0.1 * tau2[0][0]


def _walk(counts: pd.DataFrame):
    """The table, codes and chain :func:`analysis.nps._shrink` gets for dealers by month."""
    keys = ["region", "dealer_id", "period"]
    _, chain = nps._hierarchy_chain(keys, counts.columns, nps.load_params("nps"))
    groups = counting.groups_from_counts(counts, ["region", "dealer_id"], period="M")
    table = groups.counts[["promoters", "passives", "detractors"]].to_numpy(dtype=float)
    return table, groups.codes, chain


# --- the median rank inside its interval ------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-100, 100), st.sampled_from([0.0, 0.5, 5.0, 40.0])),
                min_size=1, max_size=30))
def test_median_rank_lies_inside_the_rank_interval(units):
    est, sd = (np.array(v) for v in zip(*units, strict=True))
    out = nps.rank_uncertainty(est, sd)
    assert (out["rank_low"] <= out["rank_median"]).all()
    assert (out["rank_median"] <= out["rank_high"]).all()
    assert out["rank_median"].between(1, len(est)).all()


dealer_rows = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 1), st.integers(0, 30), st.integers(0, 30),
              st.integers(0, 30)),
    min_size=2, max_size=40)


@settings(max_examples=60, deadline=None)
@given(dealer_rows)
def test_shown_ranks_lie_inside_their_intervals(rows):
    # dealers in up to 3 regions over two months, any counts (ties, empty dealers, a dealer
    # alone in its region): the shown rank is inside its interval and the ranks in a region
    # are 1..k in the network ranking's order
    table = _counts([(f"R{i % 3}", f"D{i:02d}", f"2026-0{m + 1}", pro, pas, det)
                     for i, (_, m, pro, pas, det) in enumerate(rows) if pro + pas + det > 0])
    if table.empty or "2026-02" not in set(table["period"].astype(str)):
        return
    ranked = nps.rank_dealers_from_counts(table, period="2026-02")
    assert ranked["rank_network"].between(ranked["rank_low"], ranked["rank_high"]).all()
    assert ranked["rank_network"].is_monotonic_increasing
    for _, part in ranked.groupby("region"):
        assert part["rank_region"].tolist() == list(range(1, len(part) + 1))


# --- calibration against a planted truth ---------------------------------------------------


def _network(rng, *, dealers: int = 40, regions: int = 6, months: int = 6):
    """Monthly counts of a network whose dealers sit around a common level (SD about 6 NPS
    points on an ordered-logit answer model), answers per dealer-month lognormal around
    100, regions unevenly filled; and each dealer's true NPS."""
    level = rng.normal(0.0, 0.15, dealers)
    cut_det, cut_pas = -1.0, 0.3
    p_det = expit(cut_det - level)
    p_pro = 1 - expit(cut_pas - level)
    truth = 100 * (p_pro - p_det)
    size = rng.lognormal(0.0, 0.6, dealers)
    size /= size.mean()
    share = np.linspace(1.6, 0.6, regions)
    region = np.concatenate([np.arange(regions),
                             rng.choice(regions, dealers - regions, p=share / share.sum())])
    rows = []
    for m in range(months):
        n = rng.poisson(100 * size)
        c = rng.multinomial(n, np.stack([p_pro, 1 - p_pro - p_det, p_det], axis=1))
        rows += [(f"R{region[d]}", f"D{d:02d}", f"2026-{m + 1:02d}", *c[d])
                 for d in range(dealers) if n[d] > 0]
    return _counts(rows), truth


def test_quarter_chances_and_rank_intervals_come_true():
    # 60 networks of 40 dealers in 10 regions (4 a region on average). Before the nested
    # shrinkage the regions took in their dealers' spread: the dealers in the shrunk top
    # quarter were 0.17 posterior SDs worse than their shrunk NPS on average, the bottom
    # quarter 0.25 SDs better, and "top quarter with 50 % or more" came true 0.05 less often
    # than stated
    rng = np.random.default_rng(25)
    stated, truly, covered, z, top, bottom = ([] for _ in range(6))
    for _ in range(60):
        counts, truth = _network(rng, regions=10)
        ranked = nps.rank_dealers_from_counts(counts, period="2026-06")
        true_rank = pd.Series(truth).rank(ascending=False, method="first").to_numpy()
        rank = true_rank[ranked["dealer_id"].str[1:].astype(int)]
        cut = round(0.25 * len(ranked))
        stated.append(ranked["p_top_quarter"].to_numpy())
        truly.append(rank <= cut)
        covered.append((ranked["rank_low"] <= rank) & (rank <= ranked["rank_high"]))
        month = (nps.summarize_counts(counts, by=("region", "dealer_id"), period="M")
                 .loc[lambda d: d["period"] == d["period"].max()])
        z.append((truth[month["dealer_id"].str[1:].astype(int)] - month["nps_shrunk"])
                 / month["nps_shrunk_sd"])
        place = month["nps_shrunk"].rank(pct=True)
        top.append(place > 0.75)
        bottom.append(place <= 0.25)
    stated, truly, covered, z, top, bottom = (np.concatenate(v) for v in (
        stated, truly, covered, z, top, bottom))
    assert abs(z[top].mean()) < 0.1 and abs(z[bottom].mean()) < 0.1
    likely = stated >= 0.5
    assert likely.sum() > 200
    assert truly[likely].mean() == pytest.approx(stated[likely].mean(), abs=0.04)
    unlikely = (stated > 0.05) & (stated < 0.5)
    assert truly[unlikely].mean() == pytest.approx(stated[unlikely].mean(), abs=0.04)
    assert covered.mean() >= 0.87


# --- a dealer's own history -------------------------------------------------------------------


def _history_params(on: bool) -> dict:
    from analysis.config import load_params

    flags = load_params("flags")
    return dict(load_params("nps"), flags=dict(flags, ranks=dict(flags["ranks"], history=on)))


def test_with_one_month_the_history_changes_nothing():
    rng = np.random.default_rng(3)
    counts, _ = _network(rng, months=1)
    on = nps.rank_dealers_from_counts(counts, period="2026-01", params=_history_params(True))
    off = nps.rank_dealers_from_counts(counts, period="2026-01", params=_history_params(False))
    pd.testing.assert_frame_equal(on, off)


def test_a_stable_long_history_narrows_the_rank_interval():
    # Steady and New answer alike this month; Steady did so for 11 months before
    rng = np.random.default_rng(5)
    rows = []
    for m in range(1, 13):
        for d in range(12):
            c = rng.multinomial(100, [0.45 + 0.02 * d, 0.3, 0.25 - 0.02 * d])
            rows.append((f"R{d % 3}", f"D{d:02d}", f"2026-{m:02d}", *c))
        rows.append(("R0", "Steady", f"2026-{m:02d}", 55, 30, 15))
    rows.append(("R0", "New", "2026-12", 55, 30, 15))
    ranked = nps.rank_dealers_from_counts(_counts(rows), period="2026-12",
                                          params=_history_params(True)).set_index("dealer_id")
    width = ranked["rank_high"] - ranked["rank_low"]
    assert width["Steady"] < width["New"]
    month = nps.summarize_counts(_counts(rows), by=("region", "dealer_id"), period="M",
                                 history=12).loc[lambda d: d["period"] == d["period"].max()]
    sd = month.set_index("dealer_id")["nps_shrunk_sd"]
    assert sd["Steady"] < 0.8 * sd["New"]


def test_history_prior_by_hand():
    # two dealers, three months; gaps to the network A: 0, 10, 20 (v 10), B: -10, 0, 10
    # (v 20), tau^2 = 100. W = (200 + 200 - (30 + 60) * 2/3) / (2 + 2) = 85, T = 15
    gap = np.array([0.0, 10.0, 20.0, -10.0, 0.0, 10.0])
    v = np.array([10.0, 10.0, 10.0, 20.0, 20.0, 20.0])
    codes = {"dealer_id": np.array([0, 0, 0, 1, 1, 1]), "period": np.array([0, 1, 2] * 2)}
    offset, prior_var, keep = nps._history_prior(gap, np.zeros(6), v, codes,
                                                 np.zeros(6, dtype=np.int64),
                                                 np.array([100.0]), months=12)
    # A's third month: H = 2 / 95, sum u gap = 10 / 95; 1 + T H = 125 / 95
    assert offset[2] == pytest.approx(15 * 10 / 95 / (125 / 95))
    assert prior_var[2] == pytest.approx(15 / (125 / 95) + 85)
    assert keep[2] == pytest.approx(95 / 125)
    # a first month has no history: the prior of a month alone, N(parent, tau^2)
    assert offset[[0, 3]] == pytest.approx([0, 0]) and prior_var[0] == pytest.approx(100)
    # the same from the joint normal: mu ~ N(0, T), theta_m = mu + eta_m (W), y_m = theta_m
    # + e_m (v); theta_3 given y_1, y_2
    t, w = 15.0, 85.0
    cov_y = t + np.diag([w + 10, w + 10])
    cov_theta_y = np.array([t, t])
    mean = cov_theta_y @ np.linalg.solve(cov_y, gap[:2])
    var = t + w - cov_theta_y @ np.linalg.solve(cov_y, cov_theta_y)
    assert offset[2] == pytest.approx(mean) and prior_var[2] == pytest.approx(var)
    # months=2: only the month before
    offset2, _, _ = nps._history_prior(gap, np.zeros(6), v, codes, np.zeros(6, dtype=np.int64),
                                       np.array([100.0]), months=2)
    assert offset2[2] == pytest.approx(15 * 10 / 95 / (1 + 15 / 95))
