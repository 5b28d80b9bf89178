"""The counting core (analysis.counting): scores into categories, categories into counts per
group and period, the same from the answers and from a count table in pieces."""

import numpy as np
import pandas as pd
import pytest

from analysis import counting, nps


def _answers() -> pd.DataFrame:
    return pd.DataFrame({
        "dealer_id": ["D2", "D1", "D1", "D2", "D1", None],
        "responded_at": pd.to_datetime(["2026-01-05", "2026-01-09", "2026-03-02",
                                        "2026-03-30", "2026-03-31", "2026-01-01"]),
        "nps": [10, 6, 9, 7, 0, 10]})


def test_the_cutoffs_are_the_params_scale():
    assert counting.score_cutoffs() == (0, 10, 6, 9)
    codes = counting.category_codes([0, 6, 7, 8, 9, 10])
    assert codes.dtype == np.int8
    assert codes.tolist() == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="whole numbers from 0 to 10"):
        counting.category_codes([3, 11])


def test_nps_still_offers_the_counting_names():
    for name in ("CATEGORIES", "classify", "count_categories", "nps_from_counts",
                 "score_cutoffs", "validate_scores"):
        assert getattr(nps, name) is getattr(counting, name)


def test_groups_carry_codes_with_gaps_between_periods():
    groups = counting.count_groups(_answers(), ["dealer_id"], period="M")
    assert groups.counts["dealer_id"].tolist() == ["D1", "D1", "D2", "D2"]
    assert groups.counts["n"].tolist() == [1, 2, 1, 1]
    # February holds no answer: March is two periods after January
    assert groups.codes["period"].tolist() == [0, 2, 0, 2]
    assert groups.codes["dealer_id"][0] == groups.codes["dealer_id"][1]


def test_a_count_table_in_pieces_gives_the_groups_of_the_answers():
    answers = _answers()
    whole = counting.count_groups(answers, ["dealer_id"], period="M")
    pieces = pd.concat([counting.count_categories(part, by=["dealer_id"], period="M")
                        for part in (answers.iloc[:3], answers.iloc[3:])])
    summed = counting.groups_from_counts(pieces, ["dealer_id"], period="M")
    pd.testing.assert_frame_equal(summed.counts.astype({"n": "int64"}),
                                  whole.counts.astype({"n": "int64"}), check_dtype=False)
    assert summed.codes["period"].tolist() == whole.codes["period"].tolist()
    quarters = counting.groups_from_counts(pieces, ["dealer_id"], period="Q")
    assert quarters.counts["n"].tolist() == [3, 2]
    with pytest.raises(TypeError, match="Periods"):
        counting.as_period(pd.Series(["2026-01"]), "M")
