"""Root causes: our end-to-end clustering against the plain TF-IDF + k-means baseline.

The texts are the demo network's complaint comments (``synthetic.demo_comments``: the
synthetic cause templates with typos, English and contacts), 100k of them, and 1M for the
scaling row. The baseline is what an analyst would write first: ``TfidfVectorizer(char_wb,
3-5)`` + ``KMeans(k = true number of causes, n_init=10)`` on the same texts. Ours is
``RootCauseModel("auto")`` end to end (masking, normalisation, features, choosing k, labels
and quotes). Each side is timed once after a warm-up on a small set: a second 100k baseline
run would add a minute and tell nothing new.

Our model fits with one BLAS/OpenMP thread (params/taxonomy.yaml ``clustering.threads``:
measured faster on 2-core machines). The target row times the baseline as written, with the
library defaults; a second row times it on one thread too, so the comparison is visible both
ways.
"""

from __future__ import annotations

import gc
import time

from threadpoolctl import threadpool_limits

from analysis import rootcause as rc
from analysis.synthetic import demo_comments
from benchmarks._common import ratio_row
from benchmarks.baselines import adjusted_rand, baseline_clusters


def _timed(fn):
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run(quick: bool = False) -> list[dict]:
    n = 3_000 if quick else 100_000
    big = 10 * n
    texts = demo_comments(big, random_state=2024)
    small = texts.iloc[:n]
    k = small["cause"].nunique()

    warm = small.iloc[:500]
    rc.RootCauseModel(random_state=0).fit(warm["text"])
    baseline_clusters(warm["text"], k, random_state=0)

    base_s, base_labels = _timed(lambda: baseline_clusters(small["text"], k, random_state=0))
    with threadpool_limits(1):
        base1_s, _ = _timed(lambda: baseline_clusters(small["text"], k, random_state=0))
    ours_s, model = _timed(lambda: rc.RootCauseModel(random_state=0).fit(small["text"]))
    big_s, big_model = _timed(lambda: rc.RootCauseModel(random_state=0).fit(texts["text"]))
    guided_s, guided = _timed(lambda: rc.RootCauseModel(seeds=rc.load_seeds(),
                                                        random_state=0).fit(small["text"]))

    base_ari = adjusted_rand(small["cause"], base_labels)
    ours_ari = adjusted_rand(small["cause"], model.labels_)
    big_ari = adjusted_rand(texts["cause"], big_model.labels_)
    accuracy = (guided.labels_ == small["cause"].to_numpy()).mean()
    label = f"{n // 1000}k" if n >= 1000 else str(n)
    big_label = f"{big // 1000}k" if big < 1_000_000 else f"{big // 1_000_000}M"
    return [
        ratio_row(f"rootcause {label}: ours (auto k) vs plain baseline", ours_s,
                  f"tfidf char_wb 3-5 + KMeans k={k}", base_s, max_ratio=0.5,
                  note=f"ARI ours {ours_ari:.3f} (k={model.n_clusters_}) vs baseline "
                       f"{base_ari:.3f}; {'beats' if ours_ari > base_ari else 'DOES NOT beat'}"
                       " the baseline"),
        ratio_row(f"rootcause {label}: ours vs baseline on one thread", ours_s,
                  "the same baseline, 1 BLAS/OpenMP thread", base1_s,
                  note="both sides single-threaded"),
        ratio_row(f"rootcause {big_label} vs {label} (10x texts)", big_s,
                  f"ours on {label}", ours_s, max_ratio=12,
                  note=f"ARI at {big_label} {big_ari:.3f} (k={big_model.n_clusters_}); "
                       f"baseline ARI at {label} {base_ari:.3f}"),
        ratio_row(f"rootcause {label}: seeded vs unguided", guided_s, "ours unguided", ours_s,
                  note=f"seeded model assigns {accuracy:.1%} of comments to their true cause"),
    ]
