"""Calibration of the report's flags (issue 15): permutation nulls on the default demo.

Not a timing benchmark: the rows carry rates, each against the target of issue 15 as its
"baseline" (ratio = measured / target, ok when <= 1), and the stars before multiplicity
control (a raw p < 0.05) in the note, measured in the same run:

- false stars per report under the null, one BH family over the report (target 0.5);
- the same with BH per table (the statistics functions' own ``*_flag`` columns);
- false growth zones per run, 12-month and 1-month windows (target 1).

Power at +10 NPS points on one dealer-month and the seconds taken go to the notes. ``--quick``
runs a small network with few shuffles (the rates are then rough).
"""

from __future__ import annotations

from analysis import calibration, store
from analysis.synthetic import make_network
from benchmarks._common import rate_row


def run(quick: bool = False) -> list[dict]:
    if quick:
        net = make_network(n_dealers=24, n_regions=4, months=3, responses_per_month=2000,
                           seed=3)
        options = {"permutations": 5, "growth_permutations": 1, "growth_n_boot": 40,
                   "windows": (3, 1), "power_dealers": 5}
    else:
        net = make_network()  # the default demo: 60 dealers, 12 months, ~60k answers
        options = {"permutations": 40, "growth_permutations": 4, "growth_n_boot": 200,
                   "windows": (12, 1)}
    responses = store.with_region(net.responses, net.dealers)
    month = str(responses["responded_at"].max().to_period("M"))
    result = calibration.calibrate(responses, month=month, **options)
    print(result.summary(), flush=True)
    raw = result.raw_stars_per_report
    power = (f"power at +{result.effect:g} points: {result.power_flagged:.2f} (the report's rule), "
             f"{result.power['raw'].mean():.2f} (raw p)" if len(result.power) else "")
    rows = [
        _rate_row("false stars per report, the report's rule (BH over the report)",
                  result.false_stars_per_report, 0.5,
                  note=f"raw p < 0.05: {raw:.2f} a report; {power}"),
        _rate_row("false stars per report, BH per table", result.false_stars_per_report_table,
                  0.5, note="each table's own *_flag (scope: table); the report pools them"),
    ]
    zones = result.zones.groupby("months")
    for months, part in zones:
        rows.append(_rate_row(
            f"false growth zones per run, {months}-month window", part["zones"].mean(), 1.0,
            note=f"uplift interval above 0 alone (before): {part['interval_above_0'].mean():.1f}"
                 f" of {int(part['pairs'].iloc[0])} pairs; {result.seconds:.0f} s in all"))
    return rows


def _rate_row(name: str, value: float, target: float, *, note: str) -> dict:
    """:func:`benchmarks._common.rate_row` of a mean count per report (no interval)."""
    return rate_row(name, float(value), float("nan"), float("nan"), target, note=note,
                    by="issue 15")
