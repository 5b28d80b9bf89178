"""The statistics read the one Settings (issue 27 item 2): a non-default Settings changes a
function's result exactly as the explicit argument did, and the defaults are the old ones.

Every function is run three ways: with ``settings=s.with_(...)``, with the explicit argument
it always had (``level=0.9``, ``q=0.05``, ``n_boot=...``), and with neither (the params'
settings), which must equal the old params' values passed explicitly (numbers unchanged).
"""

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from analysis import (
    alarms,
    calibration,
    cases,
    css,
    drivers,
    growth,
    incidents,
    nps,
    repairs,
    retention,
    stars,
)
from analysis.config import load_params
from analysis.estimators import bh_flags
from analysis.settings import Settings, settings_or

S = Settings.from_params()
LOW = S.with_(level=0.9)
STRICT = S.with_(q=0.05)




@pytest.fixture(scope="module")
def two_months(answers, month):
    last = pd.Period(month, freq="M")
    return answers.loc[answers["responded_at"].dt.to_period("M") >= last - 1]


def test_the_old_defaults_are_the_params_settings():
    """What the functions read before (nps.yaml level, flags.yaml q and scope, the literal 200
    draws) is what the params' settings hold: leaving settings out moves no number."""
    assert (S.level, S.q, S.scope, S.n_boot) == (
        load_params("nps")["level"], load_params("flags")["q"],
        load_params("flags")["scope"], 200)
    assert settings_or(None) == S and settings_or(LOW) is LOW
    # one level and one number of draws: no module's params carry their own any more, so an
    # edit there cannot silently do nothing
    ops, loop = load_params("operations"), load_params("loop")
    own = [section for section in (ops["red_flags"], ops["incidents"], loop["retention"],
                                   loop["actions"], loop["funnel"], load_params("css"))
           if "level" in section]
    assert not own
    assert "importance_n_boot" not in load_params("flags")["calibration"]


@pytest.mark.parametrize("changed, explicit", [({"q": 0.05}, {"q": 0.05}),
                                               ({"scope": "table"}, {"scope": "table"}),
                                               ({}, {"q": 0.1, "scope": "report"})])
def test_star_rule_reads_q_and_scope_from_settings(changed, explicit):
    p = {"dealer change": np.array([0.001, 0.004, 0.02, 0.03, 0.2, 0.6]),
         "nps change": np.array([0.011, 0.5])}
    assert stars.StarRule.of(p, settings=S.with_(**changed)) == stars.StarRule.of(p, **explicit)
    assert stars.StarRule.of(p) == stars.StarRule.of(p, q=0.1, scope="report")


def test_star_rule_q_changes_the_cutoff():
    p = {"dealer change": np.array([0.001, 0.004, 0.02, 0.045, 0.2])}
    assert (stars.StarRule.of(p, settings=STRICT).cutoff
            < stars.StarRule.of(p, settings=S).cutoff)


def test_evidence_reads_alpha_and_margin_from_settings():
    real = [False] * 4
    args = (real, [0.01, 0.08, 0.5, 0.5], [1, 1, -2, -7], [9, 9, 2, 7])
    assert (stars.evidence(*args).tolist()
            == stars.evidence(*args, margin=5.0, alpha=0.05).tolist()
            == ["not_in_family", "unclear", "none", "unclear"])
    assert (stars.evidence(*args, settings=LOW).tolist()
            == stars.evidence(*args, margin=5.0, alpha=1 - 0.9).tolist()
            == ["not_in_family", "not_in_family", "none", "unclear"])
    narrow = S.with_(margins={"nps_points": 1.0})
    assert stars.evidence(*args, settings=narrow)[2] == "unclear"


def test_relative_importance_and_models_take_the_level(answers):
    names = drivers.driver_names()
    kw = {"target": "nps", "drivers": names, "n_boot": 30, "random_state": 0}
    by_settings = drivers.relative_importance(answers, settings=LOW, **kw)
    assert by_settings.level == 0.9
    assert_frame_equal(by_settings.table,
                       drivers.relative_importance(answers, level=0.9, **kw).table)
    assert_frame_equal(drivers.relative_importance(answers, **kw).table,
                       drivers.relative_importance(answers, level=0.95, **kw).table)
    kw = {"target": "nps", "drivers": names, "max_rows": 2000, "random_state": 0}
    assert_frame_equal(drivers.detractor_effects(answers, settings=LOW, **kw),
                       drivers.detractor_effects(answers, level=0.9, **kw))
    assert_frame_equal(drivers.detractor_effects(answers, **kw),
                       drivers.detractor_effects(answers, level=0.95, **kw))


def test_importance_by_period_reads_level_and_draws(two_months):
    kw = {"period": "M", "random_state": 0}
    assert_frame_equal(
        drivers.importance_by_period(two_months, settings=LOW.with_(n_boot=30), **kw),
        drivers.importance_by_period(two_months, level=0.9, n_boot=30, **kw))
    # explicit arguments win over settings
    assert_frame_equal(
        drivers.importance_by_period(two_months, settings=LOW.with_(n_boot=30), n_boot=20,
                                     level=0.95, **kw),
        drivers.importance_by_period(two_months, n_boot=20, **kw))


def test_importance_change_reads_level_q_and_draws(two_months):
    kw = {"period": "M", "random_state": 0, "cluster": "dealer_id"}
    s = Settings.from_params(level=0.9, q=0.05, n_boot=40)
    assert_frame_equal(drivers.importance_change(two_months, settings=s, **kw),
                       drivers.importance_change(two_months, level=0.9, q=0.05, n_boot=40,
                                                 **kw))
    assert_frame_equal(drivers.importance_change(two_months, **kw),
                       drivers.importance_change(two_months, level=0.95, q=0.1, n_boot=200,
                                                 **kw))


def test_css_reads_level_and_q(answers):
    kw = {"by": ("region", "dealer_id"), "period": "M"}
    assert_frame_equal(css.summarize_css(answers, settings=LOW, **kw),
                       css.summarize_css(answers, level=0.9, **kw))
    assert_frame_equal(css.summarize_css(answers, **kw),
                       css.summarize_css(answers, level=0.95, settings=S, **kw))
    strict = css.summarize_css(answers, settings=STRICT, **kw)
    # the flag is the BH-adjusted p-value at most q: the adjustment itself does not move
    assert (strict["change_flag"] == (strict["change_p_adj"] <= 0.05)).all()
    assert strict["change_flag"].sum() <= css.summarize_css(answers, **kw)["change_flag"].sum()


def test_growth_reads_level_and_q(answers):
    assert_frame_equal(growth.rank_dealers_by_driver(answers, settings=LOW),
                       growth.rank_dealers_by_driver(answers, level=0.9))
    kw = {"n_boot": 20, "random_state": 0}
    by_settings = growth.growth_zones(answers, settings=S.with_(level=0.9, q=0.05), **kw)
    params = {**load_params("growth"), "q": 0.05}
    explicit = growth.growth_zones(answers, level=0.9, params=params, **kw)
    assert by_settings.level == 0.9
    assert_frame_equal(by_settings.table, explicit.table)
    assert_frame_equal(growth.growth_zones(answers, **kw).table,
                       growth.growth_zones(answers, level=0.95,
                                           params={**load_params("growth"), "q": 0.1},
                                           **kw).table)


def _alarm_counts() -> pd.DataFrame:
    """Eight dealers of two regions over 18 months, ~200 answers a month; one drops at the
    end (a change whose interval the level sets)."""
    rng = np.random.default_rng(5)
    rows = []
    for m, month in enumerate(pd.period_range("2025-05", periods=18, freq="M")):
        for d in range(8):
            shares = [0.3, 0.3, 0.4] if d == 0 and m >= 15 else [0.55, 0.3, 0.15]
            p, a, t = rng.multinomial(200, shares)
            rows.append({"dealer_id": f"D{d}", "region": f"R{d % 2}", "touchpoint": "service",
                         "period": month, "promoters": p, "passives": a, "detractors": t})
    return pd.DataFrame(rows)


def test_alarms_read_the_level():
    counts = _alarm_counts()
    low = alarms.detect_counts(counts, settings=LOW).table
    explicit = alarms.detect_counts(counts, params={**load_params("nps"), "level": 0.9}).table
    assert_frame_equal(low, explicit)
    default = alarms.detect_counts(counts).table
    assert_frame_equal(default, alarms.detect_counts(counts, params=load_params("nps")).table)
    assert 0 < (low["change_high"] - low["change_low"]).sum() < (
        default["change_high"] - default["change_low"]).sum()


def test_operations_intervals_read_the_level(small_net):
    net = small_net
    flags = cases.red_flags(net.responses, net.cases, now=net.truth["as_of"],
                            dealers=net.dealers)
    assert_frame_equal(cases.sla_summary(flags, settings=LOW),
                       cases.sla_summary(flags, level=0.9))
    assert_frame_equal(cases.sla_summary(flags), cases.sla_summary(flags, level=0.95))
    report = cases.sla_report(net.responses, net.cases, dealers=net.dealers,
                              now=net.truth["as_of"], settings=LOW)
    assert_frame_equal(report.by_region, cases.sla_summary(flags, by=("region",), level=0.9))
    closures = incidents.closure_times(net.incidents, now=net.truth["as_of"])
    assert_frame_equal(incidents.closure_summary(closures, settings=LOW),
                       incidents.closure_summary(closures, level=0.9))
    assert_frame_equal(incidents.closure_summary(closures),
                       incidents.closure_summary(closures, level=0.95))
    pairs = repairs.repeat_repairs(net.repair_orders)
    low = repairs.repeat_summary(pairs, net.repair_orders, settings=LOW)
    default = repairs.repeat_summary(pairs, net.repair_orders)
    assert (low["cohort_rate_high"] - low["cohort_rate_low"]).sum() < (
        default["cohort_rate_high"] - default["cohort_rate_low"]).sum()
    assert_frame_equal(low.drop(columns=["cohort_rate_low", "cohort_rate_high"]),
                       default.drop(columns=["cohort_rate_low", "cohort_rate_high"]))


def test_return_rates_read_the_level(small_net):
    net = small_net
    assert_frame_equal(retention.return_rates(net.repair_orders, net.responses, settings=LOW),
                       retention.return_rates(net.repair_orders, net.responses, level=0.9))
    assert_frame_equal(retention.return_rates(net.repair_orders, net.responses),
                       retention.return_rates(net.repair_orders, net.responses, level=0.95))


def test_report_tables_take_the_draws_from_settings(two_months, month):
    """The report's star family and the importance it shows come from the same draws: the
    report passes its settings, and ``n_boot`` defaults to them."""
    kw = {"month": month, "network": True, "cluster": "dealer_id"}
    by_settings = stars.report_tables(two_months, settings=S.with_(n_boot=30, q=0.05), **kw)
    explicit = stars.report_tables(two_months, n_boot=30, **kw)
    change = drivers.importance_change(two_months, period="M", n_boot=30, q=0.05,
                                       random_state=0, cluster="dealer_id")
    assert_frame_equal(by_settings["driver importance change"],
                       stars.importance_tests(change))
    for name in ("nps change", "dealer change", "touchpoint change"):
        # the same numbers; the tables' own flags at the settings' q, not the params'
        flags = [c for c in by_settings[name] if c.endswith(("_flag", "_p_adj"))]
        assert_frame_equal(by_settings[name].drop(columns=flags),
                           explicit[name].drop(columns=flags))
    ranking = by_settings["dealer change"]
    assert (ranking["vs_region_flag"].to_numpy()
            == bh_flags(ranking["vs_region_p_value"].to_numpy(), q=0.05)[1]).all()


def test_calibration_counts_raw_stars_at_the_settings_level(two_months, month):
    s = LOW.with_(n_boot=20)
    counted = calibration.report_flags(two_months, month=month, settings=s)
    frames = stars.report_tables(two_months, month=month, network=True, n_boot=20,
                                 cluster="dealer_id", settings=LOW)
    p = stars.family_p_values(frames)
    assert counted.set_index("family")["raw"].to_dict() == {
        k: int((v < 0.1).sum()) for k, v in p.items()}


def test_nps_reads_level_q_and_windows_from_settings(answers, month):
    """nps.summarize, compare and rank_dealers: a Settings changes them as the explicit
    argument or the params dict did; the default is the params' decision."""
    by_settings = nps.summarize(answers, by=("region",), settings=LOW)
    assert_frame_equal(by_settings, nps.summarize(answers, by=("region",), level=0.9))
    assert_frame_equal(nps.summarize(answers, by=("region",)),
                       nps.summarize(answers, by=("region",), settings=S))
    a, b = answers["nps"].iloc[:300], answers["nps"].iloc[300:600]
    assert nps.compare(a, b, settings=LOW) == nps.compare(a, b, level=0.9)
    flags = load_params("flags")
    short = dict(load_params("nps"), flags=dict(flags, vs_region={"months": 3},
                                                 ranks=dict(flags["ranks"], level=0.8)))
    assert_frame_equal(
        nps.rank_dealers(answers, period=month, settings=S.with_(vs_region_months=3,
                                                                 rank_level=0.8)),
        nps.rank_dealers(answers, period=month, params=short))
    strict = nps.rank_dealers(answers, period=month, settings=STRICT)
    assert (strict["vs_region_flag"].to_numpy()
            == bh_flags(strict["vs_region_p_value"].to_numpy(), q=0.05)[1]).all()
