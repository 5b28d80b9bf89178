"""Dealer ranks (issue 25, item 7): are the rank intervals and quarter chances honest?

Not a timing benchmark: each row is a rate with its Monte-Carlo interval (Wilson; dealers of
one network are not independent, so read it as a lower bound on the noise) against its target
as the "baseline": ``ratio`` = measured / target, ok when >= 1; for a bin of
``p_top_quarter`` or ``p_bottom_quarter`` the rate is the share of its dealers truly in that
quarter, ok when within ``TOLERANCE`` of the bin's mean stated chance (bins of fewer than
``MIN_BIN_DEALERS`` dealers are shown, not judged).

The simulated world is the demo's answer model (:class:`benchmarks.bench_alarms.World`, built
on :func:`analysis.synthetic.score_categories`) on networks of the demo's size: 40 dealers in
6 regions (spread unevenly), 100 answers a dealer-month on average (sizes lognormal as the
demo's), 12 months of history as the monthly report reads. Each dealer's level is drawn as
:func:`analysis.synthetic.make_network` draws it: an offset per driver of SD
``dealer_offset_sd``, and a fifth of the dealers (among the larger half) with one planted weak
driver that costs them about ``weak_drop_latent`` score points (some 15 NPS points). The demo's
winter dip and slow regional drift move every month. Counts are drawn from multinomials
directly (the full synthetic network would cost minutes a network and does not give each
dealer's true NPS), and the report's own ranking,
:func:`analysis.nps.rank_dealers_from_counts` of the last month, runs on each network. The
truth is each dealer's expected NPS in that month and its rank among the network's dealers.

- **calibration of p_top_quarter** (target of issue 25) and of p_bottom_quarter: dealers
  binned by their stated chance; in each bin the share truly in the top (bottom) quarter,
  against the bin's mean chance;
- **rank interval coverage**: the share of dealers whose true rank lies in their rank
  interval (nominal ``ranks.level``, 90 %), for the planted weak dealers (target 0.88) and
  for all dealers;
- **the shown rank inside its interval**, on these networks and on null networks (every
  dealer the same: what a shuffle of the answers gives), at dealer and dealer x touchpoint
  level (one touchpoint's share of the answers);
- for scale, two oracles on the same networks, not the report's method: each dealer's
  posterior with the true distribution of dealers as its prior (a grid), from the month's
  answers (the best any ranking of one month can do) and from the dealer's 12 months (what a
  model of dealers' lasting levels could reach); and the ranking with dealer-month shocks
  (SD 0.2 rating points per driver, as issue 25's alarms use).

``python -m benchmarks.bench_ranks [--quick]`` prints the rows; ``--quick`` (150 networks, a
fifth of the full run) is a smoke run whose smaller bins are noisy.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from analysis import nps
from analysis.config import load_params
from analysis.estimators import wilson_interval
from benchmarks._common import rate_main, share_row
from benchmarks.bench_alarms import World

DEALERS = 40
REGIONS = 6
ANSWERS = 100           # answers a dealer-month, on average
MONTHS = 12             # the months a monthly report reads (its trend_months)
DRIFT_SD = 0.008        # rating points a month: the demo's slow regional drift (0.1 * 0.08)
SHOCK_SD = 0.2          # rating points per driver, the dealer-month shocks of issue 25
BINS = (0.0, 0.05, 0.2, 0.5, 0.8, 0.95, 1.0)
TOLERANCE = 0.05        # a bin's observed share within this of its stated chance
COVERAGE_TARGET = 0.88  # weak dealers' rank interval coverage (nominal 0.90)
MIN_BIN_DEALERS = 50    # a bin with fewer dealers is shown, not judged (too noisy)


def dealer_levels(rng, *, runs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each dealer's latent level ``(runs, DEALERS)`` (rating points every driver would move
    by to shift its score as much), which dealers are planted weak, and their sizes (mean
    1), drawn as :func:`analysis.synthetic.make_network` draws them."""
    demo = load_params("network")["demo"]
    drivers = list(load_params("drivers")["drivers"])
    w = np.array([demo["driver_weights"][d] for d in drivers])
    offsets = rng.normal(0.0, float(demo["dealer_offset_sd"]), (runs, DEALERS, len(drivers)))
    size = rng.lognormal(0.0, 0.6, (runs, DEALERS))
    size /= size.mean(axis=1, keepdims=True)
    n_weak = max(1, round(float(demo["weak_dealer_share"]) * DEALERS))
    weak = np.zeros((runs, DEALERS), dtype=bool)
    candidates = [drivers.index(d) for d in demo["weak_driver_candidates"]]
    for r in range(runs):  # as synthetic._dealers: among the larger half, one driver each
        big = np.argsort(-size[r])[: max(n_weak, DEALERS // 2)]
        for i in rng.choice(big, n_weak, replace=False):
            j = candidates[rng.integers(len(candidates))]
            others = np.arange(len(drivers)) != j
            offsets[r, i, others] = np.abs(offsets[r, i, others])
            offsets[r, i, j] -= min(float(demo["weak_drop_max"]),
                                    float(demo["weak_drop_latent"]) / w[j])
            weak[r, i] = True
    return offsets @ w / w.sum(), weak, size


def simulate(world: World, rng, *, runs: int, shock_sd: float = 0.0, null: bool = False
             ) -> dict:
    """``runs`` networks: monthly counts ``(runs, DEALERS, MONTHS, 3)``, regions, each
    dealer's true NPS in the last month, and which dealers are planted weak.

    ``null``: every dealer at the same level (no weak dealers, no drift, no shocks), as a
    shuffle of the answers across dealers makes them."""
    level, weak, size = dealer_levels(rng, runs=runs)
    share = np.linspace(1.6, 0.6, REGIONS)
    region = rng.permuted(np.concatenate(
        [np.broadcast_to(np.arange(REGIONS), (runs, REGIONS)),
         rng.choice(REGIONS, (runs, DEALERS - REGIONS), p=share / share.sum())], axis=1),
        axis=1)
    first = rng.integers(0, 12, runs)
    month_no = (first[:, None] + np.arange(MONTHS)) % 12 + 1
    winter = -0.15 * np.cos((month_no - 1) / 12 * 2 * np.pi)
    slope = rng.normal(0.0, DRIFT_SD, (runs, REGIONS))
    drift = np.take_along_axis(slope, region, axis=1)[:, :, None] * (
        np.arange(MONTHS) - MONTHS / 2)
    x = (level[:, :, None] + winter[:, None, :] + drift
         + rng.normal(0.0, shock_sd * world.per_driver, (runs, DEALERS, MONTHS)))
    if null:
        x = np.broadcast_to(winter[:, None, :], x.shape).copy()
        weak[:] = False
    n = rng.poisson(ANSWERS * size[:, :, None] * np.ones(MONTHS))
    counts = rng.multinomial(n, world.shares(x))
    truth = np.interp(x[:, :, -1], world.grid, world.nps)
    return {"counts": counts, "region": region, "truth": truth, "weak": weak}


def oracle_ranks(world: World, sim: dict, rng, *, prior_runs: int, months: int = 1,
                 n_draws: int = 1000) -> pd.DataFrame:
    """The best any ranking of the last ``months`` months' answers could do: each dealer's
    posterior with the true distribution of dealers (weak ones included, from
    ``prior_runs`` simulated networks) as its prior, on a grid; the network NPS of those
    months taken as known. With more than one month the answers are pooled, as they may be
    where dealers keep their level (no shocks). Rows as :func:`rank_networks` gives them."""
    level, _, _ = dealer_levels(rng, runs=prior_runs)
    nps_of = np.interp(level, world.grid, world.nps)
    gaps = (nps_of - nps_of.mean(axis=1, keepdims=True)).ravel()
    edges = np.linspace(gaps.min() - 10, gaps.max() + 10, 401)
    grid = (edges[:-1] + edges[1:]) / 2
    prior = np.histogram(gaps, bins=edges)[0] / len(gaps)
    spec = nps.flag_params()["ranks"]
    tail = (1 - float(spec["level"])) / 2
    out = []
    for r in range(len(sim["counts"])):
        month = sim["counts"][r][:, -months:, :].sum(axis=1).astype(float)
        n = month.sum(axis=1)
        seen = n > 0
        month, n = month[seen], n[seen]
        y = 100 * (month[:, 0] - month[:, 2]) / n
        pooled = sim["counts"][r].reshape(-1, 3).astype(float)
        pooled = pooled[pooled.sum(axis=1) > 0]
        sigma2 = nps.within_sum_of_squares(pooled).sum() / (pooled.sum() - len(pooled))
        gap = y - (n * y).sum() / n.sum()
        like = np.exp(-0.5 * (gap[:, None] - grid[None, :]) ** 2 / (sigma2 / n)[:, None])
        post = like * prior
        post /= post.sum(axis=1, keepdims=True)
        pick = (rng.random((n_draws, len(y), 1)) > post.cumsum(axis=1)[None]).sum(axis=-1)
        draws = grid[np.minimum(pick, len(grid) - 1)]
        k = len(y)
        ranks = k - np.argsort(np.argsort(draws, axis=1, kind="stable"), axis=1)
        low, high = np.quantile(ranks, [tail, 1 - tail], axis=0, method="inverted_cdf")
        cut = max(1, round(float(spec["quarter"]) * k))
        truth = sim["truth"][r][seen]
        out.append(pd.DataFrame({
            "rank_network": np.median(ranks, axis=0), "rank_low": low, "rank_high": high,
            "p_top_quarter": (ranks <= cut).mean(axis=0),
            "p_bottom_quarter": (ranks > k - cut).mean(axis=0),
            "true_rank": pd.Series(truth).rank(ascending=False, method="first").to_numpy(),
            "weak": sim["weak"][r][seen], "run": r, "k": k}))
    return pd.concat(out, ignore_index=True)


def _frame(counts: np.ndarray, region: np.ndarray) -> pd.DataFrame:
    """One network's counts as :func:`analysis.nps.count_categories` by region, dealer_id and
    month gives them."""
    d, m, _ = counts.shape
    periods = pd.period_range(end="2026-10", periods=m, freq="M")
    flat = counts.reshape(d * m, 3)
    return pd.DataFrame({
        "region": np.repeat([f"R{r}" for r in region], m),
        "dealer_id": np.repeat([f"D{i:03d}" for i in range(d)], m),
        "period": np.tile(periods, d),
        "promoters": flat[:, 0], "passives": flat[:, 1], "detractors": flat[:, 2],
    }).loc[lambda f: f[["promoters", "passives", "detractors"]].sum(axis=1) > 0]


def rank_networks(sim: dict) -> pd.DataFrame:
    """The report's ranking of each network's last month beside the truth: one row per
    dealer and network with rank_network, rank_low, rank_high, p_top_quarter,
    p_bottom_quarter, true_rank, weak and run."""
    out = []
    month = str(pd.Period("2026-10", freq="M"))
    for r in range(len(sim["counts"])):
        ranked = nps.rank_dealers_from_counts(_frame(sim["counts"][r], sim["region"][r]),
                                              period=month)
        idx = ranked["dealer_id"].str[1:].astype(int).to_numpy()
        truth = sim["truth"][r]
        true_rank = pd.Series(truth).rank(ascending=False, method="first").to_numpy()
        out.append(ranked[["rank_network", "rank_low", "rank_high", "p_top_quarter",
                           "p_bottom_quarter"]].assign(
            true_rank=true_rank[idx], weak=sim["weak"][r][idx], run=r, k=len(ranked)))
    return pd.concat(out, ignore_index=True)


def calibration(ranked: pd.DataFrame, quarter: float) -> pd.DataFrame:
    """Per bin of p_top_quarter and of p_bottom_quarter: dealers, mean stated chance and the
    count truly in that quarter."""
    cut = np.maximum(1, np.round(quarter * ranked["k"])).astype(int)
    truly = {"p_top_quarter": ranked["true_rank"] <= cut,
             "p_bottom_quarter": ranked["true_rank"] > ranked["k"] - cut}
    rows = []
    for col, hit in truly.items():
        b = pd.cut(ranked[col], BINS, include_lowest=True)
        g = pd.DataFrame({"bin": b, "p": ranked[col], "hit": hit}).groupby(
            "bin", observed=False)
        rows.append(pd.DataFrame({"chance": col, "dealers": g.size(), "stated": g["p"].mean(),
                                  "truly": g["hit"].sum()}).reset_index())
    return pd.concat(rows, ignore_index=True)


def _rate_row(name: str, k: float, n: float, target: float, *, note: str = "") -> dict:
    """:func:`benchmarks._common.share_row` of a share that should reach ``target``."""
    return share_row(name, k, n, target, at_least=True, note=note)


def _bin_row(name: str, row) -> dict:
    value = row.truly / row.dealers if row.dealers else float("nan")
    low, high = (float(v) for v in wilson_interval(row.truly, row.dealers))
    gap = abs(value - row.stated)
    return {"name": name, "seconds": round(value, 4),
            "baseline": f"stated chance, within {TOLERANCE:g}",
            "baseline_seconds": round(float(row.stated), 4),
            "ratio": round(value / row.stated, 4) if row.stated else float("nan"),
            "target": f"|diff| <= {TOLERANCE:g}",
            "ok": bool(gap <= TOLERANCE) if row.dealers >= MIN_BIN_DEALERS else None,
            "note": (f"values are shares, not seconds; truly in the quarter {value:.3f} "
                     f"[{low:.3f}, {high:.3f}] (Wilson 95%, {int(row.truly)} of "
                     f"{int(row.dealers)} dealers) vs stated {row.stated:.3f}")}


def _inside(ranked: pd.DataFrame) -> tuple[int, int]:
    inside = ranked["rank_network"].between(ranked["rank_low"], ranked["rank_high"])
    return int(inside.sum()), len(ranked)


def touchpoint_null(world: World, rng, *, runs: int) -> tuple[int, int]:
    """Shown ranks inside their interval in rankings of one touchpoint's answers on null
    networks (every dealer the same; dealers of a touchpoint with few answers): the dealer x
    touchpoint rows of a shuffled network."""
    sim = simulate(world, rng, runs=runs, null=True)
    inside = total = 0
    shares = load_params("network")["demo"]["touchpoint_shares"]
    for share in shares.values():
        thin = dict(sim, counts=rng.binomial(sim["counts"], share))
        k, n = _inside(rank_networks(thin))
        inside, total = inside + k, total + n
    return inside, total


def _worst_bin(table: pd.DataFrame) -> str:
    """The bin (of ``MIN_BIN_DEALERS`` dealers or more) whose observed share lies furthest
    from its stated chance, in words."""
    table = table.loc[table["dealers"] >= MIN_BIN_DEALERS].assign(
        gap=lambda d: d["truly"] / d["dealers"] - d["stated"])
    w = table.loc[table["gap"].abs().idxmax()]
    return (f"{w.chance} ({w.bin.left:g}, {w.bin.right:g}] states {w.stated:.3f}, comes true "
            f"{w.truly / w.dealers:.3f}")


def run(quick: bool = False) -> list[dict]:
    started = time.perf_counter()
    spec = nps.flag_params()["ranks"]
    quarter = float(spec["quarter"])
    rng = np.random.default_rng(2025)
    world = World(n_answers=20_000 if quick else 60_000)
    runs = 150 if quick else 800
    rows = []
    sim = simulate(world, rng, runs=runs)
    ranked = rank_networks(sim)
    for r in calibration(ranked, quarter).itertuples():
        if r.dealers:
            rows.append(_bin_row(f"{r.chance} in ({r.bin.left:g}, {r.bin.right:g}]: truly in "
                                 "the quarter", r))
    level = f"{float(spec['level']):.0%}"
    hit = ranked["true_rank"].between(ranked["rank_low"], ranked["rank_high"])
    weak = ranked["weak"]
    rows.append(_rate_row(f"rank interval ({level}) covers the true rank, planted weak "
                          "dealers", hit[weak].sum(), weak.sum(), COVERAGE_TARGET))
    rows.append(_rate_row(f"rank interval ({level}) covers the true rank, all dealers",
                          hit.sum(), len(hit), float(spec["level"]),
                          note="for information, against the nominal level"))
    rows.append(_rate_row("shown rank inside its interval", *_inside(ranked), 1.0))
    # the same networks ranked with the true distribution of dealers as the prior
    oracle = oracle_ranks(world, {k: v[: runs // 2] for k, v in sim.items()}, rng,
                          prior_runs=100 if quick else 500)
    hit_o = oracle["true_rank"].between(oracle["rank_low"], oracle["rank_high"])
    rows.append(_rate_row(
        "oracle (true distribution of dealers as prior, one month's answers): rank interval "
        "covers the true rank, planted weak dealers", hit_o[oracle["weak"]].sum(),
        oracle["weak"].sum(), COVERAGE_TARGET,
        note=f"for information: the best one month's answers allow; worst bin: "
             f"{_worst_bin(calibration(oracle, quarter))}"))
    history = oracle_ranks(world, {k: v[: runs // 4] for k, v in sim.items()}, rng,
                           prior_runs=100 if quick else 500, months=MONTHS)
    hit_h = history["true_rank"].between(history["rank_low"], history["rank_high"])
    rows.append(_rate_row(
        f"oracle with each dealer's {MONTHS} months (a dealer's level carried over months): "
        "rank interval covers the true rank, planted weak dealers",
        hit_h[history["weak"]].sum(), history["weak"].sum(), COVERAGE_TARGET,
        note=f"for information: what a model of dealers' lasting levels could reach; mean "
             f"interval width {(history['rank_high'] - history['rank_low']).mean():.1f} "
             f"places against {(ranked['rank_high'] - ranked['rank_low']).mean():.1f}; "
             f"worst bin: {_worst_bin(calibration(history, quarter))}"))
    shocked = rank_networks(simulate(world, rng, runs=runs // 3, shock_sd=SHOCK_SD))
    hit_s = shocked["true_rank"].between(shocked["rank_low"], shocked["rank_high"])
    rows.append(_rate_row("with dealer-month shocks SD 0.2: rank interval covers the true "
                          "rank, planted weak dealers", hit_s[shocked["weak"]].sum(),
                          shocked["weak"].sum(), COVERAGE_TARGET,
                          note=f"for information; worst bin: "
                               f"{_worst_bin(calibration(shocked, quarter))}"))
    null = rank_networks(simulate(world, rng, runs=max(10, runs // 10), null=True))
    rows.append(_rate_row("null network (shuffle): shown rank inside its interval",
                          *_inside(null), 1.0))
    rows.append(_rate_row("null network, one touchpoint's answers (dealer x touchpoint): "
                          "shown rank inside its interval",
                          *touchpoint_null(world, rng, runs=max(4, runs // 40)), 1.0,
                          note=f"{time.perf_counter() - started:.0f} s for every row"))
    return rows


def main(argv=None) -> None:
    rate_main(run, __doc__, argv)


if __name__ == "__main__":
    main()
