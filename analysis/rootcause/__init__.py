"""Root causes of complaint comments: normalise, cluster, label, and measure the NPS impact.

"What exactly went wrong?" Every answer below 9 comes with a short comment, mostly Russian,
some English, with typos. This package turns those comments into causes:

1. :mod:`~analysis.rootcause.reading`: :func:`mask_texts` masks phones, e-mails and VINs
   (:mod:`analysis.privacy`) before anything else reads the text; every quote the package
   returns comes from masked text. :func:`normalize_texts` lower-cases, folds ё into е, drops
   punctuation, numbers, stop words and complaint boilerplate (params/taxonomy.yaml), stems
   every *distinct* word once with the Snowball stemmers (Russian or English by the word's
   script) and maps English service words onto their Russian stems through a glossary, so
   that both languages share one vocabulary; :func:`load_seeds` reads the taxonomy's
   keywords.
2. :mod:`~analysis.rootcause.features`: TF-IDF of stem uni/bigrams plus character 3-5-grams
   inside words, reduced by a frequency-weighted truncated SVD (LSA), which both estimators
   fit.
3. :mod:`~analysis.rootcause.clustering`: :class:`RootCauseModel` clusters the normalised
   comments by landmark spectral clustering of a cosine kNN graph, optionally guided by the
   taxonomy seeds (:func:`make_model`, :func:`label_responses`).
4. :mod:`~analysis.rootcause.classifier`: :class:`RootCauseClassifier` learns the causes from
   the team's labels, the unlabelled comments and the seeds (semi-supervised, calibrated);
   its settings are constructor parameters and :meth:`RootCauseClassifier.from_params` reads
   them from params/taxonomy.yaml. :mod:`~analysis.rootcause.agreement` measures how often it
   agrees with the team (:func:`agreement`), and :mod:`~analysis.rootcause.learning` is what a
   report does with it (:func:`suggest`, :func:`review_queue`, :func:`propose_causes`,
   :func:`learn_causes`).
5. :mod:`~analysis.rootcause.impact`: :func:`cause_impact` and :func:`dealer_cause_matrix`
   measure what each cause costs in NPS, :func:`compare_causes` tests what a report says about
   them, and :func:`top_causes` ranks them with quotes for the report.

The submodules import down that list (reading <- features <- clustering, classifier <-
agreement <- learning; impact reads only reading); this module re-exports their public names.

Why this design (measured; figures in tests/test_rootcause.py and bench_rootcause.py): a
cause is a union of phrasings linked by shared words, not a ball, so on the demo network's
comments k-means in the LSA space recovers the planted causes with ARI about 0.6 and spectral
clustering of the kNN graph about 0.7 (the plain TF-IDF + k-means baseline: 0.3-0.4; NMF on
the same features: 0.2-0.25). Working on distinct comments, a fixed-size graph sample and 40
LSA dimensions makes it several times faster than the baseline and close to linear in the
number of comments.
"""

from analysis.rootcause.agreement import Agreement, agreement, agreement_of, macro_f1
from analysis.rootcause.classifier import Reading, RootCauseClassifier, logit, softmax
from analysis.rootcause.clustering import RootCauseModel, label_responses, make_model
from analysis.rootcause.impact import (
    CauseComparison,
    cause_impact,
    compare_causes,
    dealer_cause_matrix,
    top_causes,
)
from analysis.rootcause.learning import (
    LearnedCauses,
    cause_shares,
    labelled_comments,
    labelling_model,
    learn_causes,
    learning_months,
    propose_causes,
    review_queue,
    suggest,
)
from analysis.rootcause.reading import (
    UNASSIGNED,
    Language,
    RootCauseError,
    load_seeds,
    mask_texts,
    normalize_texts,
)

__all__ = [
    "UNASSIGNED",
    "Agreement",
    "CauseComparison",
    "Language",
    "LearnedCauses",
    "Reading",
    "RootCauseClassifier",
    "RootCauseError",
    "RootCauseModel",
    "agreement",
    "agreement_of",
    "cause_impact",
    "cause_shares",
    "compare_causes",
    "dealer_cause_matrix",
    "label_responses",
    "labelled_comments",
    "labelling_model",
    "learn_causes",
    "learning_months",
    "load_seeds",
    "logit",
    "macro_f1",
    "make_model",
    "mask_texts",
    "normalize_texts",
    "propose_causes",
    "review_queue",
    "softmax",
    "suggest",
    "top_causes",
]
