import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analysis.config import load_params
from analysis.synthetic import TABLES, DemoNetwork, make_network

DRIVERS = list(load_params("drivers")["drivers"])


def test_same_seed_same_network_other_seed_other_network():
    a = make_network(n_dealers=8, n_regions=2, months=2, responses_per_month=300, seed=5)
    b = make_network(n_dealers=8, n_regions=2, months=2, responses_per_month=300, seed=5)
    c = make_network(n_dealers=8, n_regions=2, months=2, responses_per_month=300, seed=6)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.truth == b.truth
    assert not a.responses["nps"].equals(c.responses["nps"])


def test_planted_driver_weights_recoverable_by_ols():
    net = make_network(n_dealers=60, months=6, responses_per_month=5000, seed=11)
    complete = net.responses.dropna(subset=DRIVERS)
    fit = sm.OLS(complete["nps"], sm.add_constant(complete[DRIVERS])).fit()
    for driver, weight in net.truth["driver_weights"].items():
        assert fit.params[driver] == pytest.approx(weight, abs=0.05), driver


def test_tables_have_the_promised_shape(small_net):
    r = small_net.responses
    assert set(r["touchpoint"]) <= {"sales_new", "sales_used", "service", "roadside", "hotline"}
    assert r["nps"].between(0, 10).all()
    ratings = r[DRIVERS].to_numpy()
    assert np.nanmin(ratings) >= 1 and np.nanmax(ratings) <= 10
    assert 0.01 < r[DRIVERS].isna().mean().mean() < 0.1
    assert r["response_id"].is_unique
    assert set(r["dealer_id"]) <= set(small_net.dealers["dealer_id"])
    # the network looks like a real one: NPS between +10 and +60, all three groups present
    share = r["nps"].pipe(lambda s: ((s >= 9).mean(), (s <= 6).mean()))
    assert 10 < 100 * (share[0] - share[1]) < 60 and share[1] > 0.08
    inv = small_net.invitations
    counts = (r.assign(month=r["responded_at"].dt.strftime("%Y-%m"))
              .groupby(["dealer_id", "touchpoint", "month"]).size().rename("responses"))
    joined = inv.set_index(["dealer_id", "touchpoint", "month"]).join(counts).fillna(0)
    assert (joined["invited"] >= joined["responses"]).all()


def test_comments_carry_the_truth(small_net):
    r = small_net.responses.set_index("response_id")
    causes = small_net.truth["response_cause"]
    assert causes and all(r.loc[rid, "nps"] <= 8 for rid in causes)
    assert all(isinstance(r.loc[rid, "comment"], str) for rid in causes)
    commented_low = r.index[(r["nps"] <= 8) & r["comment"].notna()]
    assert set(commented_low) == set(causes)
    comments = r["comment"].dropna()
    cyrillic = comments.str.contains("[а-яА-Я]", regex=True).mean()
    assert 0.7 < cyrillic < 0.95
    assert comments.str.contains(r"@|\+7|\b8\s?\(?9\d\d", regex=True).any()
    golden = small_net.truth["golden_star_response_ids"]
    assert golden and (r.loc[golden, "nps"] >= 9).all()


def test_weak_dealers_are_weak_on_their_driver():
    net = make_network(n_dealers=30, months=4, responses_per_month=3000, seed=2)
    means = net.responses.groupby("dealer_id")[DRIVERS].mean()
    weak = net.truth["dealer_weak_driver"]
    for dealer, driver in weak.items():
        peers = [d for d in means.index if weak.get(d) != driver]
        assert means.loc[dealer, driver] < means.loc[peers, driver].min(), (dealer, driver)


def test_one_case_per_detractor_and_contacts_after_the_answer(small_net):
    r, cases = small_net.responses, small_net.cases
    lost = set(small_net.truth["red_flags_without_case"])
    assert lost and lost <= set(r.loc[r["nps"] <= 6, "response_id"])
    assert set(cases["response_id"]) == set(r.loc[r["nps"] <= 6, "response_id"]) - lost
    contacted = cases.dropna(subset=["first_contact_at"])
    assert (contacted["first_contact_at"] > contacted["opened_at"]).all()
    delay_h = (contacted["first_contact_at"] - contacted["opened_at"]).dt.total_seconds() / 3600
    assert 0.02 < (delay_h > 72).mean() < 0.3
    owners = cases.merge(r[["response_id", "open_to_dealer"]], on="response_id")
    wrong = owners.loc[(owners["owner"] == "dealer") != owners["open_to_dealer"], "case_id"]
    assert sorted(wrong) == small_net.truth["misrouted_case_ids"] and len(wrong) > 0


def test_planted_repeat_repairs_are_same_vin_same_fault_within_window(small_net):
    ro = small_net.repair_orders.set_index("ro_id")
    window = small_net.truth["repeat_window_days"]
    pairs = small_net.truth["repeat_repair_pairs"]
    assert len(pairs) == len(small_net.truth["repeat_repair_ro_ids"]) > 10
    for pair in pairs:
        first, again = ro.loc[pair["first_ro_id"]], ro.loc[pair["repeat_ro_id"]]
        assert first["vin"] == again["vin"] and first["fault_code"] == again["fault_code"]
        days = (again["opened_at"].normalize() - first["closed_at"].normalize()).days
        assert 0 <= days <= window
        assert again["opened_at"] > first["closed_at"]
    assert ro.index.is_unique


def test_write_and_read_round_trip(tmp_path, small_net):
    small_net.write(tmp_path)
    back = DemoNetwork.read(tmp_path)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(small_net, name),
                                      check_dtype=False)
    assert back.truth == small_net.truth
    assert np.isin(["truth.json", "responses.parquet"], [p.name for p in tmp_path.iterdir()]).all()


def test_closing_the_loop_tables_and_truth(small_net):
    from analysis import schemas

    acts, contacts, truth = small_net.actions, small_net.contacts, small_net.truth
    schemas.validate("actions", acts, dealers=small_net.dealers)
    schemas.validate("contacts", contacts, dealers=small_net.dealers)
    assert set(truth["action_effects"]) == set(acts["action_id"])
    kinds = truth["action_kinds"]
    assert set(kinds.values()) <= {"works", "no_effect", "not_done"} and "works" in kinds.values()
    for action_id, effect in truth["action_effects"].items():
        assert (effect != 0) == (kinds[action_id] == "works"), action_id
    done = acts.set_index("action_id")["closed_at"].notna()
    assert all(done[a] == (k != "not_done") for a, k in kinds.items())
    # a weak dealer that acts, acts on its weak driver
    weak = truth["dealer_weak_driver"]
    for dealer, targets in acts.groupby("dealer_id")["target"]:
        if dealer in weak:
            assert weak[dealer] in set(targets)
    assert truth["return_rate_by_category"] == {"promoter": 0.75, "passive": 0.6,
                                                "detractor": 0.4}
    assert set(contacts["channel"]) == set(truth["funnel_rates"])
    assert (contacts["reached"] <= contacts["attempted"]).all()


def test_actions_move_ratings_not_who_answered_when():
    params = {**load_params("network")["demo"], "action_dealer_share": 0.0}
    quiet = make_network(n_dealers=8, n_regions=2, months=2, responses_per_month=300, seed=5,
                         params=params)
    acting = make_network(n_dealers=8, n_regions=2, months=2, responses_per_month=300, seed=5)
    # actions move ratings (and scores) only; the answers' ids, dealers and times are the same
    cols = ["response_id", "dealer_id", "touchpoint", "responded_at", "vin"]
    pd.testing.assert_frame_equal(quiet.responses[cols], acting.responses[cols])
    pd.testing.assert_frame_equal(quiet.invitations, acting.invitations)
    assert quiet.actions.empty and not acting.actions.empty


def test_team_labels_a_share_of_cases_with_some_noise():
    net = make_network(n_dealers=12, n_regions=2, months=3, responses_per_month=2000, seed=4)
    cases, truth = net.cases, net.truth
    labelled = cases.dropna(subset=["root_cause"])
    true = truth["case_root_cause"]
    assert set(labelled["case_id"]) == set(true)
    # only cases whose answer has a comment (and so a true cause) carry a label
    cause_of = cases["response_id"].map(truth["response_cause"])
    assert cause_of[cases["root_cause"].notna()].notna().all()
    share = len(labelled) / cause_of.notna().sum()
    assert 0.22 < share < 0.38  # team_label_share 0.3
    wrong = labelled.loc[labelled["root_cause"] != labelled["case_id"].map(true), "case_id"]
    assert sorted(wrong) == truth["mislabelled_case_ids"]
    assert 0.03 < len(wrong) / len(labelled) < 0.15  # team_label_noise 0.08
    assert set(labelled["root_cause"]) <= set(truth["response_cause"].values())


def test_actions_on_root_causes_change_only_the_complaints_they_remove():
    params = {**load_params("network")["demo"], "cause_actions_per_dealer": [0, 0]}
    size = dict(n_dealers=10, n_regions=2, months=10, responses_per_month=1200, seed=2)
    without = make_network(**size, params=params)
    net = make_network(**size)
    known = net.actions["action_id"].isin(without.actions["action_id"])
    on_causes = net.actions.loc[~known]
    assert len(on_causes) >= 3 and not on_causes["target"].isin(DRIVERS).any()
    # their randomness is a stream of its own: every other table and action is as without them
    pd.testing.assert_frame_equal(net.actions.loc[known].reset_index(drop=True), without.actions)
    for name in ("dealers", "invitations", "repair_orders", "incidents", "contacts"):
        pd.testing.assert_frame_equal(getattr(net, name), getattr(without, name))
    pd.testing.assert_frame_equal(net.responses.drop(columns="comment"),
                                  without.responses.drop(columns="comment"))
    pd.testing.assert_frame_equal(net.cases.drop(columns="root_cause"),
                                  without.cases.drop(columns="root_cause"))
    # a working action removes complaints naming its cause, at its dealer, after it closed
    changed = net.responses["comment"].fillna("") != without.responses["comment"].fillna("")
    assert changed.any() and net.responses.loc[changed, "comment"].isna().all()
    removed = without.responses.loc[changed].assign(
        cause=lambda d: d["response_id"].map(without.truth["response_cause"]))
    kinds = net.truth["action_kinds"]
    works = on_causes.loc[on_causes["action_id"].map(kinds) == "works"]
    for row in removed.itertuples():
        assert ((works["dealer_id"] == row.dealer_id) & (works["target"] == row.cause)
                & (works["closed_at"] <= row.responded_at)).any(), row.response_id
    assert not set(removed["response_id"]) & set(net.truth["response_cause"])
    # the planted effect: the change of the cause's share among the dealer's answers in the
    # window after the action closed (0 for the others)
    window = pd.DateOffset(months=load_params("loop")["actions"]["window_months"])
    for act in on_causes.itertuples():
        effect = net.truth["action_effects"][act.action_id]
        if kinds[act.action_id] != "works":
            assert effect == 0
            continue
        r = without.responses
        after = ((r["dealer_id"] == act.dealer_id) & (r["responded_at"] >= act.closed_at)
                 & (r["responded_at"] < act.closed_at + window))
        gone = after & changed & (r["response_id"].map(without.truth["response_cause"])
                                  == act.target)
        assert effect == pytest.approx(-gone.sum() / after.sum(), abs=1e-6)


def test_planted_cause_growth_changes_which_cause_a_comment_names_not_the_answers():
    """issue 25 item 6: a cause planted to grow from a month on. Who answers, when and how
    (scores, ratings) and who comments stay as without it; the texts differ, and so does what
    is drawn after them (contacts, cases): another draw of the same network."""
    demo = load_params("network")["demo"]
    size = dict(n_dealers=12, n_regions=2, months=3, responses_per_month=2500, seed=4)
    # no actions: those on causes remove complaints of the causes each dealer names most
    base = {**demo, "action_dealer_share": 0.0}
    grown = {**base, "cause_growth": [{"cause": "price", "factor": 2.0, "start": -1}]}
    without, net = make_network(**size, params=base), make_network(**size, params=grown)
    pd.testing.assert_frame_equal(net.dealers, without.dealers)
    pd.testing.assert_frame_equal(net.invitations, without.invitations)
    kept = ["response_id", "dealer_id", "touchpoint", "responded_at", "nps", *DRIVERS]
    pd.testing.assert_frame_equal(net.responses[kept], without.responses[kept])
    assert "cause_growth" not in without.truth
    assert net.truth["cause_growth"] == [{"cause": "price", "factor": 2.0,
                                          "start_month": demo["end_month"]}]
    # the same answers comment; after the start price is named about twice as often
    assert set(net.truth["response_cause"]) == set(without.truth["response_cause"])
    month = net.responses.set_index("response_id")["responded_at"].dt.to_period("M").astype(str)

    def share(truth, last):
        causes = pd.Series(truth["response_cause"])
        mine = causes.loc[(month.reindex(causes.index) == demo["end_month"]) == last]
        return (mine == "price").mean()

    assert share(net.truth, True) == pytest.approx(2 * share(without.truth, True), rel=0.3)
    assert share(net.truth, False) == share(without.truth, False)


def test_planted_cause_costs_are_what_the_true_labels_measure():
    """The expected contributions from the planted chances agree with the contributions the
    true labels give (cause_impact), within the labels' sampling noise."""
    from analysis import rootcause
    from analysis.synthetic import expected_cause_costs, planted_cause_costs

    params = {**load_params("network")["demo"], "action_dealer_share": 0.0,
              "cause_growth": [{"cause": "booking", "factor": 1.5, "start": -1}]}
    net = make_network(n_dealers=20, n_regions=2, months=2, responses_per_month=4000, seed=9,
                       params=params)
    planted = planted_cause_costs(net, params=params)
    month = net.responses["responded_at"].dt.to_period("M").astype(str)
    labels = pd.Series(net.truth["response_cause"])
    for m, part in planted.groupby("month"):
        measured = rootcause.cause_impact(net.responses.loc[month == m], labels, n_boot=200,
                                          random_state=0).set_index("cause")
        both = part.set_index("cause").join(measured[["contribution", "contribution_low",
                                                      "contribution_high"]].add_suffix("_lab"))
        half = (both["contribution_high_lab"] - both["contribution_low_lab"]) / 2
        assert (abs(both["contribution"] - both["contribution_lab"]) < 1.5 * half).mean() >= 0.9
        # they add up to the month's gap, as the contributions do
        assert part["contribution"].sum() == pytest.approx(measured["contribution"].sum(),
                                                           abs=1e-9)
    # without the comments drawn (their chance instead) it is the cost in the population:
    # close to the month's own, free of which answers happened to comment
    population = expected_cause_costs(net.responses, net.truth["dealer_weak_driver"],
                                      params=params)
    both = planted.merge(population, on=["month", "cause"], suffixes=("", "_population"))
    assert (both["contribution"] - both["contribution_population"]).abs().max() < 0.6
    last = planted.loc[planted["month"] == planted["month"].max()].set_index("cause")
    first = planted.loc[planted["month"] == planted["month"].min()].set_index("cause")
    assert last.loc["booking", "contribution"] < first.loc["booking", "contribution"] - 1.5
