"""The survey funnel: rates against hand-computed Wilson intervals and the demo's planted
channel rates and differences."""

import numpy as np
import pandas as pd
import pytest

from analysis import funnel
from analysis.estimators import wilson_interval


def test_planted_channel_rates_are_recovered(small_net):
    rates = funnel.funnel_rates(small_net.contacts).set_index("channel")
    truth = small_net.truth["funnel_rates"]
    assert set(rates.index) == set(truth)
    for channel, planted in truth.items():
        row = rates.loc[channel]
        assert row["reach_low"] <= planted["reach"] <= row["reach_high"], channel
        assert row["response_low"] <= planted["answer"] <= row["response_high"], channel


def test_channel_differences_have_the_planted_sign(small_net):
    diff = funnel.channel_differences(small_net.contacts, reference="phone")
    truth = small_net.truth["funnel_rates"]
    assert set(diff["reference"]) == {"phone"} and "phone" not in set(diff["channel"])
    for row in diff.itertuples():
        key = "reach" if row.stage == "reach" else "answer"
        planted = truth[row.channel][key] - truth["phone"][key]
        assert row.difference_low <= planted <= row.difference_high
        assert row.differs and np.sign(row.difference) == np.sign(planted)


def test_rates_by_hand_and_by_any_grouping():
    contacts = pd.DataFrame({"dealer_id": ["D1", "D1", "D2"], "channel": ["sms", "phone", "sms"],
                             "month": ["2026-10"] * 3, "attempted": [100, 50, 0],
                             "reached": [80, 20, 0], "answered": [8, 10, 0]})
    by_dealer = funnel.funnel_rates(contacts, by=("dealer_id",)).set_index("dealer_id")
    d1 = by_dealer.loc["D1"]
    assert d1[["attempted", "reached", "answered"]].tolist() == [150, 100, 18]
    assert d1["reach_rate"] == pytest.approx(100 / 150)
    assert d1["response_rate"] == pytest.approx(0.18) and d1["yield_rate"] == pytest.approx(0.12)
    low, high = wilson_interval(18, 100, level=0.95)
    assert d1["response_low"] == pytest.approx(float(low))
    assert d1["response_high"] == pytest.approx(float(high))
    assert np.isnan(by_dealer.loc["D2", "reach_rate"])  # nothing attempted: no rate
    regions = pd.DataFrame({"dealer_id": ["D1", "D2"], "region": ["N", "N"]})
    total = funnel.funnel_rates(contacts, by=("region",), dealers=regions)
    assert total["attempted"].tolist() == [150]
    assert funnel.funnel_rates(contacts, by=())["answered"].tolist() == [18]


def test_region_comes_from_one_shared_helper_in_the_funnel_and_in_completion():
    from analysis import actions
    from analysis import regions as region_helpers

    contacts = pd.DataFrame({"dealer_id": ["D1", "D2", "D3"], "channel": ["sms"] * 3,
                             "month": ["2026-10"] * 3, "attempted": [10, 20, 30],
                             "reached": [5, 10, 15], "answered": [1, 2, 3]})
    regions = pd.DataFrame({"dealer_id": ["D1", "D2", "D3"], "region": ["N", "S", "S"]})
    by_region = funnel.funnel_rates(contacts, by=("region",), dealers=regions)
    assert by_region.set_index("region")["attempted"].to_dict() == {"N": 10, "S": 50}
    with pytest.raises(funnel.FunnelDataError, match="needs the dealers table"):
        funnel.funnel_rates(contacts, by=("region",))
    plan = pd.DataFrame({"action_id": ["A1"], "dealer_id": ["D2"], "target": ["staff"],
                         "opened_at": [pd.Timestamp("2026-09-01")],
                         "due_at": [pd.Timestamp("2026-09-30")],
                         "closed_at": [pd.Timestamp("2026-09-20")], "status": ["done"]})
    with pytest.raises(actions.ActionsDataError, match="needs the dealers table"):
        actions.completion(plan, by=("region",))
    assert actions.completion(plan, by=("region",), dealers=regions)["region"].tolist() == ["S"]
    # a frame that has its region already is left as it is; no region asked: no merge
    same = region_helpers.region_for(regions, None, by=("region",), table="dealers", error=ValueError)
    assert same is regions
    assert region_helpers.region_for(contacts, None, by=("channel",), table="contacts",
                                     error=ValueError) is contacts


def test_the_region_helpers_need_no_store_and_the_store_still_offers_them():
    import subprocess
    import sys

    from analysis import regions, store

    assert store.with_region is regions.with_region
    assert store.region_for is regions.region_for
    dealers = pd.DataFrame({"dealer_id": ["D1", "D2"], "region": ["N", "S"],
                            "dealer_name": ["One", "Two"]})
    frame = pd.DataFrame({"dealer_id": ["D2", "D1", "D2"], "region": ["X", "Y", "X"]})
    assert regions.dealer_attributes(frame.columns, dealers) == ["dealer_name"]
    out = regions.with_region(frame, dealers)
    assert out["region"].tolist() == ["X", "Y", "X"]  # a frame's own region is kept
    assert out["dealer_name"].tolist() == ["Two", "One", "Two"]
    # the statistics that attach a region do not load the store (and its I/O) for it
    code = ("import sys, analysis.nps, analysis.actions, analysis.funnel; "
            "print('analysis.store' in sys.modules)")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "False"
