"""The agreement figures' arithmetic against scikit-learn's own metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score
from statsmodels.stats.proportion import proportion_confint

from analysis import rootcause as rc

CAUSES = ["booking", "price", "quality", "staff"]


@settings(max_examples=60, deadline=None)
@given(pairs=st.lists(st.tuples(st.sampled_from(CAUSES[:3]), st.sampled_from(CAUSES)),
                      min_size=1, max_size=40),
       seed=st.integers(0, 2**16))
def test_vectorised_macro_f1_is_scikit_learns(pairs, seed):
    truth = np.array([t for t, _ in pairs])
    pred = np.array([p for _, p in pairs])  # "staff" is predicted but never true
    classes = np.array(sorted(set(truth)))
    samples = np.random.default_rng(seed).integers(0, len(truth), (25, len(truth)))
    got = rc.macro_f1(truth, pred, classes, samples)
    want = [f1_score(truth[i], pred[i], labels=classes, average="macro", zero_division=0)
            for i in samples]
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert rc.macro_f1(truth, pred, classes)[0] == np.float64(f1_score(
        truth, pred, labels=classes, average="macro", zero_division=0))


def test_agreement_intervals_are_wilson_and_bootstrap():
    rng = np.random.default_rng(3)
    truth = rng.choice(CAUSES, 300)
    pred = np.where(rng.random(300) < 0.8, truth, rng.choice(CAUSES, 300))
    result = rc.agreement_of(pd.DataFrame({"label": truth, "predicted": pred}),
                             level=0.95, random_state=0)
    acc = result.overall.set_index("metric").loc["accuracy"]
    low, high = proportion_confint((pred == truth).sum(), 300, alpha=0.05, method="wilson")
    assert (acc["low"], acc["high"]) == (low, high)
    f1 = result.overall.set_index("metric").loc["macro_f1"]
    # 300 answers at ~85% agreement: the bootstrap interval is a few points wide around it
    assert f1["low"] < f1["value"] < f1["high"] and 0.03 < f1["high"] - f1["low"] < 0.15
    cause = result.per_cause.set_index("cause")
    k = ((truth == "price") & (pred == "price")).sum()
    want = proportion_confint(k, (truth == "price").sum(), alpha=0.05, method="wilson")
    np.testing.assert_allclose(cause.loc["price", ["recall_low", "recall_high"]], want)


def test_a_reading_reused_across_folds_fits_what_a_full_fit_does():
    """agreement() reads the comments once and fits each fold on that reading: each fold's
    model must be the model a fit from scratch gives (the reading does not see the labels)."""
    import pytest
    from sklearn.base import clone

    from analysis.synthetic import demo_comments

    data = demo_comments(500, random_state=4)
    texts = data["text"]
    labels = data["cause"].where(np.arange(len(data)) % 6 == 0, None)
    model = rc.RootCauseClassifier.from_params(seeds=rc.load_seeds(), random_state=0)
    before = dict(vars(model))
    reading = model.read(texts)
    assert vars(model) == before  # reading leaves the model as it was: only fit changes it
    for fold in range(2):  # other labels hidden, the same reading
        hidden = labels.where(np.arange(len(data)) % 12 != 6 * fold, None)
        reused = clone(model).fit(texts, hidden, reading=reading)
        scratch = clone(model).fit(texts, hidden)
        np.testing.assert_array_equal(reused.classes_, scratch.classes_)
        np.testing.assert_allclose(reused.predict_proba(texts), scratch.predict_proba(texts),
                                   atol=1e-10)
        assert reused.temperature_ == pytest.approx(scratch.temperature_)
    with pytest.raises(rc.RootCauseError, match="cannot be reused"):
        clone(model).set_params(random_state=1).fit(texts, labels, reading=reading)
    with pytest.raises(rc.RootCauseError, match="cannot be reused"):
        clone(model).fit(texts.iloc[:400], labels.iloc[:400], reading=reading)
