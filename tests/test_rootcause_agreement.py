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
    got = rc._macro_f1(truth, pred, classes, samples)
    want = [f1_score(truth[i], pred[i], labels=classes, average="macro", zero_division=0)
            for i in samples]
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert rc._macro_f1(truth, pred, classes)[0] == np.float64(f1_score(
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
