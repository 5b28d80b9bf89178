"""RootCauseClassifier's settings are its parameters (issue 27): the YAML is read at the edge
(``from_params``), a fit reads nothing else, and the model fitted either way is the same."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.base import clone

from analysis import config
from analysis import rootcause as rc
from analysis.synthetic import demo_comments

# the word lists stay in params/taxonomy.yaml: a bare constructor has none
WORD_LISTS = ("stop_words", "filler_words", "glossary")


@pytest.fixture(scope="module")
def demo():
    data = demo_comments(600, random_state=11)
    labels = data["cause"].where(np.arange(len(data)) % 8 == 0, None)
    return data["text"], labels


def _explicit(taxonomy: dict, **kw) -> rc.RootCauseClassifier:
    """The classifier of ``taxonomy``, every setting spelt out as the constructor takes it."""
    t, f, lp = taxonomy["text"], taxonomy["features"], taxonomy["learning"]
    return rc.RootCauseClassifier(
        min_token_length=t["min_token_length"], stop_words=t["stop_words"],
        filler_words=t["filler_words"], glossary=t["glossary_en_ru"],
        word_ngram=tuple(f["word_ngram"]), char_ngram=tuple(f["char_ngram"]),
        char_weight=f["char_weight"], min_df=f["min_df"],
        svd_components=lp["svd_components"], C=lp["C"], sparse_C=lp["sparse_C"],
        neighbors=lp["neighbors"], graph_max_docs=lp["graph_max_docs"],
        spread_alpha=lp["spread_alpha"], spread_iterations=lp["spread_iterations"],
        self_training_rounds=lp["self_training_rounds"],
        unlabelled_weight=lp["unlabelled_weight"],
        align_pseudo_labels=lp["align_pseudo_labels"], seed_weight=lp["seed_weight"],
        calibration_folds=lp["calibration_folds"], calibrate_to_pool=lp["calibrate_to_pool"],
        top_label_map=lp["top_label_map"],
        confidence_slope_level=lp["confidence_slope_level"],
        threads=taxonomy["clustering"]["threads"], **kw)


def test_from_params_and_the_explicit_constructor_fit_the_same_model(demo):
    texts, labels = demo
    taxonomy = config.load_params("taxonomy")
    kw = {"seeds": rc.load_seeds(taxonomy), "random_state": 0}
    edge = rc.RootCauseClassifier.from_params(**kw)
    spelt = _explicit(taxonomy, **kw)
    assert edge.get_params() == spelt.get_params()
    edge.fit(texts, labels)
    spelt.fit(texts, labels)
    np.testing.assert_array_equal(edge.classes_, spelt.classes_)
    np.testing.assert_array_equal(edge.predict(texts), spelt.predict(texts))
    np.testing.assert_array_equal(edge.predict_proba(texts), spelt.predict_proba(texts))
    assert (edge.temperature_, edge.confidence_slope_) == (spelt.temperature_,
                                                           spelt.confidence_slope_)


def test_get_params_names_every_setting_and_survives_clone():
    model = rc.RootCauseClassifier.from_params(seeds=rc.load_seeds(), random_state=3)
    params = model.get_params()
    signature = [n for n in inspect.signature(rc.RootCauseClassifier).parameters]
    assert list(params) == sorted(signature)
    assert set(params) == {
        "seeds", "calibrate", "language", "random_state",
        "min_token_length", *WORD_LISTS, "word_ngram", "char_ngram", "char_weight", "min_df",
        "svd_components", "C", "sparse_C", "neighbors", "graph_max_docs", "spread_alpha",
        "spread_iterations", "self_training_rounds", "unlabelled_weight",
        "align_pseudo_labels", "seed_weight", "calibration_folds", "calibrate_to_pool",
        "top_label_map", "confidence_slope_level", "threads"}
    # every setting from_params decides from the YAML is a parameter it fills
    bare = rc.RootCauseClassifier().get_params()
    decided = {k for k in params if params[k] != bare[k]}
    assert decided >= {"seeds", "random_state", *WORD_LISTS}
    assert clone(model).get_params() == params
    assert rc.RootCauseClassifier(**params).get_params() == params
    with pytest.raises(TypeError, match="unknown RootCauseClassifier parameters"):
        rc.RootCauseClassifier.from_params(sparse_c=1.0)


def test_the_defaults_are_the_shipped_yaml_but_the_word_lists():
    """One number, one place: the constructor's defaults are params/taxonomy.yaml's values as
    shipped (a bare classifier is the report's, without word lists). Change both or neither."""
    bare = rc.RootCauseClassifier().get_params()
    shipped = rc.RootCauseClassifier.from_params().get_params()
    differ = {k: (bare[k], shipped[k]) for k in bare
              if k not in WORD_LISTS and bare[k] != shipped[k]}
    assert not differ, f"constructor default vs params/taxonomy.yaml: {differ}"
    assert all(bare[k] is None and shipped[k] for k in WORD_LISTS)


def test_a_clone_fits_without_reading_params(demo, monkeypatch):
    texts, labels = demo
    model = rc.RootCauseClassifier.from_params(calibrate=False, random_state=0)
    fitted = clone(model).fit(texts, labels)

    def no_yaml(*args, **kwargs):
        raise AssertionError("the classifier read params/ inside fit or predict")

    monkeypatch.setattr(config, "load_params", no_yaml)
    again = clone(model).fit(texts, labels)
    np.testing.assert_array_equal(again.predict_proba(texts), fitted.predict_proba(texts))
    reading = model.read(texts)
    np.testing.assert_array_equal(clone(model).fit(texts, labels, reading=reading)
                                  .predict_proba(texts), fitted.predict_proba(texts))


@pytest.mark.parametrize("check", ["check_no_attributes_set_in_init",
                                   "check_parameters_default_constructible",
                                   "check_get_params_invariance", "check_set_params"])
def test_scikit_learns_parameter_checks(check):
    """The checks of ``sklearn.utils.estimator_checks`` that need no fit (the others feed
    numeric arrays, which a text classifier does not read)."""
    from sklearn.utils import estimator_checks

    for model in (rc.RootCauseClassifier(), rc.RootCauseClassifier.from_params(random_state=0)):
        getattr(estimator_checks, check)("RootCauseClassifier", model)
