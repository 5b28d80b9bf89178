"""Baselines and metrics the tests and benchmarks measure our models against.

Not part of the package: nothing in ``analysis`` uses them. ``benchmarks`` is a package, so
tests import them too (``from benchmarks.baselines import adjusted_rand``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score

from analysis.rootcause import mask_texts


def baseline_clusters(texts, n_clusters: int, *, random_state: int | None = None) -> np.ndarray:
    """The plain baseline: TF-IDF of character 3-5-grams (``char_wb``) + k-means, n_init=10.

    Used by the tests and benchmarks as the reference our model must beat.
    """
    masked = mask_texts(texts).fillna("")
    x = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit_transform(masked)
    return KMeans(n_clusters=n_clusters, n_init=10, random_state=random_state).fit_predict(x)


def adjusted_rand(truth, labels) -> float:
    """Adjusted Rand index of ``labels`` against ``truth`` (None labels count as one group)."""
    lab = pd.Series(labels, dtype="object").fillna("(none)").astype(str).to_numpy()
    return float(adjusted_rand_score(np.asarray(truth).astype(str), lab))
