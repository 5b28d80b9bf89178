"""What makes a batch fast must not change a number: the growth bootstrap split over
processes, the per-frame cache keys, masking and fault keys computed once per distinct text,
and tables masked only on the rows the HTML shows."""

import os

import numpy as np
import pandas as pd
import pytest

from analysis import growth, privacy, repairs, store
from analysis.privacy import EMAIL_MASK, PHONE_MASK, VIN_MASK
from analysis.report import shared
from analysis.report.book import ReportBook


@pytest.fixture(scope="module")
def responses(small_net):
    return store.with_region(small_net.responses, small_net.dealers)


@pytest.mark.parametrize("n_jobs", [2, 3])
def test_growth_bootstrap_on_processes_gives_the_same_numbers(responses, n_jobs):
    one = growth.growth_zones(responses, n_boot=24, random_state=5)
    split = growth.growth_zones(responses, n_boot=24, random_state=5, n_jobs=n_jobs)
    pd.testing.assert_frame_equal(one.table, split.table, check_exact=True)
    np.testing.assert_array_equal(one.uplift_draws, split.uplift_draws)
    assert one.nonconverged == split.nonconverged
    # the fit differs from another seed's (the test can fail)
    other = growth.growth_zones(responses, n_boot=24, random_state=6, n_jobs=n_jobs)
    assert not np.array_equal(one.uplift_draws, other.uplift_draws)


def test_a_callers_generator_ends_where_one_process_leaves_it(responses):
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    growth.growth_zones(responses, n_boot=10, random_state=a)
    growth.growth_zones(responses, n_boot=10, random_state=b, n_jobs=2)
    assert a.random() == b.random()


def test_cache_key_follows_a_changed_frame(responses):
    frame = responses.copy()
    first = shared._content(frame)
    assert shared._content(frame) == first
    changed = frame.assign(nps=frame["nps"].where(frame.index != frame.index[0], 0))
    assert shared._content(changed) != first or frame["nps"].iloc[0] == 0


def _mask_each(series: pd.Series) -> pd.Series:
    """The masking's definition, value by value."""
    return series.map(lambda v: v if not isinstance(v, str) else privacy.mask_pii(
        v, phone=PHONE_MASK, email=EMAIL_MASK, vin=VIN_MASK))


def test_masking_distinct_texts_once_masks_every_row():
    texts = pd.Series(["Call 8 916 123-45-67", None, "mail me: a.b@c.ru", "Call 8 916 123-45-67",
                       "VIN XTA21099071234567 knocks", np.nan, "", "plain"] * 3,
                      index=np.arange(24)[::-1], name="comment")
    out = privacy.mask_pii_series(texts)
    assert out.index.equals(texts.index) and out.name == "comment"
    assert out.tolist() == _mask_each(texts).tolist()
    assert not privacy.contains_pii(out.dropna()).any()


def test_fault_keys_of_distinct_texts_match_the_row_by_row_rule():
    faults = pd.Series([" Стук в передней  подвеске. ", "стук в передней подвеске", "SUS-01",
                        None, "__", "Ёлка"], index=[4, 2, 0, 1, 3, 5])
    out = repairs.normalise_fault(faults)
    assert out.tolist()[:3] == ["стук в передней подвеске"] * 2 + ["sus 01"]
    assert out.isna().tolist() == [False, False, False, True, True, False]
    assert out.iloc[5] == "елка" and out.index.equals(faults.index)


def test_html_masks_the_rows_it_shows_and_counts_the_rest():
    frame = pd.DataFrame({"dealer": [f"Dealer {k} +7 916 123 45 6{k}" for k in range(9)],
                          "nps": np.arange(9.0)})
    html = ReportBook("en").table_html("t", frame, max_rows=3)
    assert "Dealer 0" in html and "Dealer 3" not in html
    assert "916" not in html and "6 more" in html


def _png_pixels(data: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def test_a_chart_drawn_once_is_the_image_savefig_draws_twice():
    import io

    import matplotlib.pyplot as plt

    from analysis.report import book, charts

    summary = pd.DataFrame({"dealer_name": [f"Dealer {k}" for k in range(60)],
                            "compliance": np.linspace(0.2, 1.0, 60)}).assign(
        compliance_low=lambda d: d["compliance"] - 0.1,
        compliance_high=lambda d: (d["compliance"] + 0.1).clip(upper=1))

    def drawn():
        return charts.sla_compliance(summary).figure

    once = _png_pixels(book._render_png(drawn(), dpi=90))
    figure = drawn()
    assert len(figure.axes[0].get_yticklabels()) == 40  # the 20 worst and 20 best of 60
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close("all")
    twice = _png_pixels(book._small_png(buffer.getvalue()))
    assert once.shape == twice.shape
    # the same picture: the edges of glyphs differ by antialiasing at a subpixel offset only
    # (a pixel's shift gives 2.8-4.0 and 1.7-3.0% here)
    assert np.abs(once - twice).mean() < 2
    assert (np.abs(once - twice).max(axis=2) > 60).mean() < 0.015


def test_a_chart_reaching_outside_its_figure_is_left_to_savefig():
    import matplotlib.pyplot as plt

    from analysis.report import book

    figure, ax = plt.subplots(figsize=(4, 2))
    ax.text(1.6, 0.5, "far outside the figure", transform=ax.transAxes)
    assert book._render_png(figure, dpi=90) is None
    plt.close(figure)


@pytest.mark.parametrize("workers", [1, 2])  # 2: the classifier fits in a forked process
def test_regional_reports_of_a_batch_read_the_networks_answers_once(small_net, tmp_path,
                                                                    monkeypatch, workers):
    from analysis.report import batch
    from analysis.report.data import load_report_data

    data_dir = small_net.write(tmp_path / "data")
    month = str(small_net.responses["responded_at"].max().to_period("M") - 1)
    region = sorted(small_net.dealers["region"].unique())[0]
    plain = load_report_data(region=region, month=month, data_dir=data_dir)
    cache = tmp_path / "out" / ".cache"
    from analysis import rootcause

    fitted_in = tmp_path / "fitted-in"
    learn = rootcause.learn_causes

    def recorded(*args, **kwargs):  # which process fitted the classifier
        fitted_in.write_text(str(os.getpid()))
        return learn(*args, **kwargs)

    monkeypatch.setattr(rootcause, "learn_causes", recorded)
    batch._warm(month, store.snapshot(data_dir), cache, workers=workers)
    # with two workers, a forked process beside the growth bootstrap; once, in either case
    assert (int(fitted_in.read_text()) != os.getpid()) == (workers > 1)
    assert len(list(cache.glob("network-responses-*.pkl"))) == 1
    monkeypatch.setenv(shared.CACHE_ENV, str(cache))
    read = load_report_data(region=region, month=month, data_dir=data_dir)
    pd.testing.assert_frame_equal(read.network, plain.network, check_exact=True)
    pd.testing.assert_frame_equal(read.responses, plain.responses, check_exact=True)
    assert len(read.network) > len(read.responses)
    # the classifier of the team's causes: the warm-up's fit, never refitted by a report
    assert len(list(cache.glob("rootcause-learn-*.pkl"))) == 1
    monkeypatch.setattr("analysis.rootcause.learn_causes", _no_refit)
    monkeypatch.setattr(shared, "_recent", shared._Recent(8))  # a kernel of its own: the pickle
    learned = shared.learned_causes(read)
    assert learned is not None and set(learned.months) <= set(read.months)
    shared.forget("network-responses", cache)
    assert not list(cache.glob("network-responses-*.pkl"))
    assert list(cache.glob("growth-*.pkl"))  # the fits stay


def _no_refit(*args, **kwargs):
    raise AssertionError("a regional report refitted a fit the batch had shared")


# --- the cache follows the snapshot and the code ------------------------------------------------
@pytest.fixture()
def two_versions(tmp_path):
    """A store whose responses have two versions: the files of both are on disk at once."""
    from benchmarks import store_trials

    dealers, answers = store_trials.answers(600, months=2, seed=1)
    processed = tmp_path / "processed"
    months = answers["responded_at"].dt.strftime("%Y-%m")
    store.append("dealers", dealers, data_dir=processed)
    store.append("responses", answers.loc[months == months.min()], data_dir=processed)
    older = store.snapshot(processed)
    store.append("responses", answers.loc[months == months.max()], data_dir=processed)
    return processed, older


def test_a_cached_fit_follows_the_snapshot_not_the_files_on_disk(two_versions, tmp_path,
                                                                 monkeypatch):
    processed, older = two_versions
    cache, calls = tmp_path / "cache", []

    def fit():
        calls.append(1)
        return len(calls)

    def cached(data_dir):
        return shared.cached("fit", fit, data_dir=data_dir, directory=cache, remember=False)

    latest = store.snapshot(processed)
    assert cached(latest) == 1
    assert cached(processed) == 1  # the latest versions, however named
    assert cached(store.snapshot(processed, as_of=latest.spec)) == 1  # another process's
    # --as-of the older version (a batch killed at the latest left its pickles): a new key
    assert cached(store.snapshot(processed, as_of=older.spec)) == 2
    assert cached(older) == 2
    # the code changed since the pickles were written: a new key, not a stale hit
    monkeypatch.setattr(shared, "code_identity", lambda: "the code after a change")
    assert cached(latest) == 3


def test_the_code_identity_changes_with_any_source_file(tmp_path):
    import shutil
    from pathlib import Path

    package = tmp_path / "analysis"
    shutil.copytree(Path(shared.__file__).resolve().parents[1], package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = shared._source_hash(package)
    assert shared._source_hash(package) == before
    nps = package / "nps.py"
    nps.write_text(nps.read_text(encoding="utf-8").replace("def ", "def  ", 1),
                   encoding="utf-8")
    assert shared._source_hash(package) != before
    assert shared.code_identity() == shared.code_identity()  # once per process


def test_a_pickle_cut_short_or_a_killed_write_is_never_trusted(two_versions, tmp_path):
    processed, _ = two_versions
    cache, calls = tmp_path / "cache", []

    def fit():
        calls.append(1)
        return {"fit": len(calls)}

    def cached():
        return shared.cached("fit", fit, data_dir=processed, directory=cache, remember=False)

    assert cached() == {"fit": 1}
    (pickle_file,) = cache.glob("fit-*.pkl")
    (cache / f".{pickle_file.name}.123-abcd.tmp").write_bytes(b"half a pickle")  # a kill
    assert cached() == {"fit": 1}  # the temporary file is no entry
    pickle_file.write_bytes(pickle_file.read_bytes()[:10])  # the machine crashed mid-write
    assert cached() == {"fit": 2}  # computed again, and written anew
    assert cached() == {"fit": 2}
