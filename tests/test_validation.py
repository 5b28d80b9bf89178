"""analysis.validation: the frames the validation notebooks print, on hand-made inputs."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import validation
from analysis.drivers import relative_importance

DATA = Path(__file__).parent / "data"


def test_against_published_agrees_to_the_published_digits():
    mtcars = pd.read_csv(DATA / "mtcars.csv")
    result = relative_importance(mtcars, target="mpg", drivers=["am", "vs", "cyl"])
    # am as published, vs one unit of the 7th decimal off
    out = validation.against_published(result, {"am": 0.1774892, "vs": 0.2027033},
                                       digits=7, r2=0.7619773)
    assert out.index.tolist() == ["am", "vs", "R^2"]
    assert out["agrees"].tolist() == [True, False, True]
    assert out.loc["R^2", "computed"] == result.r2 and pd.isna(out.loc["R^2", "rank"])
    coarse = validation.against_published(result, {"cyl": 0.38}, digits=2)  # 0.3818
    assert coarse["agrees"].tolist() == [True] and "R^2" not in coarse.index


def test_nps_intervals_of_fixed_counts():
    cases = pd.DataFrame([
        {"promoters": 50, "passives": 30, "detractors": 20, "method": "adjusted_wald",
         "level": 0.95, "low": 14.05, "high": 44.20},
        {"promoters": 30, "passives": 10, "detractors": 10, "method": "wald", "level": 0.90,
         "low": 21.39, "high": 58.62},  # the high end is one hundredth off
    ])
    out = validation.nps_intervals(cases)
    assert out["nps"].tolist() == pytest.approx([30.0, 40.0])
    assert out.loc[0, ["low", "high"]].tolist() == pytest.approx([14.0511, 44.2013], abs=1e-4)
    assert out["agrees"].tolist() == [True, False]


TRUTH = {
    "driver_weights": {"staff": 0.2, "booking": 0.3, "atmosphere": 0.05},
    "dealer_weak_driver": {"D2": "booking", "D1": "staff", "D3": "staff"},
    "weak_drop": {"D1": 1.5, "D2": 3.0, "D3": 1.5},
    "repeat_repair_pairs": [{"first_ro_id": "R1", "repeat_ro_id": "R2"},
                            {"first_ro_id": "R2", "repeat_ro_id": "R3"},
                            {"first_ro_id": "R7", "repeat_ro_id": "R8"}],
    "response_cause": {"S1": "price", "S2": "booking", "S3": "price"},
}


def test_driver_weights_heaviest_planted_first():
    table = pd.DataFrame({"importance": [0.1, 0.2, 0.01], "low": np.nan, "high": np.nan,
                          "share": [0.32, 0.65, 0.03], "rank": [2, 1, 3]},
                         index=pd.Index(["staff", "booking", "atmosphere"], name="driver"))
    out = validation.driver_weights(TRUTH, table)
    assert out["driver"].tolist() == ["booking", "staff", "atmosphere"]
    assert out["weight_rank"].tolist() == out["rank"].tolist() == [1, 2, 3]


def test_weak_dealers_found_missed_and_without_a_zone():
    top = pd.DataFrame({"rank": [1, 1, 2], "dealer_id": ["D2", "D2", "D1"], "zone": [1, 2, 1],
                        "driver": ["booking", "staff", "booking"]})
    ranking = pd.DataFrame({"dealer_id": ["D4", "D3", "D1", "D2"],
                            "rank_network": [1, 2, 3, 4]})
    out = validation.weak_dealers(TRUTH, top=top, ranking=ranking).set_index("dealer_id")
    assert out.index.tolist() == ["D1", "D2", "D3"]
    assert out["found"].tolist() == [False, True, False]  # D1's largest zone is another driver
    assert out.loc["D1", "zone_driver"] == "booking" and pd.isna(out.loc["D3", "zone_driver"])
    assert out["top_rank"].tolist() == [2, 1, pd.NA]
    assert out["nps_rank"].tolist() == [3, 4, 2] and (out["n_dealers"] == 4).all()
    assert out["weak_drop"].tolist() == [1.5, 3.0, 1.5]


def test_repeat_repairs_precision_and_recall():
    pairs = pd.DataFrame({"first_ro_id": ["R1", "R2", "R4"], "repeat_ro_id": ["R2", "R3", "R5"]})
    row = validation.repeat_repairs(TRUTH, pairs).iloc[0]
    assert (row["planted"], row["found"], row["both"]) == (3, 3, 2)
    assert (row["precision"], row["recall"]) == pytest.approx((2 / 3, 2 / 3))
    none = validation.repeat_repairs(TRUTH, pairs.iloc[:0]).iloc[0]
    assert np.isnan(none["precision"]) and none["recall"] == 0


def test_causes_leave_out_what_the_team_labelled():
    suggestions = pd.DataFrame({"response_id": ["S3", "S1", "S2", "S9"],
                                "suggested": ["price", "booking", "booking", "price"],
                                "source": ["model", "model", "team", "model"]})
    out = validation.causes(TRUTH, suggestions)
    # S2 was the team's, S9 has no planted cause
    assert out.index.tolist() == ["S1", "S3"]
    assert out.to_dict("list") == {"label": ["price", "price"], "predicted": ["booking", "price"]}
