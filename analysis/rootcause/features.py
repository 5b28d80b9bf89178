"""The features both estimators of :mod:`analysis.rootcause` fit: TF-IDF of stem uni/bigrams
and of character n-grams inside words, reduced by a frequency-weighted truncated SVD (LSA)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize as _l2

__all__ = ["Lsa", "fit_lsa"]


@dataclass(frozen=True)
class Lsa:
    """Fitted word and character vectorisers and the SVD over both."""

    word: TfidfVectorizer
    char: TfidfVectorizer
    svd: TruncatedSVD
    char_weight: float

    def sparse(self, docs) -> sp.csr_matrix:
        """The L2-normalised TF-IDF of ``docs``: words, then characters times ``char_weight``."""
        return _l2(sp.hstack([self.word.transform(docs),
                              self.char_weight * self.char.transform(docs)]).tocsr())

    def embed(self, sparse: sp.csr_matrix) -> np.ndarray:
        """The L2-normalised LSA components of ``sparse`` (:meth:`sparse` features)."""
        return _l2(self.svd.transform(sparse))


def fit_lsa(docs: np.ndarray, weights: np.ndarray, *, word_ngram, char_ngram,
            char_weight: float, min_df: int, svd_components: int, random_state
            ) -> tuple[Lsa, np.ndarray]:
    """TF-IDF of words and character n-grams, then weighted LSA of normalised ``docs``
    (``weights``: how many comments each stands for).

    Returns the fitted :class:`Lsa` and the L2-normalised components of ``docs``.
    """
    min_df = int(min(min_df, max(1, len(docs) // 50)))
    word = TfidfVectorizer(analyzer="word", token_pattern=r"\S+",
                           ngram_range=tuple(word_ngram), min_df=min_df,
                           sublinear_tf=True, dtype=np.float32)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(char_ngram),
                           min_df=min_df, sublinear_tf=True, dtype=np.float32)
    x = _l2(sp.hstack([word.fit_transform(docs),
                       char_weight * char.fit_transform(docs)]).tocsr())
    dims = int(min(svd_components, x.shape[1] - 1, len(docs) - 1))
    svd = TruncatedSVD(n_components=max(dims, 1), random_state=random_state)
    # weighted LSA: a comment written 100 times counts 100 times in the components
    svd.fit(sp.diags(np.sqrt(weights)) @ x)
    return Lsa(word, char, svd, char_weight), _l2(svd.transform(x))
