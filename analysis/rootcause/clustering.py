"""Clustering complaint comments into root causes: :class:`RootCauseModel`.

Each distinct normalised comment (:mod:`analysis.rootcause.reading`) is embedded once (TF-IDF
of stem uni/bigrams plus character 3-5-grams inside words, reduced by a frequency-weighted
truncated SVD, i.e. LSA: :mod:`analysis.rootcause.features`) and clustered by landmark
spectral clustering: a cosine k-nearest-neighbour graph over a sample of distinct comments
(drawn by the square root of their frequency), the Ng-Jordan-Weiss spectral embedding
clustered by k-means, then every comment to its nearest cluster centroid.
``n_clusters="auto"`` takes the k with the largest relative eigengap of the graph's
normalised Laplacian (von Luxburg 2007, section 8.3) over ``clustering.k_range``. With
``seeds`` (cause -> keywords) the model is guided: comments naming exactly one cause anchor
it, constrained seeded k-means (Basu, Banerjee & Mooney 2002) carries the other comments to
the nearest cause, and groups of the unguided pass that no seed claims stay discovered
clusters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.preprocessing import normalize as _l2
from threadpoolctl import threadpool_limits

from analysis.config import params_or
from analysis.errors import require_columns
from analysis.rootcause.features import fit_lsa
from analysis.rootcause.reading import (
    UNASSIGNED,
    DistinctComments,
    Language,
    Lexicon,
    RootCauseError,
    load_seeds,
    seed_patterns,
    surface_words,
)

__all__ = ["RootCauseModel", "label_responses", "make_model"]


def _spherical_kmeans(z, w, k, *, n_init, max_iter, random_state):
    km = KMeans(n_clusters=k, n_init=n_init, max_iter=max_iter, random_state=random_state)
    km.fit(z, sample_weight=w)
    return km.labels_, _l2(km.cluster_centers_)


_EMPTY_K_SCORES = pd.DataFrame({"k": pd.Series(dtype="int64"),
                                "eigenvalue": pd.Series(dtype="float64"),
                                "gap_ratio": pd.Series(dtype="float64"),
                                "chosen": pd.Series(dtype="bool")})


def _affinity_spectrum(z: np.ndarray, neighbors: int, n_vectors: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Leading eigenpairs of D^-1/2 A D^-1/2 for the symmetric kNN cosine graph A of ``z``."""
    sim = z @ z.T
    # the neighbours of each row: its largest similarities (itself included), via argpartition
    idx = np.argpartition(-sim, neighbors, axis=1)[:, : neighbors + 1]
    rows = np.repeat(np.arange(len(z)), idx.shape[1])
    weights = np.clip(sim[rows, idx.ravel()], 0.0, None)
    graph = sp.csr_matrix((weights, (rows, idx.ravel())), shape=(len(z), len(z)))
    graph = graph.maximum(graph.T)
    degree = np.asarray(graph.sum(1)).ravel()
    inv = 1.0 / np.sqrt(np.maximum(degree, 1e-12))
    norm = sp.diags(inv) @ graph @ sp.diags(inv)
    v0 = rng.uniform(-1, 1, len(z))
    vals, vecs = eigsh(norm, k=min(n_vectors, len(z) - 1), which="LA", v0=v0)
    order = np.argsort(-vals)
    return vals[order], vecs[:, order]


def _eigengaps(laplacian: np.ndarray, ks: list[int], floor: float) -> pd.DataFrame:
    """The relative eigengap lambda_(k+1) / lambda_k of each k (eigengap heuristic, von
    Luxburg 2007, section 8.3), with eigenvalues below ``floor`` counted as ``floor``.

    Measured: the plain gap lambda_(k+1) - lambda_k favours the largest k and an unfloored ratio
    the smallest, because the near-zero eigenvalues of small islands (a typo, a rare
    wording) win any ratio; a log gap detrended by a fitted power law did no better.
    """
    k_all = np.arange(1, len(laplacian))
    ratio = laplacian[1:] / np.maximum(laplacian[:-1], floor)
    rows = pd.DataFrame({"k": k_all, "eigenvalue": laplacian[:-1], "gap_ratio": ratio})
    return rows.loc[rows["k"].isin(ks)].reset_index(drop=True)


def _weighted_sample(w: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``size`` distinct comments, drawn by the square root of their frequency.

    Frequent wordings count more, without drowning the rarer phrasings that link them into
    causes (measured at 100k comments: ARI 0.68 against 0.64 when drawn by frequency).
    """
    if len(w) <= size:
        return np.arange(len(w))
    p = np.sqrt(w)
    return rng.choice(len(w), size=size, replace=False, p=p / p.sum())


def _rename_by_size(labels, centres, w, *, prefix):
    """Renumber clusters by decreasing (weighted) size and name them prefix_01, prefix_02..."""
    size = np.bincount(labels, weights=w, minlength=len(centres))
    order = np.argsort(-size, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    names = [f"{prefix}_{i + 1:02d}" for i in range(len(order))]
    return rank[labels], centres[order], names


class RootCauseModel(ClusterMixin, BaseEstimator):
    """Cluster complaint comments into root causes; optionally guided by taxonomy seeds.

    Parameters
    ----------
    n_clusters
        Number of clusters, or "auto" to choose it over ``clustering.k_range`` of
        params/taxonomy.yaml by the largest relative eigengap ``lambda_(k+1) / lambda_k`` of the
        normalised Laplacian of the comments' kNN graph (eigenvalues below
        ``clustering.eigen_floor`` count as the floor). With seeds, the number of clusters of
        the unguided pass that finds the groups no seed claims.
    seeds
        Mapping cause -> keywords (see :func:`load_seeds`). Clusters then carry the cause
        names; comments far from every cause are left to discovered clusters.
    language
        See :func:`normalize_texts`.
    random_state
        Seed of the SVD, the graph sample, the eigensolver and k-means.
    params
        The contents of params/taxonomy.yaml (loaded at fit time when omitted).

    Attributes
    ----------
    labels_ : ndarray of object
        The cluster name of each comment passed to :meth:`fit` (None where nothing is left
        after normalisation). Seeded clusters are named by their cause, the others
        ``cluster_01``, ``cluster_02``, ... by decreasing size.
    clusters_ : DataFrame
        One row per cluster: ``cluster``, ``seeded``, ``size``, ``share``, ``label`` (its top
        words), ``quotes`` (a tuple of representative masked comments).
    k_scores_ : DataFrame
        ``k``, ``eigenvalue`` (the k-th smallest of the normalised Laplacian), ``gap_ratio`` and
        ``chosen`` for every k tried by "auto"; empty otherwise.
    n_clusters_ : int
    """

    def __init__(self, n_clusters: int | Literal["auto"] = "auto", *,
                 seeds: Mapping[str, Iterable[str]] | None = None,
                 language: Language = "auto", random_state: int | None = None,
                 params: dict | None = None):
        self.n_clusters = n_clusters
        self.seeds = seeds
        self.language = language
        self.random_state = random_state
        self.params = params

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, texts, y=None) -> RootCauseModel:
        """Learn the clusters of ``texts`` (comments; missing and empty ones get no label)."""
        p = params_or("taxonomy", self.params)
        self._check_n_clusters()
        self._p = p
        # measured: BLAS and OpenMP threads make the SVD and k-means several times slower on
        # 2-core machines (the problems are small and the threads oversubscribe them)
        with threadpool_limits(limits=p["clustering"].get("threads")):
            return self._fit(texts)

    def _fit(self, texts) -> RootCauseModel:
        p = self._p
        self._lexicon = Lexicon.from_params(p["text"], self.language)
        distinct = DistinctComments(texts, self._lexicon)
        # a label shows each stem as its most frequent word, Russian before English
        self._surface = surface_words(distinct.surface)
        docs, weights, row_doc = distinct.docs, distinct.weights, distinct.row_doc
        if len(docs) < 2:
            raise RootCauseError("fewer than two distinct comments have words left after "
                                 "normalisation; pass the comments of answers below 9 of a "
                                 "larger scope")
        z = self._fit_features(docs, weights)
        rng = np.random.default_rng(self.random_state)
        if self.seeds is not None:
            doc_label, centroids, names, seeded = self._fit_guided(docs, z, weights, rng)
        else:
            doc_label, centroids, names, seeded = self._fit_free(z, weights, rng)
        self._centroids, self._names = centroids, np.array(names, dtype=object)
        self.n_clusters_ = len(names)
        labels = np.full(len(row_doc), UNASSIGNED, dtype=object)
        labels[row_doc >= 0] = self._names[doc_label[row_doc[row_doc >= 0]]]
        self.labels_ = labels
        self.clusters_ = self._describe(docs, z, weights, doc_label, distinct.quotes,
                                       seeded)
        return self

    def fit_predict(self, texts, y=None) -> np.ndarray:
        """Fit and return :attr:`labels_`."""
        return self.fit(texts).labels_

    def _check_n_clusters(self):
        k = self.n_clusters
        if k == "auto":
            return
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise RootCauseError(f"n_clusters must be 'auto' or a positive int, got {k!r}")
        if self.seeds is not None and k < len(self.seeds):
            raise RootCauseError(f"n_clusters={k} is fewer than the {len(self.seeds)} seeded "
                                 "causes; pass 'auto' or at least the number of seeds")

    def _fit_features(self, docs: np.ndarray, weights: np.ndarray) -> np.ndarray:
        f = self._p["features"]
        self._lsa, z = fit_lsa(docs, weights, word_ngram=f["word_ngram"],
                               char_ngram=f["char_ngram"], char_weight=f["char_weight"],
                               min_df=f["min_df"], svd_components=f["svd_components"],
                               random_state=self.random_state)
        return z

    def _embed(self, docs) -> np.ndarray:
        return self._lsa.embed(self._lsa.sparse(docs))

    def _cluster(self, z, w, ks: range | int, rng) -> tuple[np.ndarray, np.ndarray]:
        """Spectral clustering of a sample of distinct comments, then every comment to a centroid.

        Landmark spectral clustering: a k-nearest-neighbour cosine graph over at most
        ``clustering.spectral_sample`` distinct comments drawn by sqrt frequency, the
        Ng-Jordan-Weiss embedding (leading eigenvectors of the normalised affinity, rows scaled
        to unit length) clustered by k-means, then each comment goes to the nearest cluster centroid. With a
        range of k, the k with the largest relative eigengap of the normalised Laplacian wins.
        """
        c = self._p["clustering"]
        # no eigengap is scored when the sample is too small for the spectral step: every
        # path out of here leaves the scores the fit reads (k_scores_)
        self._k_rows = _EMPTY_K_SCORES
        sample = _weighted_sample(w, int(c["spectral_sample"]), rng)
        zs = z[sample]
        ks_list = list(ks) if isinstance(ks, range) else [int(ks)]
        ks_list = [k for k in ks_list if k < len(sample)] or [max(1, len(sample) - 1)]
        k_max = max(ks_list)
        if len(sample) <= k_max + 1 or k_max < 2:
            labels, centres = _spherical_kmeans(z, w, min(k_max, len(z)), n_init=int(c["n_init"]),
                                                max_iter=int(c["max_iter"]),
                                                random_state=self.random_state)
            return labels, centres
        # sqrt(n) neighbours: dense enough to join the phrasings of one cause, sparse enough
        # to keep causes apart (measured on the demo: 30-80 at n = 2500 all work)
        neighbors = int(np.ceil(float(c["neighbors_per_sqrt_n"]) * np.sqrt(len(sample))))
        vals, vecs = _affinity_spectrum(zs, min(neighbors, len(sample) - 1), k_max + 1, rng)
        rows = _eigengaps(1.0 - vals, ks_list, float(c["eigen_floor"]))
        k = int(rows.loc[rows["gap_ratio"].idxmax(), "k"]) if len(ks_list) > 1 else ks_list[0]
        self._k_rows = rows.assign(chosen=lambda d: d["k"] == k)
        embedding = _l2(vecs[:, :k])
        sample_labels, _ = _spherical_kmeans(embedding, np.ones(len(sample)), k,
                                             n_init=int(c["n_init"]),
                                             max_iter=int(c["max_iter"]),
                                             random_state=self.random_state)
        onehot = sp.csr_matrix((np.ones(len(sample)), (sample_labels, np.arange(len(sample)))),
                               shape=(k, len(sample)))
        centres = _l2(np.asarray(onehot @ zs))
        labels = (z @ centres.T).argmax(1)
        return labels, centres

    def _fit_free(self, z, w, rng):
        c = self._p["clustering"]
        if self.n_clusters == "auto":
            lo, hi = c["k_range"]
            labels, centres = self._cluster(z, w, range(lo, hi + 1), rng)
        else:
            labels, centres = self._cluster(z, w, min(int(self.n_clusters), len(z)), rng)
        self.k_scores_ = self._k_rows if self.n_clusters == "auto" else _EMPTY_K_SCORES
        labels, centres, names = _rename_by_size(labels, centres, w, prefix="cluster")
        return labels, centres, names, np.zeros(len(names), dtype=bool)

    def _anchors(self, docs) -> np.ndarray:
        """The seeded cause each comment names (-1: none, or more than one)."""
        hits = np.column_stack([pd.Series(docs).str.contains(pat).to_numpy() if pat is not None
                                else np.zeros(len(docs), dtype=bool)
                                for pat in self._patterns.values()])
        return np.where(hits.sum(1) == 1, hits.argmax(1), -1)

    def _fit_guided(self, docs, z, w, rng):
        g, c = self._p["guided"], self._p["clustering"]
        self._patterns = seed_patterns(self.seeds, self._lexicon)
        causes = list(self._patterns)
        anchor = self._anchors(docs)
        anchored = anchor >= 0
        # causes that no comment names keep no cluster: there is nothing to anchor them
        present = np.isin(np.arange(len(causes)), anchor[anchored])

        # groups that no seed claims: clusters of an unguided pass with (almost) no anchored
        # comment; they stay discovered clusters instead of being forced into a cause
        lo, hi = c["k_range"]
        free_label, free_centres = self._cluster(
            z, w, range(lo, hi + 1) if self.n_clusters == "auto" else int(self.n_clusters), rng)
        self.k_scores_ = self._k_rows
        total = np.bincount(free_label, weights=w, minlength=len(free_centres))
        claimed = np.bincount(free_label, weights=w * anchored, minlength=len(free_centres))
        unclaimed = ((claimed < g["min_anchored_share"] * total)
                     & (total >= g["min_discovered"]))
        rest = ~anchored & unclaimed[free_label]

        # constrained seeded k-means (anchors never move) over the claimed comments
        onehot = sp.csr_matrix((w[anchored], (anchor[anchored], np.flatnonzero(anchored))),
                               shape=(len(causes), len(z)))
        centres = _l2(np.asarray(onehot @ z))
        label = np.where(anchored, anchor, -1)
        for _ in range(int(c["max_iter"])):
            sim = np.where(present, z @ centres.T, -np.inf)
            new = np.where(anchored, anchor, sim.argmax(1))
            if np.array_equal(new, label):
                break
            label = new
            keep = ~rest
            onehot = sp.csr_matrix((w[keep], (label[keep], np.flatnonzero(keep))),
                                   shape=(len(causes), len(z)))
            centres = np.where(present[:, None], _l2(np.asarray(onehot @ z)), 0.0)

        names, seeded = list(causes), list(present)
        self._free_centres = free_centres
        self._discovered = np.full(len(free_centres), -1)
        if rest.any():
            kept = np.flatnonzero(unclaimed)
            order = np.argsort(-total[kept], kind="stable")
            self._discovered[kept[order]] = np.arange(len(kept)) + len(causes)
            label = np.where(rest, self._discovered[free_label], label)
            extra = free_centres[kept[order]]
            names += [f"cluster_{i + 1:02d}" for i in range(len(kept))]
            seeded += [False] * len(kept)
            centres = np.vstack([centres, extra])
        self._present = np.concatenate([present, np.ones(len(names) - len(causes), bool)])
        self._n_seeded = len(causes)
        return label, centres, names, np.array(seeded)

    # -- prediction ----------------------------------------------------------------------------
    def predict(self, texts) -> np.ndarray:
        """Cluster names of new comments (None where nothing is left after normalisation)."""
        if not hasattr(self, "labels_"):
            raise RootCauseError("this RootCauseModel is not fitted yet; call fit(texts) first")
        with threadpool_limits(limits=self._p["clustering"].get("threads")):
            return self._predict(texts)

    def _predict(self, texts) -> np.ndarray:
        distinct = DistinctComments(texts, self._lexicon)
        labels = np.full(len(distinct.row_doc), UNASSIGNED, dtype=object)
        if len(distinct.docs):
            z = self._embed(distinct.docs)
            doc_label = ((z @ self._centroids.T).argmax(1) if self.seeds is None
                         else self._guided_assign(distinct.docs, z))
            known = distinct.row_doc >= 0
            labels[known] = self._names[doc_label[distinct.row_doc[known]]]
        return labels

    def _guided_assign(self, docs, z) -> np.ndarray:
        k = self._n_seeded
        sim = z @ self._centroids.T
        anchor = self._anchors(docs)
        anchored = anchor >= 0
        anchored &= self._present[:k][np.maximum(anchor, 0)]
        label = np.where(anchored, anchor,
                         np.where(self._present[:k], sim[:, :k], -np.inf).argmax(1))
        # as in fit: a comment of an unguided cluster that no seed claims stays there
        discovered = self._discovered[(z @ self._free_centres.T).argmax(1)]
        return np.where(~anchored & (discovered >= 0), discovered, label)

    # -- description ---------------------------------------------------------------------------
    def _describe(self, docs, z, w, doc_label, quotes, seeded) -> pd.DataFrame:
        c = self._p["clustering"]
        n_top, n_quotes = int(c["top_terms"]), int(c["quotes"])
        vocab = self._lsa.word.get_feature_names_out()
        x = self._lsa.word.transform(docs)
        k = len(self._names)
        member = sp.csr_matrix((w, (doc_label, np.arange(len(docs)))), shape=(k, len(docs)))
        mean_terms = np.asarray((member @ x).todense())
        size = np.asarray(member.sum(1)).ravel()
        typical = (z * self._centroids[doc_label]).sum(1)
        order = np.lexsort((-w, -typical, doc_label))
        ranked = pd.DataFrame({"cluster": doc_label[order], "quote": quotes[order]})
        ranked["quote"] = ranked["quote"].str.slice(0, int(c["quote_max_chars"]))
        top_quotes = (ranked.drop_duplicates().groupby("cluster").head(n_quotes)
                      .groupby("cluster")["quote"].agg(tuple))
        # a label needs content words: terms made only of particles ("не") are skipped
        content = np.array([max(map(len, term.split())) > 2 for term in vocab])
        scores = np.where(content, mean_terms, 0.0)
        top = np.argsort(-scores, axis=1)[:, :n_top]
        labels = [", ".join(self._surface_phrase(vocab[j]) for j in row if score[j] > 0)
                  for row, score in zip(top, scores)]
        frame = pd.DataFrame({
            "cluster": self._names,
            "seeded": np.asarray(seeded, dtype=bool),
            "size": size.astype(np.int64),
            "share": size / size.sum(),
            "label": labels,
            "quotes": top_quotes.reindex(range(k)).apply(
                lambda q: q if isinstance(q, tuple) else ()).to_numpy(),
        })
        return frame.loc[frame["size"] > 0].reset_index(drop=True)

    def _surface_phrase(self, term: str) -> str:
        return " ".join(self._surface.get(t, t) for t in term.split())


def make_model(*, n_clusters: int | str = "auto", use_seeds: bool = True,
               language: Language = "auto", random_state: int | None = None,
               params: dict | None = None) -> RootCauseModel:
    """A :class:`RootCauseModel` from notebook parameters.

    ``n_clusters`` may be a number written as text ("12"), as a papermill parameter is;
    ``use_seeds`` loads the taxonomy seeds of params/taxonomy.yaml.
    """
    if isinstance(n_clusters, str) and n_clusters != "auto":
        if not n_clusters.strip().isdigit():
            raise RootCauseError(f"n_clusters must be 'auto' or a whole number, got "
                                 f"{n_clusters!r}")
        n_clusters = int(n_clusters)
    seeds = load_seeds(params) if use_seeds else None
    return RootCauseModel(n_clusters, seeds=seeds, language=language,
                          random_state=random_state, params=params)


def label_responses(responses: pd.DataFrame, model: RootCauseModel, *, text: str = "comment",
                    score: str = "nps", id_col: str = "response_id", refit: bool = True,
                    params: dict | None = None) -> pd.Series:
    """The cause of every commented answer below 9, as a Series indexed by ``id_col``.

    ``refit=True`` fits ``model`` on these comments (the usual report case: the causes of this
    scope and period); ``refit=False`` predicts with an already fitted model.
    """
    require_columns(responses, [text, score, id_col], table="responses", error=RootCauseError)
    score_max = params_or("taxonomy", params)["scope"]["score_max"]
    chosen = responses.loc[(responses[score] <= score_max) & responses[text].notna()
                           & (responses[text].astype(str).str.strip() != "")]
    comments = chosen[text].reset_index(drop=True)
    labels = model.fit_predict(comments) if refit else model.predict(comments)
    return pd.Series(labels, index=chosen[id_col].to_numpy(), name="cause",
                     dtype="object").dropna().rename_axis(id_col)
