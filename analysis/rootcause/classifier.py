"""Learning root causes from the team's labelled comments: :class:`RootCauseClassifier`.

Every setting of the classifier is a constructor parameter (scikit-learn's ``get_params()``
describes the model, a clone fits alike wherever it runs); params/taxonomy.yaml is read at
the edge, by :meth:`RootCauseClassifier.from_params`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from scipy.stats import chi2
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import normalize as _l2
from threadpoolctl import threadpool_limits

from analysis.config import params_or
from analysis.rootcause.features import Lsa, fit_lsa
from analysis.rootcause.reading import (
    DistinctComments,
    Language,
    Lexicon,
    RootCauseError,
    as_series,
    seed_patterns,
)

__all__ = ["Reading", "RootCauseClassifier", "label_array", "logit", "softmax"]


def _missing_label(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return isinstance(value, str) and not value.strip()


def label_array(labels, n: int) -> np.ndarray:
    """The team's labels of ``n`` comments as an object array of cause names, None where a
    label is missing (None, NaN, blank); ``labels=None``: none labelled."""
    if labels is None:
        return np.full(n, None, dtype=object)
    if isinstance(labels, str):
        raise RootCauseError("labels must be one label per comment (a list or a Series), not "
                             "one string")
    values = np.asarray(labels.to_numpy() if isinstance(labels, pd.Series) else list(labels),
                        dtype=object)
    if len(values) != n:
        raise RootCauseError(f"labels has {len(values)} entries for {n} comments; pass one label "
                             "per comment, None (or NaN) where the team gave none")
    return np.array([None if _missing_label(v) else str(v).strip() for v in values], dtype=object)


def _knn_affinity(z: np.ndarray, neighbors: int, *, block: int = 2048) -> sp.csr_matrix:
    """D^-1/2 W D^-1/2 of the symmetric cosine kNN graph of the rows of ``z`` (blockwise)."""
    n = len(z)
    k = min(neighbors, n - 1)
    rows, cols, vals = [], [], []
    for start in range(0, n, block):
        sim = z[start:start + block] @ z.T
        sim[np.arange(len(sim)), np.arange(start, start + len(sim))] = -np.inf
        idx = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        rows.append(np.repeat(np.arange(start, start + len(sim)), k))
        cols.append(idx.ravel())
        vals.append(np.clip(np.take_along_axis(sim, idx, 1).ravel(), 0.0, None))
    graph = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n, n))
    graph = graph.maximum(graph.T)
    inv = 1.0 / np.sqrt(np.maximum(np.asarray(graph.sum(1)).ravel(), 1e-12))
    return (sp.diags(inv) @ graph @ sp.diags(inv)).tocsr()


def _spread(affinity: sp.csr_matrix, seeds: np.ndarray, alpha: float, iterations: int
            ) -> np.ndarray:
    """Label spreading (Zhou et al. 2004): F <- alpha S F + (1 - alpha) Y, row-normalised."""
    f = seeds.copy()
    for _ in range(iterations):
        f = alpha * (affinity @ f) + (1.0 - alpha) * seeds
    total = f.sum(1, keepdims=True)
    return np.divide(f, total, out=np.zeros_like(f), where=total > 0)


def _align(prob: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Distribution alignment of pseudo-labels (Berthelot et al. 2020, ReMixMatch): scale
    each cause's column by its share among the labels over its mean predicted share, so
    that self-training cannot drift into the causes it already predicts most."""
    mean = np.maximum(prob.mean(0), 1e-9)
    out = prob * (target / mean)
    total = out.sum(1, keepdims=True)
    return np.divide(out, total, out=np.zeros_like(out), where=total > 0)


def logit(prob: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))``, with ``p`` clipped away from 0 and 1."""
    prob = np.clip(prob, 1e-12, 1.0 - 1e-12)
    return np.log(prob) - np.log1p(-prob)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a 2-d array of logits."""
    shifted = logits - logits.max(1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(1, keepdims=True)


@dataclass(frozen=True)
class Reading:
    """The label-free part of a :class:`RootCauseClassifier` fit (:meth:`~RootCauseClassifier.
    read`): the normalised distinct comments, their LSA and sparse features, the seeds' weak
    labels and the kNN graph, with the settings and the number of comments it was read with."""

    settings: dict
    n_texts: int
    lexicon: Lexicon
    distinct: DistinctComments
    lsa: Lsa
    z: np.ndarray
    x: sp.csr_matrix
    weak_doc: dict
    affinity: sp.csr_matrix | None


class RootCauseClassifier(ClassifierMixin, BaseEstimator):
    """Learn root causes from the team's labelled comments; unlabelled comments help.

    A scikit-learn classifier of complaint comments. ``fit(texts, labels)`` takes every comment of
    the scope and the team's cause where it gave one (None or NaN elsewhere): the unlabelled
    comments shape the features and teach the model too (semi-supervised), and taxonomy seeds
    add weak labels to comments that name exactly one cause's keywords.

    How it learns (measured in benchmarks/bench_rootcause_learn.py against TF-IDF + logistic
    regression on the labelled comments alone):

    1. Comments are masked and normalised as everywhere in :mod:`analysis.rootcause`
       (:func:`~analysis.rootcause.normalize_texts`); TF-IDF of stem uni/bigrams and character
       3-5-grams is reduced by an SVD (LSA) fitted on *all* comments, labelled or not: words
       that only unlabelled comments share still join phrasings of one cause.
    2. A logistic regression on the labelled comments gives each unlabelled comment a first
       distribution over causes; label spreading over the comments' cosine kNN graph gives a
       second (Zhou et al. 2004), and the two are averaged.
    3. Self-training in the manner of EM (Nigam et al. 2000): the regression is refitted on the
       labelled comments plus each unlabelled comment's two likeliest causes, weighted by their
       probability times ``unlabelled_weight``, for ``self_training_rounds``.
       The pseudo-labels are distribution-aligned (Berthelot et al. 2020) to the first fit's
       mix of causes (``align_pseudo_labels``): without it, with 5 labels per cause
       on a few hundred comments, self-training drifts into the causes it already predicts
       most (8 newsgroups x 60 posts: 12 points below the plain baseline; aligned, 4 above).
    4. Confidence is calibrated by temperature scaling (Guo et al. 2017): the temperature that
       maximises the likelihood of the team's labels in a K-fold cross-validation in which each
       fold's labels are hidden and the whole semi-supervised fit is rerun. Each held-out
       label is weighted by its cause's predicted share among the unlabelled comments over its
       share among the labels (``calibrate_to_pool``): a few labels per cause are not
       the mix of causes the suggestions face (drug reviews at 5 per cause: ECE 0.33 -> 0.08).
    5. A temperature scales every logit alike, but self-training bends the reliability curve:
       it teaches the regression its own pseudo-labels, so whole clusters of comments come out
       nearly certain and some of those clusters are wrong, while uncertain comments are right
       more often than they say (20 Newsgroups at 5 labels per cause: confidence 0.98 for 88%
       right, 0.22 for 28%; even a temperature fitted on the scored comments' own labels left
       ECE 0.076). So the confidence of the top cause is mapped, on the same cross-validated
       logits, by a top-label Platt map through the origin (Platt 1999; top-versus-all, Le Coz
       et al. 2024): P(the top cause is right) = sigmoid(b logit(its probability)), with the
       maximum-likelihood ``b <= 1`` (it may only flatten), the other causes rescaled in
       proportion, and the ranking unchanged. ``b`` is kept only where a likelihood-ratio test
       of ``b = 1`` rejects at ``confidence_slope_level`` (one-sided: chi-bar-squared),
       with the held-out labels counted at their weights' effective sample size: a few dozen
       labels are no evidence of a slope. Measured (mean of 3 label draws, ECE of 15 bins):
       20 Newsgroups ECE 0.091 -> 0.044 at 5 per cause (b about 0.6), 0.056 -> 0.032 at 20;
       drug reviews and the demo keep ``b = 1``. Tried and not kept
       (docs/rootcause-calibration.md): refitting the last self-training round per part of
       the pool without that part's pseudo-labels (cross-fitting: ECE 0.091 -> 0.089, 1 point
       of accuracy lost), temperature plus mixing with the uniform or the pool's prior,
       isotonic, a committee of the fold models.

    Every setting is a parameter; nothing is read from params/ inside the estimator. The
    defaults are the values params/taxonomy.yaml ships, except the word lists (none by
    default): :meth:`from_params` builds the classifier the YAML describes, and is what the
    module's functions and the report use. Each parameter below names its YAML key.

    Parameters
    ----------
    seeds
        Mapping cause -> keywords (see :func:`~analysis.rootcause.load_seeds`): a comment
        naming exactly one cause and unlabelled by the team gets that cause as a weak label
        (weight ``seed_weight``). None: the team's labels only.
    calibrate
        Fit the temperature and the top-label map (K+1 fits instead of one); False leaves the
        temperature and the slope at 1.
    language
        See :func:`~analysis.rootcause.normalize_texts`.
    random_state
        Seed of the SVD and of the calibration folds.
    min_token_length, stop_words, filler_words, glossary
        How comments are read (``text.min_token_length``, ``text.stop_words``,
        ``text.filler_words``, ``text.glossary_en_ru``): see
        :class:`~analysis.rootcause.reading.Lexicon`. None: no such words.
    word_ngram, char_ngram, char_weight, min_df
        The TF-IDF features (``features.*``): word and character n-gram ranges, the weight of
        the character block, the smallest document frequency.
    svd_components
        LSA dimensions, fitted on all comments (``learning.svd_components``).
    C, sparse_C
        Inverse L2 strength of the logistic regression in the LSA space and of the one on the
        sparse TF-IDF features (``learning.C``, ``learning.sparse_C``).
    neighbors, graph_max_docs, spread_alpha, spread_iterations
        Label spreading (step 2): neighbours of the kNN graph, the most distinct comments it
        is built for (more: no spreading), alpha and iterations (``learning.*``).
    self_training_rounds, unlabelled_weight, align_pseudo_labels
        Self-training (step 3): rounds, the weight of an unlabelled comment's pseudo-labels,
        and the alignment of pseudo-labels: "initial" (the first fit's mix), a true value
        (the labels' mix) or False (``learning.*``).
    seed_weight
        Weight of a seed keyword's weak label; a team label weighs 1 (``learning.seed_weight``).
    calibration_folds, calibrate_to_pool, top_label_map, confidence_slope_level
        Calibration (steps 4 and 5): folds, weighting held-out labels to the pool's mix of
        causes, the top-label map and the level of its test (``learning.*``).
    threads
        BLAS/OpenMP threads while fitting and predicting (``clustering.threads``; None: no
        limit).

    Attributes
    ----------
    classes_ : ndarray of str
        The causes, sorted.
    temperature_ : float
        The calibration temperature (1.0 when not calibrated).
    confidence_slope_ : float
        The top-label map's slope ``b`` (1.0: no map).
    n_labelled_ : int
        Comments with a team label.
    n_weak_ : int
        Unlabelled comments that got a seed's weak label.
    centroids_ : ndarray
        Per cause, the unit mean of its comments in the LSA space (for
        :func:`~analysis.rootcause.propose_causes`).
    """

    def __init__(self, *, seeds: Mapping[str, Iterable[str]] | None = None,
                 calibrate: bool = True, language: Language = "auto",
                 random_state: int | None = None,
                 min_token_length: int = 2,
                 stop_words: Mapping[str, Iterable[str]] | None = None,
                 filler_words: Mapping[str, Iterable[str]] | None = None,
                 glossary: Mapping[str, str] | None = None,
                 word_ngram: tuple[int, int] = (1, 2), char_ngram: tuple[int, int] = (3, 5),
                 char_weight: float = 1.0, min_df: int = 2,
                 svd_components: int = 250, C: float = 3.0, sparse_C: float = 10.0,
                 neighbors: int = 15, graph_max_docs: int = 20000, spread_alpha: float = 0.9,
                 spread_iterations: int = 30, self_training_rounds: int = 3,
                 unlabelled_weight: float = 0.3, align_pseudo_labels: str | bool = "initial",
                 seed_weight: float = 0.3, calibration_folds: int = 5,
                 calibrate_to_pool: bool = True, top_label_map: bool = True,
                 confidence_slope_level: float = 0.05, threads: int | None = 1):
        self.seeds = seeds
        self.calibrate = calibrate
        self.language = language
        self.random_state = random_state
        self.min_token_length = min_token_length
        self.stop_words = stop_words
        self.filler_words = filler_words
        self.glossary = glossary
        self.word_ngram = word_ngram
        self.char_ngram = char_ngram
        self.char_weight = char_weight
        self.min_df = min_df
        self.svd_components = svd_components
        self.C = C
        self.sparse_C = sparse_C
        self.neighbors = neighbors
        self.graph_max_docs = graph_max_docs
        self.spread_alpha = spread_alpha
        self.spread_iterations = spread_iterations
        self.self_training_rounds = self_training_rounds
        self.unlabelled_weight = unlabelled_weight
        self.align_pseudo_labels = align_pseudo_labels
        self.seed_weight = seed_weight
        self.calibration_folds = calibration_folds
        self.calibrate_to_pool = calibrate_to_pool
        self.top_label_map = top_label_map
        self.confidence_slope_level = confidence_slope_level
        self.threads = threads

    @classmethod
    def from_params(cls, params: dict | None = None, **overrides) -> RootCauseClassifier:
        """The classifier params/taxonomy.yaml describes (``params``: its contents, loaded when
        None), with ``overrides`` (parameter names, e.g. ``seeds=``, ``random_state=``) on top.

        Seeds are not read from the YAML: pass ``seeds=load_seeds(params)`` for them.
        """
        p = params_or("taxonomy", params)
        text, f, lp = p["text"], p["features"], p["learning"]
        decided = {
            "min_token_length": text["min_token_length"],
            "stop_words": text["stop_words"],
            "filler_words": text["filler_words"],
            "glossary": text["glossary_en_ru"],
            "word_ngram": tuple(f["word_ngram"]),
            "char_ngram": tuple(f["char_ngram"]),
            "char_weight": f["char_weight"],
            "min_df": f["min_df"],
            "threads": p["clustering"].get("threads"),
            **{name: lp[name] for name in (
                "svd_components", "C", "sparse_C", "neighbors", "graph_max_docs",
                "spread_alpha", "spread_iterations", "self_training_rounds",
                "unlabelled_weight", "seed_weight", "calibration_folds",
                "confidence_slope_level")},
            "align_pseudo_labels": lp.get("align_pseudo_labels", False),
            "calibrate_to_pool": bool(lp.get("calibrate_to_pool", False)),
            "top_label_map": bool(lp.get("top_label_map", False)),
        }
        names = set(cls._get_param_names())
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"unknown RootCauseClassifier parameters {unknown}; known: "
                            f"{sorted(names)}")
        return cls(**{**decided, **overrides})

    # -- reading -------------------------------------------------------------------------------
    def read(self, texts) -> Reading:
        """What the classifier reads of ``texts`` whatever their labels, with this model's
        settings: pass it to :meth:`fit` (``reading=``) to fit on the same comments with other
        labels without reading them again (:func:`~analysis.rootcause.agreement` fits one model
        per fold; reading is most of a fit's time). The model is left as it was."""
        with threadpool_limits(limits=self.threads):
            return self._read(texts)

    def _reading_settings(self) -> dict:
        """The parameters a reading depends on (all but ``calibrate``)."""
        return {k: v for k, v in self.get_params().items() if k != "calibrate"}

    def _new_lexicon(self) -> Lexicon:
        return Lexicon(self.language, min_token_length=self.min_token_length,
                       stop_words=self.stop_words, filler_words=self.filler_words,
                       glossary=self.glossary)

    def _read(self, texts) -> Reading:
        series = as_series(texts)
        lexicon = self._new_lexicon()
        distinct = DistinctComments(series, lexicon)
        if len(distinct.docs) < 2:
            raise RootCauseError("fewer than two distinct comments have words left after "
                                 "normalisation; pass more comments")
        lsa, z = fit_lsa(distinct.docs, distinct.weights, word_ngram=self.word_ngram,
                         char_ngram=self.char_ngram, char_weight=self.char_weight,
                         min_df=self.min_df, svd_components=self.svd_components,
                         random_state=self.random_state)
        z = z.astype(np.float64)
        x = lsa.sparse(distinct.docs)
        weak_doc = (self._weak_labels(distinct.docs, lexicon) if self.seeds is not None
                    else {})
        affinity = (_knn_affinity(z, int(self.neighbors))
                    if len(distinct.docs) <= int(self.graph_max_docs) else None)
        return Reading(self._reading_settings(), len(series), lexicon, distinct, lsa, z, x,
                       weak_doc, affinity)

    def _weak_labels(self, docs, lexicon: Lexicon) -> dict[int, str]:
        patterns = seed_patterns(self.seeds, lexicon)
        causes = list(patterns)
        hits = np.column_stack([pd.Series(docs).str.contains(pat).to_numpy() if pat is not None
                                else np.zeros(len(docs), dtype=bool)
                                for pat in patterns.values()])
        one = np.flatnonzero(hits.sum(1) == 1)
        return {int(d): causes[int(hits[d].argmax())] for d in one}

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, texts, labels=None, *, reading: Reading | None = None
            ) -> RootCauseClassifier:
        """Learn from ``texts`` (every comment) and ``labels`` (the team's causes, may be
        missing); ``reading``: :meth:`read` of the same texts by a model of the same
        parameters (``calibrate`` aside), reused instead of reading them again."""
        with threadpool_limits(limits=self.threads):
            return self._fit(texts, labels, reading)

    def _fit(self, texts, labels, reading: Reading | None) -> RootCauseClassifier:
        series = as_series(texts)
        y = label_array(labels, len(series))
        if reading is None:
            reading = self._read(series)
        elif reading.settings != self._reading_settings() or reading.n_texts != len(series):
            raise RootCauseError("a reading of other comments or of a model with other "
                                 "parameters cannot be reused")
        self._lexicon, self._lsa = reading.lexicon, reading.lsa
        distinct, z, x, weak_doc = reading.distinct, reading.z, reading.x, reading.weak_doc
        docs, row_doc = distinct.docs, distinct.row_doc

        team = (row_doc >= 0) & np.array([v is not None for v in y])
        names = sorted({*y[team].tolist(), *weak_doc.values()})
        if len(names) < 2:
            raise RootCauseError(f"the labels name {len(names)} cause(s); label comments of at "
                                 "least two causes (or pass seeds) to learn from")
        self.classes_ = np.array(names, dtype=object)
        index = {c: i for i, c in enumerate(names)}
        # the label matrix of distinct comments: the team's label counts, else a weak seed label
        counts = np.zeros((len(docs), len(names)))
        np.add.at(counts, (row_doc[team], [index[c] for c in y[team]]), 1.0)
        has_team = counts.sum(1) > 0
        for d, cause in weak_doc.items():
            if not has_team[d]:
                counts[d, index[cause]] = float(self.seed_weight)
        self.n_labelled_ = int(team.sum())
        self.n_weak_ = int(np.isin(row_doc, [d for d in weak_doc if not has_team[d]]).sum())

        self._affinity = reading.affinity
        self.temperature_, self.confidence_slope_ = 1.0, 1.0
        if self.calibrate:
            self.temperature_, self.confidence_slope_ = self._fit_calibration(
                z, x, counts, has_team)
        self._model, self._sparse_model, train_p = self._semi_fit(z, x, counts)
        self.centroids_ = _l2(train_p.T @ z)
        return self

    def _regression(self) -> LogisticRegression:
        return LogisticRegression(C=float(self.C), max_iter=1000)

    def _semi_fit(self, z: np.ndarray, x: sp.csr_matrix, counts: np.ndarray
                  ) -> tuple[LogisticRegression, LogisticRegression, np.ndarray]:
        """The semi-supervised fit on label counts.

        Returns the self-trained model of the LSA space, the model of the sparse TF-IDF
        features fitted on the labelled comments alone, and the training targets.
        """
        k = counts.shape[1]
        labelled = np.flatnonzero(counts.sum(1) > 0)
        rest = np.flatnonzero(counts.sum(1) == 0)
        l_rows, l_cls = np.nonzero(counts[labelled])
        l_rows = labelled[l_rows]
        l_w = counts[l_rows, l_cls]
        model = self._regression().fit(z[l_rows], l_cls, sample_weight=l_w)
        # the sparse features keep what LSA smooths away; labelled comments only: it is cheap
        sparse = LogisticRegression(C=float(self.sparse_C), max_iter=1000).fit(
            x[l_rows], l_cls, sample_weight=l_w)
        prob = self._full_proba(model, z, k)
        if self._affinity is not None:
            seeds = counts / np.maximum(counts.sum(1, keepdims=True), 1e-12)
            prob = 0.5 * (prob + _spread(self._affinity, seeds, float(self.spread_alpha),
                                         int(self.spread_iterations)))
        top = min(2, k)
        lam = float(self.unlabelled_weight)
        align = self.align_pseudo_labels
        if align == "initial" and len(rest):
            target = prob[rest].mean(0)
        else:
            target = np.bincount(l_cls, weights=l_w, minlength=k)
            target = target / target.sum()
        for _ in range(int(self.self_training_rounds) if len(rest) else 0):
            pseudo = prob[rest]
            if align:
                pseudo = _align(pseudo, target)
            best = np.argsort(-pseudo, axis=1)[:, :top]
            rows = np.concatenate([l_rows, np.repeat(rest, top)])
            cls = np.concatenate([l_cls, best.ravel()])
            w = np.concatenate([l_w, lam * np.take_along_axis(pseudo, best, 1).ravel()])
            keep = w > 0
            model = self._regression().fit(z[rows[keep]], cls[keep], sample_weight=w[keep])
            prob = self._full_proba(model, z, k)
        target = prob.copy()
        target[labelled] = counts[labelled] / counts[labelled].sum(1, keepdims=True)
        return model, sparse, target

    @staticmethod
    def _full_proba(model, z, k) -> np.ndarray:
        out = np.zeros((z.shape[0], k))
        out[:, model.classes_] = model.predict_proba(z)
        return out

    def _combined_logits(self, model, sparse, z, x) -> np.ndarray:
        """Log of the mean of both models' probabilities (columns: every cause)."""
        k = len(self.classes_)
        mix = 0.5 * (self._full_proba(model, z, k) + self._full_proba(sparse, x, k))
        return np.log(np.maximum(mix, 1e-12))

    def _fit_calibration(self, z, x, counts, has_team) -> tuple[float, float]:
        """Temperature and top-label slope on cross-validated logits of the team's labels."""
        labelled = np.flatnonzero(has_team)
        majority = counts[labelled].argmax(1)
        per_class = np.bincount(majority, minlength=counts.shape[1])
        folds = min(int(self.calibration_folds), int(per_class[per_class > 0].min()))
        if folds < 2 or len(labelled) < 10:
            return 1.0, 1.0
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        pool = np.flatnonzero(counts.sum(1) == 0)
        to_pool = bool(self.calibrate_to_pool) and len(pool) > 0
        logits, truth, weight, shares = [], [], [], []
        for _, held in cv.split(labelled, majority):
            docs = labelled[held]
            hidden = counts.copy()
            hidden[docs] = 0.0
            model, sparse, _ = self._semi_fit(z, x, hidden)
            full = self._combined_logits(model, sparse, z[docs], x[docs])
            rows, cls = np.nonzero(counts[docs])
            logits.append(full[rows])
            truth.append(cls)
            weight.append(counts[docs][rows, cls])
            if to_pool:  # the causes' shares among the comments the model will suggest for
                shares.append(softmax(self._combined_logits(
                    model, sparse, z[pool], x[pool])).mean(0))
        logits, truth, weight = np.vstack(logits), np.concatenate(truth), np.concatenate(weight)
        if to_pool:
            # the team labels a few of each cause, not a random sample: weight each held-out
            # label by its cause's predicted share among the unlabelled comments over its
            # share among the labels, so the temperature fits the suggestions' mix of causes
            labels = np.bincount(truth, weights=weight, minlength=counts.shape[1])
            ratio = np.mean(shares, axis=0) / np.maximum(labels / labels.sum(), 1e-9)
            weight = weight * ratio[truth]

        def nll(log_t):
            p = softmax(logits / np.exp(log_t))[np.arange(len(truth)), truth]
            return -(weight * np.log(np.maximum(p, 1e-12))).sum()

        temperature = float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0),
                                                   method="bounded").x))
        return temperature, self._fit_slope(softmax(logits / temperature), truth, weight)

    def _fit_slope(self, prob: np.ndarray, truth: np.ndarray, weight: np.ndarray) -> float:
        """The slope of the top-label map (step 5): the maximum-likelihood ``b <= 1`` of
        P(the likeliest cause is right) = sigmoid(b logit(its probability)) on the held-out
        labels, kept only where a likelihood-ratio test rejects ``b = 1``."""
        if not self.top_label_map or not len(truth):
            return 1.0
        right = prob.argmax(1) == truth
        top = logit(prob.max(1))
        # the labels count as many as their weights are worth (Kish's effective sample size)
        weight = weight * weight.sum() / np.maximum((weight ** 2).sum(), 1e-12)

        def nll(log_b):
            t = np.exp(log_b) * top
            return (weight * np.where(right, np.logaddexp(0.0, -t), np.logaddexp(0.0, t))).sum()

        fit = minimize_scalar(nll, bounds=(-3.0, 0.0), method="bounded")
        # b <= 1 makes the test one-sided: the statistic is chi-bar-squared, half chi2(1)
        critical = chi2.ppf(1.0 - 2.0 * float(self.confidence_slope_level), 1)
        return float(np.exp(fit.x)) if 2.0 * (nll(0.0) - fit.fun) > critical else 1.0

    def _calibrated(self, logits: np.ndarray) -> np.ndarray:
        """Probabilities: the temperature's softmax, then the top-label map (step 5)."""
        prob = softmax(logits / self.temperature_)
        if self.confidence_slope_ == 1.0 or prob.shape[1] < 2:
            return prob
        rows = np.arange(len(prob))
        best = prob.argmax(1)
        top = prob[rows, best]
        mapped = 1.0 / (1.0 + np.exp(-self.confidence_slope_ * logit(top)))
        # the other causes share what the top one gives up (or yields) in their proportions
        rest = np.maximum(1.0 - top, 1e-12)
        out = prob * ((1.0 - mapped) / rest)[:, None]
        out[rows, best] = mapped
        return out

    # -- prediction ----------------------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "classes_"):
            raise RootCauseError("this RootCauseClassifier is not fitted yet; call "
                                 "fit(texts, labels) first")

    def distinct_proba(self, texts) -> tuple[DistinctComments, np.ndarray, np.ndarray]:
        """The distinct normalised comments of ``texts``, their LSA vectors and calibrated
        probabilities (rows: distinct comments; ``row_doc`` maps the texts to them)."""
        self._check_fitted()
        with threadpool_limits(limits=self.threads):
            distinct = DistinctComments(texts, self._lexicon)
            if not len(distinct.docs):
                return distinct, np.zeros((0, self._lsa.svd.n_components)), np.zeros(
                    (0, len(self.classes_)))
            x = self._lsa.sparse(distinct.docs)
            z = self._lsa.embed(x).astype(np.float64)
            logits = self._combined_logits(self._model, self._sparse_model, z, x)
            return distinct, z, self._calibrated(logits)

    def predict_proba(self, texts) -> np.ndarray:
        """Calibrated probabilities of each cause (columns in :attr:`classes_` order).

        A comment with no words left after normalisation gets the model's prior.
        """
        distinct, _, prob = self.distinct_proba(texts)
        out = np.tile(self._prior(), (len(distinct.row_doc), 1))
        known = distinct.row_doc >= 0
        out[known] = prob[distinct.row_doc[known]]
        return out

    def _prior(self) -> np.ndarray:
        x = sp.csr_matrix((1, len(self._lsa.word.vocabulary_)
                           + len(self._lsa.char.vocabulary_)))
        logits = self._combined_logits(self._model, self._sparse_model,
                                       np.zeros((1, self._lsa.svd.n_components)), x)
        return self._calibrated(logits)[0]

    def predict(self, texts) -> np.ndarray:
        """The likeliest cause of each comment."""
        self._check_fitted()
        return self.classes_[self.predict_proba(texts).argmax(1)]

    def predict_confidence(self, texts) -> np.ndarray:
        """The calibrated probability of the predicted cause (the suggestion's confidence)."""
        return self.predict_proba(texts).max(1)
