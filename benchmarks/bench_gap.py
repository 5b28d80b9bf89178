"""Dealers below their region (issue 25, item 3): power on planted weak dealers, false stars
under the null, measured by simulation on networks of the demo's size.

Not a timing benchmark: each row is a rate with its Monte-Carlo interval (Wilson for shares,
a t interval for means) against the target of issue 25 as its "baseline" (``ratio`` =
measured / target; a power is ok when >= 1, a false-star count when <= 1).

Each run draws the demo network (:func:`analysis.synthetic.make_network`: 40 dealers in 6
regions, about 80 answers a dealer-month, 12 months, a fifth of the dealers with a planted
weak driver worth about 11 NPS points) and builds the report's family of stars on it
(:func:`analysis.stars.report_tables`, the report's own frames: every month's change on the
trend, touchpoints, regions, dealers' changes, dealers against the rest of their region over
params/flags.yaml ``vs_region.months``, CSS, driver importance) with the report's rule
(:class:`analysis.stars.StarRule`, one Benjamini-Hochberg family):

- **planted weak dealers flagged below their region**: starred with a negative gap, share of
  the planted dealers over all runs (target >= 0.5);
- **false stars per report under the null**: the same network with its answers shuffled
  across dealers, months and touchpoints (:func:`analysis.calibration.shuffle_answers`), every
  star of the family false (target <= 0.5).
"""

from __future__ import annotations

import time

import numpy as np

from analysis import calibration, stars, store, synthetic
from analysis.estimators import wilson_interval
from benchmarks._common import rate_main, rate_row

DEALERS, REGIONS, MONTHS, ANSWERS = 40, 6, 12, 3400  # the demo's size: ~80 a dealer-month
N_BOOT = 50  # the importance bootstrap: its tests are one family member of 246


def _family(responses, month: str):
    frames = stars.report_tables(responses, month=month, network=True, n_boot=N_BOOT)
    return frames, stars.StarRule.of(stars.family_p_values(frames))


def _run(seed: int) -> tuple[int, int, int]:
    """(planted weak dealers, of them starred below their region, false stars on the null)."""
    net = synthetic.make_network(n_dealers=DEALERS, n_regions=REGIONS, months=MONTHS,
                                 responses_per_month=ANSWERS, seed=seed)
    answers = store.with_region(net.responses, net.dealers)
    month = str(answers["responded_at"].max().to_period("M"))
    frames, rule = _family(answers, month)
    ranked = frames["dealer vs region"]
    below = rule.significant(ranked, "vs_region").to_numpy() & (ranked["vs_region"] < 0)
    weak = set(net.truth["dealer_weak_driver"])
    found = int(below[ranked["dealer_id"].isin(weak).to_numpy()].sum())
    shuffled = calibration.shuffle_answers(answers, np.random.default_rng(seed))
    null_frames, null_rule = _family(shuffled, month)
    false = int(sum(null_rule.count(null_frames).values()))
    return len(weak), found, false


def _row(name: str, value: float, low: float, high: float, target: float, *, higher: bool,
         note: str) -> dict:
    """:func:`benchmarks._common.rate_row`: ``higher`` when the rate should reach ``target``."""
    return rate_row(name, value, low, high, target, at_least=higher, note=note)


def run(quick: bool = False) -> list[dict]:
    runs = 2 if quick else 12
    start = time.perf_counter()
    results = [_run(seed) for seed in range(runs)]
    seconds = time.perf_counter() - start
    planted = sum(r[0] for r in results)
    found = sum(r[1] for r in results)
    false = np.array([r[2] for r in results], dtype=float)
    low, high = wilson_interval(found, planted)
    sd = false.std(ddof=1) if runs > 1 else 0.0
    half = 2.0 * sd / np.sqrt(runs)
    return [
        _row("weak dealers flagged below region", found / planted, float(low), float(high),
             0.5, higher=True, note=f"{found} of {planted} planted, {runs} networks, "
                                    f"{seconds:.0f} s"),
        _row("false stars per report, null", float(false.mean()),
             max(0.0, float(false.mean() - half)), float(false.mean() + half), 0.5,
             higher=False, note=f"{int(false.sum())} stars in {runs} shuffled reports"),
    ]


def main(argv=None) -> None:
    rate_main(run, __doc__, argv)


if __name__ == "__main__":
    main()
