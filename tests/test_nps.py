import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis import nps


def test_classify_cutoffs():
    cats = nps.classify([0, 6, 7, 8, 9, 10])
    assert list(cats) == ["detractor", "detractor", "passive", "passive", "promoter", "promoter"]


def test_nps_hand_computed():
    # 3 promoters, 2 passives, 3 detractors of 8: (3 - 3) / 8 = 0
    assert nps.nps([10, 9, 9, 8, 7, 6, 0, 3]) == 0.0
    # 2 promoters, 1 passive, 1 detractor: (2 - 1) / 4 = +25
    assert nps.nps([9, 10, 7, 0]) == pytest.approx(25.0)
    assert nps.nps([10] * 5) == 100.0
    assert nps.nps([0, 6]) == -100.0
    assert np.isnan(nps.nps([]))


@pytest.mark.parametrize("bad", [[11], [-1], [7.5], [None], ["nine"], [np.nan]])
def test_bad_scores_raise_naming_the_value(bad):
    with pytest.raises(ValueError, match="whole numbers from 0 to 10") as err:
        nps.nps([9, *bad])
    assert "position 1" in str(err.value)


def test_summarize_by_group_and_month():
    frame = pd.DataFrame({
        "region": ["A", "A", "A", "B", "B", "A"],
        "nps": [10, 6, 8, 9, 9, 0],
        "responded_at": pd.to_datetime(["2026-01-05", "2026-01-20", "2026-01-31",
                                        "2026-01-02", "2026-02-01", "2026-02-10"]),
    })
    out = nps.summarize(frame, by=("region",), period="M")
    a_jan = out[(out.region == "A") & (out.period == pd.Period("2026-01", "M"))].iloc[0]
    assert (a_jan.n, a_jan.promoters, a_jan.passives, a_jan.detractors) == (3, 1, 1, 1)
    assert a_jan.nps == pytest.approx(0.0)
    a_feb = out[(out.region == "A") & (out.period == pd.Period("2026-02", "M"))].iloc[0]
    assert a_feb.nps == -100.0
    assert out["n"].sum() == len(frame)
    whole = nps.summarize(frame, by=(), period=None)
    assert whole.iloc[0]["nps"] == pytest.approx(100 * (3 - 2) / 6)


def test_summarize_names_missing_columns():
    with pytest.raises(KeyError, match="region"):
        nps.summarize(pd.DataFrame({"nps": [1]}), by=("region",), period=None)


@given(st.lists(st.integers(0, 10), min_size=1, max_size=200), st.randoms())
def test_nps_bounds_and_order_invariance(scores, rnd):
    value = nps.nps(scores)
    assert -100 <= value <= 100
    shuffled = scores[:]
    rnd.shuffle(shuffled)
    assert nps.nps(shuffled) == value
