import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import css, store
from analysis.config import load_params
from analysis.report import tables
from analysis.settings import settings_or

PARAMS = css.load_css_params()
ATTRS = list(PARAMS["attributes"])


def _answer(touchpoint="service", **ratings):
    """One answer: every attribute rated 10 unless given (np.nan for skipped)."""
    return {"touchpoint": touchpoint, **{a: ratings.get(a, 10.0) for a in ATTRS}}


def test_weights_are_the_brand_report_weights():
    w = css.weights()
    assert w["weight"].tolist() == [10, 5, 15, 15, 10, 20, 5, 5, 5, 10]
    assert w["weight"].sum() == 100
    assert w["label"].str.len().gt(0).all()


def test_weights_not_summing_to_100_name_the_file_and_the_sum(tmp_path):
    broken = load_params("css")
    broken["attributes"]["css_advisor"]["weight"] = 15
    (tmp_path / "css.yaml").write_text(yaml.safe_dump(broken, allow_unicode=True))
    with pytest.raises(css.CSSWeightsError, match=r"css\.yaml must sum to 100; they sum to 95"):
        css.load_css_params(params_dir=tmp_path)
    with pytest.raises(css.CSSWeightsError, match="sum to 95"):
        css.css_index(pd.DataFrame([_answer()]), params=broken)


def test_index_hand_computed():
    frame = pd.DataFrame([
        _answer(),                                               # all 10 -> 100
        {**_answer(), **{a: 1.0 for a in ATTRS}},                # all 1 -> 0
        {**_answer(), **{a: 1.0 for a in ATTRS}, "css_advisor": 10.0},  # 20 of 100 -> 20
        # advisor skipped, appointment 1, others 10: (10 * 0 + 70 * 100) / 80 = 87.5
        _answer(css_advisor=np.nan, css_appointment=1.0),
        # all 5.5 would be 50; 1..10 are whole: all 4 -> 100 * 3 / 9 = 33.33
        {**_answer(), **{a: 4.0 for a in ATTRS}},
    ])
    expected = [100.0, 0.0, 20.0, 87.5, 100 / 3]
    assert css.css_index(frame).to_numpy() == pytest.approx(expected)


def test_too_few_rated_attributes_and_other_touchpoints_have_no_index():
    only_two = {**{a: np.nan for a in ATTRS}, "css_advisor": 9.0, "css_on_time": 8.0}
    half = {**{a: np.nan for a in ATTRS}, "css_advisor": 1.0, "css_on_time": 10.0,
            "css_explanation": 10.0}  # 20 + 15 + 15 = 50: exactly enough
    frame = pd.DataFrame([{"touchpoint": "service", **only_two},
                          {"touchpoint": "service", **half},
                          _answer(touchpoint="sales_new")])
    index = css.css_index(frame)
    assert np.isnan(index[0]) and np.isnan(index[2])
    assert index[1] == pytest.approx((20 * 0 + 30 * 100) / 50)


@pytest.mark.parametrize("bad", [11, 0, 7.5, "good"])
def test_bad_ratings_are_named(bad):
    frame = pd.DataFrame([_answer(), _answer(css_value=bad)])
    with pytest.raises(ValueError, match=r"css_value=.* at row 1"):
        css.css_index(frame)


def test_missing_css_columns_are_named():
    with pytest.raises(KeyError, match="css_follow_up"):
        css.css_index(pd.DataFrame([_answer()]).drop(columns="css_follow_up"))


def _visits():
    """Two regions, three dealers, two months; indices chosen by uniform ratings."""
    rows = []
    plan = [("N", "A", "2026-01", [10, 7]), ("N", "A", "2026-02", [4, 4]),
            ("N", "B", "2026-01", [1]), ("N", "B", "2026-02", [10, 10, 10]),
            ("S", "C", "2026-01", [7]), ("S", "C", "2026-02", [7, 10])]
    for region, dealer, month, ratings in plan:
        for r in ratings:
            rows.append({"region": region, "dealer_id": dealer,
                         "responded_at": pd.Timestamp(f"{month}-10"),
                         **_answer(**{a: float(r) for a in ATTRS})})
    return pd.DataFrame(rows)


def test_summary_vs_previous_region_and_nation():
    score = {1: 0.0, 4: 100 / 3, 7: 200 / 3, 10: 100.0}
    out = css.summarize_css(_visits()).set_index(["dealer_id", "period"])
    feb = pd.Period("2026-02", "M")
    a = out.loc[("A", feb)]
    assert a["css"] == pytest.approx(score[4])
    assert a["css_previous"] == pytest.approx((score[10] + score[7]) / 2)
    assert a["change_vs_previous"] == pytest.approx(score[4] - (score[10] + score[7]) / 2)
    # North in February: A's two 4s and B's three 10s, answer-weighted
    north = (2 * score[4] + 3 * score[10]) / 5
    nation = (2 * score[4] + 3 * score[10] + score[7] + score[10]) / 7
    assert a["region_css"] == pytest.approx(north)
    assert a["national_css"] == pytest.approx(nation)
    assert a["vs_region"] == pytest.approx(score[4] - north)
    assert a["vs_national"] == pytest.approx(score[4] - nation)
    assert out.loc[("C", feb), "region_css"] == pytest.approx(out.loc[("C", feb), "css"])
    assert np.isnan(out.loc[("B", pd.Period("2026-01", "M")), "change_vs_previous"])
    assert out["small_sample"].all()
    # one answer has no spread to estimate: no interval; the others stay within 0-100
    assert out["css_low"].isna().tolist() == (out["n"] == 1).tolist()
    assert (out["css_low"].dropna() >= 0).all() and (out["css_high"].dropna() <= 100).all()
    assert out.loc[("A", feb), "css_low"] == pytest.approx(score[4])  # two equal answers


def test_summary_needs_region():
    with pytest.raises(KeyError, match="with_region"):
        css.summarize_css(_visits().drop(columns="region"), by=("dealer_id",))


def test_attribute_scores_are_tidy():
    visits = _visits().assign(css_value=np.nan)
    out = css.attribute_scores(visits, by=("dealer_id",), period=None)
    assert set(out["attribute"]) == set(ATTRS) - {"css_value"}
    a = out.loc[(out["dealer_id"] == "A") & (out["attribute"] == "css_advisor")].iloc[0]
    assert a["n"] == 4 and a["rating"] == pytest.approx(6.25) and a["weight"] == 20
    assert a["score"] == pytest.approx(100 * 5.25 / 9)


ratings = st.lists(st.one_of(st.integers(1, 10).map(float), st.just(np.nan)),
                   min_size=len(ATTRS), max_size=len(ATTRS))


@settings(max_examples=100, deadline=None)
@given(ratings, st.integers(0, len(ATTRS) - 1))
def test_index_bounds_and_monotone_in_each_rating(values, which):
    row = {"touchpoint": "service", **dict(zip(ATTRS, values, strict=True))}
    base = css.css_index(pd.DataFrame([row]))[0]
    if np.isnan(base):
        return
    assert 0 <= base <= 100
    if not np.isnan(values[which]) and values[which] < 10:
        better = css.css_index(pd.DataFrame([{**row, ATTRS[which]: values[which] + 1}]))[0]
        assert better >= base - 1e-9


@settings(max_examples=15, deadline=None)
@given(st.randoms())
def test_summary_is_invariant_to_row_order(rnd):
    visits = _visits()
    order = list(range(len(visits)))
    rnd.shuffle(order)
    pd.testing.assert_frame_equal(css.summarize_css(visits), css.summarize_css(visits.iloc[order]))


def test_index_does_not_depend_on_attribute_order():
    params = load_params("css")
    params["attributes"] = dict(reversed(list(params["attributes"].items())))
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.integers(1, 11, (50, len(ATTRS))).astype(float), columns=ATTRS)
    frame = frame.mask(rng.random(frame.shape) < 0.1).assign(touchpoint="service")
    pd.testing.assert_series_equal(css.css_index(frame), css.css_index(frame, params=params))


def test_demo_network_index(small_net):
    responses = store.with_region(small_net.responses, small_net.dealers)
    index = css.css_index(responses)
    service = responses["touchpoint"].isin(PARAMS["touchpoints"])
    assert index[~service].isna().all()
    # 4 % of ratings are skipped at random: nearly every service answer keeps half its weight
    assert index[service].notna().mean() > 0.99
    # the CSS attributes echo the loyalty drivers that generate NPS
    assert index.corr(responses["nps"]) > 0.6
    by_dealer = css.summarize_css(responses, period=None).sort_values("css")
    weak = by_dealer["dealer_id"].isin(list(small_net.truth["dealer_weak_driver"]))
    positions = np.flatnonzero(weak.to_numpy())
    assert len(positions) == len(small_net.truth["dealer_weak_driver"])
    assert (positions < len(by_dealer) / 2).all()


def test_report_table(small_net):
    responses = store.with_region(small_net.responses, small_net.dealers)
    month = str(responses["responded_at"].max().to_period("M"))
    summary = css.summarize_css(responses, by=("region", "dealer_id"), period="M")
    table = tables.css_table(summary, month=month, dealers=small_net.dealers,
                             level=settings_or(None).level)
    assert len(table) == small_net.dealers["dealer_id"].nunique()
    assert table["CSS"].is_monotonic_decreasing
    assert set(table["Dealer"]) == set(small_net.dealers["dealer_name"])
    assert {"vs region", "vs national", "Change vs previous month"} <= set(table)


def test_regional_report_takes_national_average_from_reference():
    visits = _visits()
    north = visits.loc[visits["region"] == "N"]
    alone = css.summarize_css(north).set_index(["dealer_id", "period"])
    full = css.summarize_css(visits).set_index(["dealer_id", "period"])
    with_ref = css.summarize_css(north, reference=visits).set_index(["dealer_id", "period"])
    # without the reference the "nation" is the region itself
    assert (alone["national_css"] == alone["region_css"]).all()
    pd.testing.assert_frame_equal(with_ref, full.loc[with_ref.index])
    with pytest.raises(KeyError, match=r"reference answers lack column\(s\) \['region'\]"):
        css.summarize_css(north, reference=visits.drop(columns="region"))
