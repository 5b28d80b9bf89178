"""How often the classifier agrees with the team's labels, cross-validated: :func:`agreement`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from analysis.config import params_or
from analysis.estimators import wilson_interval
from analysis.rootcause.classifier import RootCauseClassifier, label_array
from analysis.rootcause.reading import RootCauseError, as_series, load_seeds
from analysis.settings import Settings, level_or

__all__ = ["Agreement", "agreement", "agreement_of", "macro_f1"]


def macro_f1(truth: np.ndarray, pred: np.ndarray, classes: np.ndarray,
             samples: np.ndarray | None = None) -> np.ndarray:
    """Macro-F1 over ``classes`` (F1 0 where a cause is neither true nor predicted, as
    scikit-learn's ``zero_division=0``), of the whole arrays or, vectorised, of each row of
    ``samples`` (bootstrap indices): ``2 tp / (true + predicted)`` per cause from counts.

    The report scores 500 resamples of every scope: one ``f1_score`` call per resample cost
    3 s of a regional report at importer scale; the counts cost milliseconds.
    """
    k = len(classes)
    code = {c: i for i, c in enumerate(classes)}
    t = np.array([code.get(v, k) for v in truth])  # k: a cause outside ``classes``
    p = np.array([code.get(v, k) for v in pred])
    idx = np.arange(len(t))[None, :] if samples is None else np.asarray(samples)
    rows = np.repeat(np.arange(idx.shape[0]), idx.shape[1])
    ti, pi = t[idx].ravel(), p[idx].ravel()

    def count(codes, where=None):
        keep = slice(None) if where is None else where
        return np.bincount(rows[keep] * (k + 1) + codes[keep],
                           minlength=idx.shape[0] * (k + 1)).reshape(-1, k + 1)[:, :k]

    tp, true, predicted = count(ti, ti == pi), count(ti), count(pi)
    denominator = true + predicted
    f1 = np.divide(2.0 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)
    return f1.mean(1)


@dataclass(frozen=True)
class Agreement:
    """How often the model agrees with the team, cross-validated (see :func:`agreement`).

    ``overall``: one row per metric (``accuracy``, ``macro_f1``) with ``value``, ``low``,
    ``high`` (the interval at ``level``) and ``n`` (labelled comments). ``per_cause``: per cause
    of the team's labels, ``n``, ``precision``, ``recall`` (with its Wilson interval
    ``recall_low``, ``recall_high``: how often the model finds the team's cause) and ``f1``.
    ``predictions``: each labelled comment's ``label`` and cross-validated ``predicted`` cause.
    """

    overall: pd.DataFrame
    per_cause: pd.DataFrame
    predictions: pd.DataFrame
    level: float

    def summary(self) -> str:
        acc = self.overall.set_index("metric").loc["accuracy"]
        f1 = self.overall.set_index("metric").loc["macro_f1"]
        return (f"the model agrees with the team on {acc['value']:.0%} "
                f"[{acc['low']:.0%}, {acc['high']:.0%}] of {int(acc['n'])} labelled cases; "
                f"macro-F1 {f1['value']:.2f} [{f1['low']:.2f}, {f1['high']:.2f}] "
                f"({self.level:.0%} intervals, cross-validated)")


def agreement(texts, labels, *, model: RootCauseClassifier | None = None,
              folds: int | None = None, level: float | None = None,
              random_state: int | None = None, params: dict | None = None) -> Agreement:
    """Cross-validated agreement of the model with the team's labels, overall and per cause.

    The labelled comments are split into stratified folds; for each fold a clone of ``model``
    (default: :meth:`RootCauseClassifier.from_params` with the taxonomy's seeds, not
    calibrated: only the predicted cause counts here) is fitted on *all* comments with that
    fold's labels hidden, as it would be in use, and predicts them (the comments' features,
    which no label changes, are read once for all folds). Accuracy gets a Wilson interval,
    macro-F1 a percentile bootstrap interval over comments (``learning.bootstrap``
    resamples). A cause labelled only once is learnt from in every fold but not scored.
    """
    lp = params_or("taxonomy", params)["learning"]
    series = as_series(texts).reset_index(drop=True)
    y = label_array(labels, len(series))
    model = (RootCauseClassifier.from_params(params, seeds=load_seeds(params),
                                             random_state=random_state)
             if model is None else model)
    model = clone(model).set_params(calibrate=False)
    labelled = np.flatnonzero([v is not None for v in y])
    counts = pd.Series(y[labelled].astype(str)).value_counts()
    # a cause the team named once cannot be both learnt and tested: it stays a training
    # label in every fold and is not scored
    scored = labelled[np.isin(y[labelled].astype(str), counts.index[counts >= 2])]
    truth = y[scored].astype(str)
    if len(np.unique(truth)) < 2:
        raise RootCauseError("measuring agreement needs at least two causes with two or more "
                             f"labelled comments each; the labels have {len(np.unique(truth))}")
    n_folds = min(int(lp["agreement_folds"] if folds is None else folds),
                  int(counts[counts >= 2].min()))
    pred = np.empty(len(scored), dtype=object)
    cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    # every fold reads the same comments (only labels are hidden): read them once
    reading = model.read(series)
    for _, held in cv.split(scored, truth):
        hidden = y.copy()
        hidden[scored[held]] = None
        fitted = clone(model).fit(series, hidden, reading=reading)
        pred[held] = fitted.predict(series.iloc[scored[held]])
    predictions = pd.DataFrame({"label": truth, "predicted": pred.astype(str)},
                               index=as_series(texts).index[scored])
    return agreement_of(predictions, level=level, random_state=random_state, params=params)


def agreement_of(predictions: pd.DataFrame, *, level: float | None = None,
                 random_state: int | None = None, params: dict | None = None,
                 settings: Settings | None = None) -> Agreement:
    """:class:`Agreement` of given predictions: ``label`` (the team's) and ``predicted``.

    :func:`agreement` cross-validates and calls this; a report scores the cross-validated
    predictions of its own scope (a region's labelled comments) with it.
    """
    lp = params_or("taxonomy", params)["learning"]
    level = level_or(level, settings)
    missing = [c for c in ("label", "predicted") if c not in predictions]
    if missing:
        raise RootCauseError(f"predictions lack column(s) {missing}; pass Agreement.predictions")
    truth = predictions["label"].astype(str).to_numpy()
    pred = predictions["predicted"].astype(str).to_numpy()
    if not len(truth):
        raise RootCauseError("no labelled comments to measure agreement on")
    classes = np.array(sorted(set(truth)))
    correct = pred == truth
    (low,), (high,) = wilson_interval([correct.sum()], [len(correct)], level=level)
    rng = np.random.default_rng(random_state)
    boot = macro_f1(truth, pred, classes,
                    rng.integers(0, len(truth), (int(lp["bootstrap"]), len(truth))))
    alpha = (1 - level) / 2
    overall = pd.DataFrame({
        "metric": ["accuracy", "macro_f1"],
        "value": [float(correct.mean()), float(macro_f1(truth, pred, classes)[0])],
        "low": [float(low), float(np.quantile(boot, alpha))],
        "high": [float(high), float(np.quantile(boot, 1 - alpha))],
        "n": [len(truth), len(truth)],
    })
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, pred, labels=classes, zero_division=0)
    recall_low, recall_high = wilson_interval(recall * support, support, level=level)
    per_cause = pd.DataFrame({
        "cause": classes, "n": support.astype(np.int64), "precision": precision,
        "recall": recall, "recall_low": recall_low, "recall_high": recall_high, "f1": f1,
    }).sort_values(["n", "cause"], ascending=[False, True], kind="stable").reset_index(drop=True)
    return Agreement(overall, per_cause, predictions[["label", "predicted"]], level)
