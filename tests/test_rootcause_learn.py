"""RootCauseClassifier, suggestions, the review queue, new causes and agreement (issue 18).

Planted truth: the demo network's complaint comments (``rootcause.demo_comments``), of which a
few per cause carry their cause as the team's label. Fits take a few seconds: one model is
fitted per module and shared.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline, make_union

from analysis import rootcause as rc
from analysis.synthetic import demo_comments

HIDDEN = ("booking", "cleanliness")  # causes nobody labelled, for propose_causes


def _ece(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    return float(sum((which == b).mean() * abs(confidence[which == b].mean()
                                                - correct[which == b].mean())
                     for b in range(bins) if (which == b).any()))


def _labels(data: pd.DataFrame, per_cause: int, *, skip=(), seed=0) -> pd.Series:
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.permutation(g.index.to_numpy())[:per_cause]
                             for cause, g in data.groupby("cause") if cause not in skip])
    return data["cause"].where(data.index.isin(chosen), None)


@pytest.fixture(scope="module")
def demo():
    return demo_comments(1500, random_state=3)


@pytest.fixture(scope="module")
def fitted(demo):
    labels = _labels(demo, 20)
    return rc.RootCauseClassifier.from_params(random_state=0).fit(demo["text"], labels), labels


@pytest.fixture(scope="module")
def partial(demo):
    """Fitted on labels of all causes but HIDDEN."""
    labels = _labels(demo, 20, skip=HIDDEN)
    return (rc.RootCauseClassifier.from_params(calibrate=False, random_state=0).fit(demo["text"], labels),
            labels)


def test_recovers_planted_causes_and_beats_the_plain_baseline(demo, fitted):
    model, labels = fitted
    rest = labels.isna()
    accuracy = (model.predict(demo.loc[rest, "text"]) == demo.loc[rest, "cause"]).mean()
    assert accuracy >= 0.95
    # with 5 labels per cause: the plain supervised baseline of the issue falls well behind
    few = _labels(demo, 5, seed=1)
    ours = rc.RootCauseClassifier.from_params(calibrate=False, random_state=0).fit(demo["text"], few)
    plain = make_pipeline(make_union(TfidfVectorizer(analyzer="word", ngram_range=(1, 2)),
                                     TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5))),
                          LogisticRegression(max_iter=2000))
    plain.fit(demo.loc[few.notna(), "text"], few.dropna())
    rest = few.isna()
    ours_acc = (ours.predict(demo.loc[rest, "text"]) == demo.loc[rest, "cause"]).mean()
    plain_acc = (plain.predict(demo.loc[rest, "text"]) == demo.loc[rest, "cause"]).mean()
    assert ours_acc >= plain_acc + 0.05


def test_probabilities_are_calibrated(demo, fitted):
    model, labels = fitted
    rest = labels.isna()
    prob = model.predict_proba(demo.loc[rest, "text"])
    assert prob.shape == (rest.sum(), 11)
    np.testing.assert_allclose(prob.sum(1), 1.0)
    assert list(model.classes_) == sorted(demo["cause"].unique())
    correct = model.classes_[prob.argmax(1)] == demo.loc[rest, "cause"].to_numpy()
    assert _ece(prob.max(1), correct) <= 0.05
    np.testing.assert_allclose(model.predict_confidence(demo.loc[rest, "text"][:5]),
                               prob[:5].max(1))
    # an empty comment gets the prior, not an error
    assert model.predict_proba(["", None]).shape == (2, 11)


def test_top_label_map_recovers_a_planted_slope(fitted):
    """Step 5 of the classifier on planted truth: held-out predictions whose top cause is right
    with probability sigmoid(0.5 logit(confidence)) - the flattened reliability curve that
    self-training leaves (20 Newsgroups at 5 labels per cause: b about 0.6). The map finds the
    slope and brings ECE from about 0.08 below 0.03, keeping the sums and the ranking; on
    predictions that are calibrated already it finds nothing to flatten."""
    model, _ = fitted
    rng = np.random.default_rng(0)
    k, n = 8, 4000
    prob = rc.softmax(rng.normal(size=(n, k)) * rng.uniform(0.5, 4.0, size=(n, 1)))
    top = prob.argmax(1)
    other = (top + rng.integers(1, k, size=n)) % k
    draw = rng.random(n)

    def truth(b):
        return np.where(draw < 1.0 / (1.0 + np.exp(-b * rc.logit(prob.max(1)))), top, other)

    right = truth(0.5) == top
    assert _ece(prob.max(1), right) > 0.06
    slope = model._fit_slope(prob, truth(0.5), np.ones(n))
    assert 0.4 <= slope <= 0.6
    mapped = copy.copy(model)
    mapped.temperature_, mapped.confidence_slope_ = 1.0, slope
    out = mapped._calibrated(np.log(prob))
    np.testing.assert_allclose(out.sum(1), 1.0)
    np.testing.assert_array_equal(out.argmax(1), top)
    assert _ece(out.max(1), right) <= 0.03
    assert model._fit_slope(prob, truth(1.0), np.ones(n)) >= 0.9
    # the classifier fitted on the demo's planted causes has nothing to flatten
    assert model.confidence_slope_ <= 1.0


def test_clone_and_get_params():
    model = rc.RootCauseClassifier(seeds={"a": ["x"]}, calibrate=False, random_state=7)
    params = model.get_params()
    assert {k: params[k] for k in ("seeds", "calibrate", "language", "random_state")} == {
        "seeds": {"a": ["x"]}, "calibrate": False, "language": "auto", "random_state": 7}
    assert "params" not in params  # the settings are parameters; no YAML is read in fit
    twin = clone(model)
    assert twin.get_params() == params and not hasattr(twin, "classes_")
    with pytest.raises(rc.RootCauseError, match="not fitted"):
        twin.predict(["текст"])


def test_missing_labels_in_any_form(demo):
    texts = demo["text"].iloc[:300].tolist()
    causes = demo["cause"].iloc[:300].tolist()
    labels = [c if i % 10 == 0 else (None, np.nan, "", pd.NA)[i % 4]
              for i, c in enumerate(causes)]
    model = rc.RootCauseClassifier.from_params(calibrate=False, random_state=0).fit(texts, labels)
    assert model.n_labelled_ == 30 and model.n_weak_ == 0
    with pytest.raises(rc.RootCauseError, match="entries for"):
        model.fit(texts, labels[:-1])
    with pytest.raises(rc.RootCauseError, match="at least two causes"):
        rc.RootCauseClassifier.from_params().fit(texts, ["price"] + [None] * 299)


def test_seeds_are_weak_labels(demo):
    model = rc.RootCauseClassifier.from_params(seeds=rc.load_seeds(), calibrate=False,
                                               random_state=0).fit(demo["text"])
    assert model.n_labelled_ == 0 and model.n_weak_ > len(demo) / 3
    assert (model.predict(demo["text"]) == demo["cause"]).mean() >= 0.8


def test_suggest_and_cause_shares(demo, fitted):
    model, labels = fitted
    out = rc.suggest(model, demo["text"], labels, threshold=0.9)
    assert out.index.equals(demo.index)
    team = labels.notna()
    assert (out.loc[team, "source"] == "team").all() and (out.loc[~team, "source"] == "model").all()
    assert (out.loc[team, "cause"] == labels[team]).all()
    assert (out["needs_review"] == (~team & (out["confidence"] < 0.9))).all()
    shares = rc.cause_shares(out)
    assert shares["count"].sum() == len(demo) and np.isclose(shares["share"].sum(), 1.0)
    assert set(shares["source"]) == {"team + model"}
    assert (shares["team"] == 20).all()
    hand = pd.DataFrame({"cause": ["a", "a", "b", None], "source": ["team", "model", "model", None]})
    table = rc.cause_shares(hand).set_index("cause")
    assert table.loc["a", "source"] == "team + model" and table.loc["b", "source"] == "model"
    assert table.loc["a", "count"] == 2 and np.isclose(table.loc["b", "share"], 1 / 3)


def test_review_queue_order(demo, partial):
    model, labels = partial
    queue = rc.review_queue(model, demo["text"], labels, size=12)
    assert list(queue["rank"]) == list(range(1, len(queue) + 1)) and len(queue) == 12
    # greedy by (discounted) informativeness: non-increasing scores
    assert (np.diff(queue["score"].to_numpy()) <= 1e-12).all()
    assert (queue["confidence"] < 0.8).all()
    assert labels.loc[queue["index"]].isna().all()
    # the first is the most informative candidate before any diversity discount
    first = queue.iloc[0]
    assert np.isclose(first["score"], first["uncertainty"] * (1 + np.log(first["comments"])))
    # comments of the causes nobody labelled are what the queue asks about
    assert demo.loc[queue["index"], "cause"].isin(HIDDEN).mean() >= 0.5
    assert queue["text"].is_unique


def test_propose_causes_finds_the_unlabelled_causes(demo, partial):
    model, labels = partial
    proposed = rc.propose_causes(model, demo["text"], labels, random_state=0)
    assert list(proposed.columns) == ["cluster", "size", "share", "label", "quotes"]
    assert len(proposed) >= 1 and (proposed["size"] >= 20).all()
    words = " ".join(proposed["label"])
    assert "запис" in words or "грязн" in words


def test_agreement_with_the_team(demo):
    data = demo.iloc[:600]
    labels = _labels(data, 12, seed=2)
    result = rc.agreement(data["text"], labels, folds=3, random_state=0)
    overall = result.overall.set_index("metric")
    assert overall.loc["accuracy", "n"] == labels.notna().sum()
    assert 0.85 <= overall.loc["accuracy", "value"] <= 1.0
    assert overall.loc["accuracy", "low"] <= overall.loc["accuracy", "value"] \
        <= overall.loc["accuracy", "high"]
    assert overall.loc["macro_f1", "low"] <= overall.loc["macro_f1", "high"]
    assert set(result.per_cause["cause"]) == set(labels.dropna())
    assert (result.per_cause["recall_low"] <= result.per_cause["recall"]).all()
    assert "agrees with the team on" in result.summary()
    assert result.predictions.index.equals(labels.dropna().index)


def test_labelled_comments_joins_case_causes():
    responses = pd.DataFrame({"response_id": ["r1", "r2", "r3", "r4"], "nps": [3, 9, 7, 5],
                              "comment": ["долго", "отлично", "грязно", None]})
    cases = pd.DataFrame({"response_id": ["r1", "r3"], "root_cause": ["wanted_faster", None]})
    out = rc.labelled_comments(responses, cases)
    assert list(out["response_id"]) == ["r1", "r3"]
    assert out["root_cause"].tolist() == ["wanted_faster", None]
    assert rc.labelled_comments(responses)["root_cause"].isna().all()


def test_ingest_quarantines_an_unknown_root_cause(tmp_path):
    from analysis.ingest import read_export

    path = tmp_path / "cases.csv"
    path.write_text(
        "Номер кейса;ID ответа;Код дилера;Ответственный;Дата открытия;Первый контакт;"
        "Дата закрытия;Корневая причина;Комментарий к причине\n"
        "C1;R1;D001;дилер;2026-10-01 10:00;;;parts_logistics;ждали деталь со склада\n"
        "C2;R2;D001;дилер;2026-10-01 11:00;;;погода;\n"
        "C3;R3;D001;дилер;2026-10-01 12:00;;;;\n", encoding="utf-8")
    result = read_export(path, table="cases")
    assert {"root_cause", "root_cause_note"} <= set(result.columns.values())
    accepted = result.accepted.set_index("case_id")
    assert accepted.loc["C1", "root_cause"] == "parts_logistics"
    assert accepted.loc["C1", "root_cause_note"] == "ждали деталь со склада"
    assert pd.isna(accepted.loc["C3", "root_cause"])
    assert len(result.quarantined) == 1 and "C2" in result.quarantined.to_numpy().ravel()
    assert set(accepted.index) == {"C1", "C3"}
    reason = result.reasons.set_index("column").loc["root_cause", "reason"]
    assert reason.startswith("not one of ") and "parts_logistics" in reason


def test_a_small_learning_curve_against_the_plain_baseline():
    """benchmarks/bench_rootcause_learn.py in small: two label draws at 5 and 20 per cause.

    On the demo's planted causes the unlabelled comments help most when labels are fewest:
    the gain over the plain baseline at 5 per cause is large and larger than at 20. (On real
    text the benchmark measures it; a small real subset is too small a pool, see there.)
    """
    from benchmarks.bench_rootcause_learn import _split, baseline

    data = demo_comments(800, random_state=5).reset_index(drop=True)
    gain = {}
    for k in (5, 20):
        diffs = []
        for draw in (0, 1):
            labelled = _split(data, k, draw)
            rest = ~labelled
            ours = rc.RootCauseClassifier.from_params(calibrate=False, random_state=0).fit(
                data["text"], data["cause"].where(labelled, None))
            plain = baseline().fit(data.loc[labelled, "text"], data.loc[labelled, "cause"])
            truth = data.loc[rest, "cause"].to_numpy()
            diffs.append((ours.predict(data.loc[rest, "text"]) == truth).mean()
                         - (plain.predict(data.loc[rest, "text"]) == truth).mean())
        gain[k] = float(np.mean(diffs))
    assert gain[5] >= 0.08
    assert 0.0 <= gain[20] < gain[5]


def test_the_ece_floor_is_what_a_calibrated_model_shows_by_chance():
    """The benchmark prints beside each ECE what a perfectly calibrated model would show on as
    many scored texts: it shrinks as the texts grow, and a miscalibrated model lies above it."""
    from benchmarks.bench_rootcause_learn import ece, ece_floor

    rng = np.random.default_rng(0)
    small, large = rng.uniform(0.5, 1.0, 250), rng.uniform(0.5, 1.0, 20000)
    assert 0.02 < ece_floor(small) < 0.07 and ece_floor(large) < 0.01
    # a model 10 points overconfident on 20,000 texts is far above its floor
    wrong = rng.random(len(large)) < large - 0.1
    assert ece(large, wrong) > 0.09 > 10 * ece_floor(large)


def test_the_labelling_model_learns_from_the_teams_labels_and_the_seeds(six_dealer_data):
    from analysis import rootcause

    data = six_dealer_data
    comments, model = rootcause.labelling_model(data.responses, data.cases, random_state=0)
    expected = rootcause.labelled_comments(data.responses, data.cases)
    assert comments["response_id"].tolist() == expected["response_id"].tolist()
    assert model.get_params()["seeds"] is not None and model.n_weak_ > 0
    _, bare = rootcause.labelling_model(data.responses, data.cases, use_seeds=False)
    assert bare.get_params()["seeds"] is None and bare.n_weak_ == 0
