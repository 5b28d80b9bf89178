import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import cases, keywords
from analysis.privacy import PHONE_MASK
from analysis.report import charts, tables

T0 = pd.Timestamp("2026-01-12 10:00")
NOW = pd.Timestamp("2026-01-20 10:00")
H = pd.Timedelta(hours=1)


def _responses(rows):
    return pd.DataFrame(rows, columns=["response_id", "dealer_id", "responded_at", "nps",
                                       "open_to_dealer", "comment"])


def _cases(rows):
    return pd.DataFrame(rows, columns=["case_id", "response_id", "dealer_id", "owner",
                                       "opened_at", "first_contact_at", "closed_at"])


@pytest.fixture
def boundary():
    """Hand-made red flags around the 72-hour boundary (``NOW`` is the snapshot)."""
    responses = _responses([
        ("R1", "D1", T0, 3, True, None),                        # contact at exactly 72 h
        ("R2", "D1", T0, 0, True, None),                        # contact at 72 h + 1 min
        ("R3", "D2", NOW - 71 * H, 6, False, None),             # open, 71 h old
        ("R4", "D2", NOW - 72 * H, 5, False, None),             # open, exactly 72 h old
        ("R5", "D2", NOW - 72 * H - pd.Timedelta(minutes=1), 4, True, None),  # open, overdue
        ("R6", "D1", T0, 7, True, None),                        # passive: not a red flag
        ("R7", "D3", T0, 2, True, None),                        # detractor without a case
        ("R8", "D3", T0, 1, True, None),                        # case routed to the importer
        ("R9", "D3", T0, 6, False, None),                       # two cases, earliest contact
        ("R10", "D3", NOW - 2 * H, 2, True, None),              # contact logged after NOW
        ("R11", "D3", NOW + H, 0, True, None),                  # after the snapshot
    ])
    case_rows = _cases([
        ("C1", "R1", "D1", "dealer", T0, T0 + 72 * H, pd.NaT),
        ("C2", "R2", "D1", "dealer", T0, T0 + 72 * H + pd.Timedelta(minutes=1), pd.NaT),
        ("C3", "R3", "D2", "importer", NOW - 71 * H, pd.NaT, pd.NaT),
        ("C4", "R4", "D2", "importer", NOW - 72 * H, pd.NaT, pd.NaT),
        ("C5", "R5", "D2", "dealer", NOW - 73 * H, pd.NaT, pd.NaT),
        ("C6", "R6", "D1", "dealer", T0, T0 + H, pd.NaT),
        ("C8", "R8", "D3", "importer", T0, T0 + 5 * H, pd.NaT),
        ("C9a", "R9", "D3", "importer", T0, T0 + 100 * H, pd.NaT),
        ("C9b", "R9", "D3", "importer", T0 + H, T0 + 10 * H, pd.NaT),
        ("C10", "R10", "D3", "dealer", NOW - 2 * H, NOW + H, pd.NaT),
    ])
    return responses, case_rows


def test_boundaries_of_the_72_hour_sla(boundary):
    flags = cases.red_flags(*boundary, now=NOW).set_index("response_id")
    assert list(flags.index) == ["R1", "R2", "R7", "R8", "R9", "R5", "R4", "R3", "R10"]
    assert flags.loc["R1", "status"] == "met"
    assert flags.loc["R1", "contact_delay_hours"] == pytest.approx(72.0)
    assert flags.loc["R2", "status"] == "breached"
    assert flags.loc["R3", "status"] == "open_within_sla"
    assert flags.loc["R4", "status"] == "open_within_sla"
    assert flags.loc["R4", "hours_open"] == pytest.approx(72.0)
    assert flags.loc["R5", "status"] == "open_overdue"
    assert flags.loc["R10", "status"] == "open_within_sla"  # the contact is in the future
    assert "R6" not in flags.index and "R11" not in flags.index
    # routing: open for dealer -> dealer; closed -> importer
    assert flags.loc[["R1", "R3", "R5"], "owner"].tolist() == ["dealer", "importer", "dealer"]


def test_detractor_without_a_case_is_a_finding(boundary):
    flags = cases.red_flags(*boundary, now=NOW).set_index("response_id")
    assert flags.loc["R7", "no_case"]
    assert flags.loc["R7", "status"] == "open_overdue"
    assert pd.isna(flags.loc["R7", "case_id"])
    assert flags["no_case"].sum() == 1


def test_misrouted_case_and_several_cases(boundary):
    flags = cases.red_flags(*boundary, now=NOW).set_index("response_id")
    assert flags.loc["R8", "misrouted"] and flags.loc["R8", "case_owner"] == "importer"
    assert flags.loc["R8", "owner"] == "dealer"
    assert not flags.loc[["R1", "R3", "R5", "R9"], "misrouted"].any()
    assert flags.loc["R9", "n_cases"] == 2
    assert flags.loc["R9", "case_id"] == "C9a"  # the first case opened
    assert flags.loc["R9", "contact_delay_hours"] == pytest.approx(10.0)
    assert flags.loc["R9", "status"] == "met"


def test_sla_hours_and_detractor_cut_off_are_options(boundary):
    flags = cases.red_flags(*boundary, now=NOW, sla_hours=24).set_index("response_id")
    assert flags.loc["R1", "status"] == "breached"
    assert flags.loc["R3", "status"] == "open_overdue"
    strict = cases.red_flags(*boundary, now=NOW, detractor_max=5)
    assert not strict["nps"].gt(5).any()


def test_default_now_is_the_latest_timestamp(boundary):
    responses, case_rows = boundary
    flags = cases.red_flags(responses, case_rows)
    # the latest stamp is R11's answer (NOW + 1 h); R10's contact at NOW + 1 h counts too
    assert "R11" in set(flags["response_id"])
    assert flags.set_index("response_id").loc["R10", "status"] == "met"


def test_missing_columns_say_what_to_do(boundary):
    responses, case_rows = boundary
    with pytest.raises(cases.OperationsDataError, match=r"open_to_dealer.*analysis.store.load"):
        cases.red_flags(responses.drop(columns="open_to_dealer"), case_rows, now=NOW)


def test_sla_summary_counts_and_wilson_interval(boundary):
    flags = cases.red_flags(*boundary, now=NOW)
    by_owner = cases.sla_summary(flags, by=("owner",)).set_index("owner")
    dealer = by_owner.loc["dealer"]
    # dealer flags: R1 met, R2 breached, R5 overdue, R7 overdue (no case), R8 met, R10 open
    assert (dealer["flags"], dealer["met"], dealer["breached"], dealer["open_overdue"],
            dealer["open_within_sla"], dealer["no_case"]) == (6, 2, 1, 2, 1, 1)
    assert dealer["decided"] == 5
    assert dealer["compliance"] == pytest.approx(0.4)
    whole = cases.sla_summary(flags, by=())
    assert len(whole) == 1 and whole["flags"].iloc[0] == len(flags)


def test_wilson_interval_published_value():
    # Wilson 95 % interval of 8 successes in 10 trials: 0.4902 - 0.9433 (Newcombe 1998)
    low, high = cases.wilson_interval([8, 0], [10, 0])
    assert low[0] == pytest.approx(0.4902, abs=1e-4)
    assert high[0] == pytest.approx(0.9433, abs=1e-4)
    assert np.isnan(low[1]) and np.isnan(high[1])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(0, 200 * 60)), min_size=1, max_size=30),
       st.integers(0, 10**6))
def test_status_follows_the_clock_and_rows_can_be_shuffled(delays, seed):
    n = len(delays)
    ids = [f"R{i}" for i in range(n)]
    start = NOW - pd.to_timedelta(np.arange(n) * 7, unit="h")
    responses = _responses([(r, "D1", t, 0, True, None) for r, t in zip(ids, start)])
    contact = [t + pd.Timedelta(minutes=d) if d is not None else pd.NaT
               for t, d in zip(start, delays)]
    case_rows = _cases([(f"C{i}", r, "D1", "dealer", t, c, pd.NaT)
                        for i, (r, t, c) in enumerate(zip(ids, start, contact))])
    flags = cases.red_flags(responses, case_rows, now=NOW).set_index("response_id")
    for r, t, c in zip(ids, start, contact):
        seen = pd.notna(c) and c <= NOW
        if seen:
            expected = "met" if c - t <= 72 * H else "breached"
        else:
            expected = "open_within_sla" if NOW - t <= 72 * H else "open_overdue"
        assert flags.loc[r, "status"] == expected
    rng = np.random.default_rng(seed)
    shuffled = cases.red_flags(responses.sample(frac=1, random_state=rng),
                               case_rows.sample(frac=1, random_state=rng), now=NOW)
    pd.testing.assert_frame_equal(shuffled.set_index("response_id"), flags)
    summary = cases.sla_summary(flags.reset_index(), by=())
    row = summary.iloc[0]
    assert row[list(cases.STATUSES)].sum() == n
    if row["decided"]:
        assert 0 <= row["compliance_low"] <= row["compliance"] <= row["compliance_high"] <= 1


# --- the demo network ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_flags(small_net):
    return cases.red_flags(small_net.responses, small_net.cases, now=small_net.truth["as_of"],
                           dealers=small_net.dealers)


def test_demo_every_detractor_is_a_flag_and_process_failures_are_found(small_net, demo_flags):
    detractors = small_net.responses.loc[small_net.responses["nps"] <= 6]
    assert len(demo_flags) == len(detractors)
    truth = small_net.truth
    found_lost = demo_flags.loc[demo_flags["no_case"], "response_id"]
    assert sorted(found_lost) == truth["red_flags_without_case"]
    found_misrouted = demo_flags.loc[demo_flags["misrouted"], "case_id"]
    assert sorted(found_misrouted) == truth["misrouted_case_ids"]
    assert {"region", "dealer_name"} <= set(demo_flags.columns)


def test_demo_slow_dealers_have_the_lowest_compliance(small_net, demo_flags):
    slow = set(small_net.truth["slow_sla_dealers"])
    summary = cases.sla_summary(demo_flags, by=("dealer_id",)).sort_values("compliance")
    assert set(summary["dealer_id"].head(len(slow))) == slow
    others = summary.loc[~summary["dealer_id"].isin(slow)]
    assert summary.loc[summary["dealer_id"].isin(slow), "compliance"].max() < \
        others["compliance"].min()


def test_sla_report_and_tables(small_net):
    report = cases.sla_report(small_net.responses, small_net.cases, dealers=small_net.dealers,
                              now=small_net.truth["as_of"])
    assert report.by_dealer["flags"].sum() == len(report.flags)
    assert set(report.by_owner["owner"]) == {"dealer", "importer"}
    assert "Compliance" in report.summary()
    table = tables.sla_table(report.by_dealer)
    assert table["Compliance, %"].is_monotonic_increasing
    assert {"Dealer", "Red flags", "95% interval, %: low", "95% interval, %: high"} <= set(
        table.columns)
    ax = charts.sla_compliance(report.by_dealer)
    assert len(ax.get_yticklabels()) == len(report.by_dealer)


def test_overdue_flags_mask_the_comment():
    responses = _responses([("R1", "D1", T0, 2, True, "Перезвоните 89161234567")])
    flags = cases.red_flags(responses, _cases([]), now=NOW)
    out = tables.overdue_table(flags, responses)
    assert out["Comment"].tolist() == [f"Перезвоните {PHONE_MASK}"]
    assert out["No case opened"].tolist() == ["yes"]


# --- golden stars and the keyword engine -----------------------------------------------------


@pytest.mark.parametrize("comment, star", [
    ("Огромное спасибо мастеру Алексею, всё сделал быстро", True),
    ("Менеджер Ольга молодец, рекомендую", True),
    ("Лучший дилер в городе!", True),
    ("Благодарю Марине за помощь", True),
    ("Спасибо, Алексей!", True),
    ("many thanks to Olga, great job", True),
    ("Sergey was a true professional, best dealer in town", True),
    ("Спасибо", False),
    ("Спасибо Вам, всё отлично", False),
    ("Всё отлично", False),
    ("Fine, thanks", False),
    ("Быстро и качественно", False),
    ("Thank you All", False),
])
def test_golden_star_rule_examples(comment, star):
    assert (cases.golden_star_rule(pd.Series([comment])).iloc[0] != "") is star


def test_golden_stars_only_promoters_and_quotes_masked():
    responses = _responses([
        ("R1", "D1", T0, 10, True, "Спасибо мастеру Ивану! Мой номер +7 916 123-45-67"),
        ("R2", "D1", T0, 8, True, "Спасибо мастеру Ивану"),   # passive: not a star
        ("R3", "D1", T0, 9, True, None),
    ])
    stars = cases.golden_stars(responses)
    assert stars["response_id"].tolist() == ["R1"]
    assert stars["quote"].iloc[0] == f"Спасибо мастеру Ивану! Мой номер {PHONE_MASK}"
    assert stars["rule"].iloc[0] == "thanks+staff"


def test_demo_golden_stars_precision_and_recall(small_net):
    stars = cases.golden_stars(small_net.responses, dealers=small_net.dealers)
    truth = set(small_net.truth["golden_star_response_ids"])
    found = set(stars["response_id"])
    assert len(found & truth) / len(found) >= 0.9
    assert len(found & truth) / len(truth) >= 0.9
    table = tables.golden_star_table(stars, per_dealer=2)
    assert table.groupby("Dealer").size().max() <= 2
    assert list(table.columns) == ["Region", "Dealer", "Dealer ID", "Date", "Score", "Quote"]


def test_keyword_engine_tolerates_typos_but_not_other_words():
    concepts = {"poor": ["некачеств", "некачествен", "poor"], "repair": ["ремонт", "repair"],
                "left": ["остал"]}
    texts = pd.Series(["Некачестенно отремонтировали", "некачественый ремонт",
                       "после ремона проблема осталась", "opor quality repair",
                       "оставил машину на ремонт", "качественно и быстро", None],
                      index=list("abcdefg"))
    hits = keywords.concept_hits(texts, concepts)
    assert hits.index.tolist() == list("abcdefg")
    assert hits["poor"].tolist() == [True, True, False, False, False, False, False]
    assert hits["repair"].tolist() == [False, True, True, True, True, False, False]
    assert hits["left"].tolist() == [False, False, True, False, False, False, False]
    # "poor" has four letters: typos are tolerated only when stems that short are allowed one
    short = keywords.concept_hits(texts, concepts, fuzzy_min_length=4)
    assert short.loc["d", "poor"]
    assert not short.loc["f", "poor"]


def test_rules_with_and_without_proximity():
    concepts = {"poor": ["poor", "плох"], "repair": ["repair", "ремонт"]}
    texts = pd.Series(["poor quality repair", "the repair took ages, they were quite poor",
                       "плохой ремонт", "ремонт"])
    near = keywords.rule_hits(texts, concepts, [{"all": ["poor", "repair"], "within": 2}])
    assert near.tolist() == ["poor+repair~2", "", "poor+repair~2", ""]
    anywhere = keywords.rule_hits(texts, concepts, [["poor", "repair"], ["repair"]])
    assert anywhere.tolist() == ["poor+repair", "poor+repair", "poor+repair", "repair"]
    with pytest.raises(cases.OperationsDataError, match="unknown concept"):
        keywords.rule_hits(texts, concepts, [["poor", "price"]])


def test_compliance_counts_only_closed_windows():
    # issue 15: a flag met inside a window that is still open has no outcome for the rate yet,
    # just as a flag still open inside it
    responses = _responses([
        ("A", "D1", NOW - 10 * H, 2, True, None),    # met 5 h in, window open until NOW + 62 h
        ("B", "D1", NOW - 100 * H, 3, True, None),   # met, window closed
        ("C", "D1", NOW - 100 * H, 4, True, None),   # never contacted: overdue
        ("E", "D1", NOW - 5 * H, 1, True, None),     # open within the SLA
    ])
    case_rows = _cases([
        ("CA", "A", "D1", "dealer", NOW - 10 * H, NOW - 5 * H, pd.NaT),
        ("CB", "B", "D1", "dealer", NOW - 100 * H, NOW - 90 * H, pd.NaT),
        ("CC", "C", "D1", "dealer", NOW - 100 * H, pd.NaT, pd.NaT),
        ("CE", "E", "D1", "dealer", NOW - 5 * H, pd.NaT, pd.NaT),
    ])
    flags = cases.red_flags(responses, case_rows, now=NOW).set_index("response_id")
    assert flags["window_closed"].to_dict() == {"A": False, "B": True, "C": True, "E": False}
    row = cases.sla_summary(flags.reset_index(), by=()).iloc[0]
    assert (row["met"], row["decided"], row["met_in_closed"]) == (2, 2, 1)
    assert row["compliance"] == pytest.approx(0.5)
