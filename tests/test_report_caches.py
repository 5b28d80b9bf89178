"""The batch's cache knows what its values follow from: a new store version, a changed params
file and changed code are each a new key (never a stale hit), an unchanged call hits; the
process's memos are bounded and never keyed by ``id``; a warm-up that fails says so."""

import gc
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from analysis import store
from analysis.config import PARAMS_DIR
from analysis.report import batch, shared


@pytest.fixture()
def processed(tmp_path):
    """A small store: dealers and one month of answers (a second month appended by a test
    is a new version)."""
    from benchmarks import store_trials

    dealers, answers = store_trials.answers(400, months=2, seed=3)
    months = answers["responded_at"].dt.strftime("%Y-%m")
    path = tmp_path / "processed"
    store.append("dealers", dealers, data_dir=path)
    store.append("responses", answers.loc[months == months.min()], data_dir=path)
    return path, answers.loc[months == months.max()]


@pytest.fixture()
def counted(tmp_path):
    """``cached(compute=None)``: shared.cached of a counting fit in a cache folder of its
    own, with no memo in the process (each call reads the folder as another process would);
    ``calls`` counts the fits."""
    calls: list[int] = []

    def fit():
        calls.append(1)
        return len(calls)

    def cached(data_dir, compute=None, **kwargs):
        return shared.cached("fit", compute or fit, data_dir=data_dir,
                             directory=tmp_path / "cache", remember=False, **kwargs)

    cached.calls = calls
    return cached


def test_an_unchanged_call_hits_and_a_new_store_version_misses(processed, counted):
    path, later = processed
    assert counted(store.snapshot(path)) == 1
    assert counted(store.snapshot(path)) == 1
    assert counted(path) == 1  # the latest versions, however named
    store.append("responses", later, data_dir=path)  # an ingest: a new version
    assert counted(store.snapshot(path)) == 2
    assert counted(store.snapshot(path)) == 2


def test_a_changed_params_file_is_a_new_key(processed, counted, tmp_path, monkeypatch):
    from analysis import config

    path, _ = processed
    params = tmp_path / "params"
    shutil.copytree(PARAMS_DIR, params)
    monkeypatch.setattr(config, "PARAMS_DIR", params)  # what load_params reads now
    assert counted(path) == 1
    assert counted(path) == 1
    labels = params / "labels.yaml"
    labels.write_text(labels.read_text(encoding="utf-8") + "\n# words only\n",
                      encoding="utf-8")
    assert counted(path) == 1  # words do not change a fit
    flags = params / "flags.yaml"
    flags.write_text(flags.read_text(encoding="utf-8").replace("q: 0.1", "q: 0.05"),
                     encoding="utf-8")
    assert "q: 0.05" in flags.read_text(encoding="utf-8")
    assert counted(path) == 2
    assert counted(path) == 2
    # another params folder, named in the call (a Settings' params_dir)
    monkeypatch.setattr(config, "PARAMS_DIR", PARAMS_DIR)
    assert counted(path, params_dir=params) == 2
    assert counted(path) == 1  # the repository's params: their entry is still there


def test_a_changed_setting_is_a_new_key(processed, counted, tmp_path):
    from analysis.settings import Settings

    path, _ = processed
    settings = Settings.from_params()
    assert counted(path, settings=settings) == 1
    assert counted(path, settings=Settings.from_params()) == 1  # equal settings: a hit
    assert counted(path, settings=settings.with_(n_boot=50)) == 2
    assert counted(path, settings=settings.with_(level=0.9)) == 3
    assert counted(path, settings=settings.with_(language="ru")) == 1  # words: shared
    params = tmp_path / "params"
    shutil.copytree(PARAMS_DIR, params)
    assert counted(path, settings=Settings.from_params(params)) == 1  # the same contents
    (params / "growth.yaml").write_text((PARAMS_DIR / "growth.yaml").read_text(
        encoding="utf-8") + "\n# a comment is a change of the file\n", encoding="utf-8")
    assert counted(path, settings=Settings.from_params(params)) == 4


def _module(folder, source: str, name: str = "fits_of_a_test"):
    """``source`` imported as a module of its own, as a notebook's or a test's code is."""
    file = folder / f"{name}.py"
    file.write_text(textwrap.dedent(source), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fit_module(folder, body: str, *, above: str = "", signature: str = ""):
    """A module of a test whose ``fit`` records its calls in ``CALLS`` and returns ``body``."""
    return _module(folder, above + textwrap.dedent(f"""
        CALLS = []

        def fit({signature}):
            CALLS.append(1)
            return {body}
    """))


def test_a_changed_function_is_a_new_key(processed, counted, tmp_path, monkeypatch):
    path, _ = processed
    first = _fit_module(tmp_path, '{"uplift": 1.0}')
    assert counted(path, first.fit) == {"uplift": 1.0} and first.CALLS == [1]
    # the same code moved, commented and imported again: the same key, a hit
    moved = _fit_module(tmp_path, '{"uplift": 1.0}', above="# a comment\n\n\n\n")
    assert counted(path, moved.fit) == {"uplift": 1.0} and moved.CALLS == []
    # its body changed: a new key
    changed = _fit_module(tmp_path, '{"uplift": 2.0}')
    assert counted(path, changed.fit) == {"uplift": 2.0} and changed.CALLS == [1]
    again = _fit_module(tmp_path, '{"uplift": 2.0}')
    assert counted(path, again.fit) == {"uplift": 2.0} and again.CALLS == []
    # a default changed: a new key
    draws = _fit_module(tmp_path, '{"draws": draws}', signature="draws=200")
    assert counted(path, draws.fit) == {"draws": 200}
    more = _fit_module(tmp_path, '{"draws": draws}', signature="draws=400")
    assert counted(path, more.fit) == {"draws": 400} and more.CALLS == [1]
    # the package's code changed (any analysis/**/*.py): a new key for every function
    monkeypatch.setattr(shared, "code_identity", lambda: "the package after a change")
    after = _fit_module(tmp_path, '{"uplift": 2.0}')
    assert counted(path, after.fit) == {"uplift": 2.0} and after.CALLS == [1]


def test_a_function_has_the_same_key_in_every_process(tmp_path):
    """The batch and each report's kernel are processes of their own, with their own string
    hashes (a set's order): the key of one function must agree among them."""
    _module(tmp_path, """
        def fit(answers, kinds=("count", "share")):
            wanted = {"count", "share", "nps"}
            return [k for k in kinds if k in wanted and (lambda s: s)(k)]
    """)
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import fits_of_a_test as m; "
              "from analysis.report.shared import function_identity as f; print(f(m.fit))")
    keys = {subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True,
                           capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
            for seed in ("1", "2", "3")}
    assert len(keys) == 1 and len(next(iter(keys))) == 64


def test_function_identity_of_partials_and_callable_objects():
    import functools

    def fit(draws, seed=0):
        return draws + seed

    class Fit:
        def __call__(self):
            return 1

    assert shared.function_identity(functools.partial(fit, 5)) == shared.function_identity(fit)
    assert shared.function_identity(Fit()) == shared.function_identity(Fit.__call__)
    assert shared.function_identity(len) != shared.function_identity(sum)


# --- the process's memos ----------------------------------------------------------------------

def test_the_in_process_memo_is_bounded(processed, monkeypatch, tmp_path):
    path, _ = processed
    recent = shared._Recent(maxsize=3)
    monkeypatch.setattr(shared, "_recent", recent)
    calls = []

    def cached(k, compute):
        return shared.cached("fit", compute, data_dir=path, key=(k,), code=())

    for k in range(10):
        cached(k, lambda k=k: calls.append(k) or k)
    assert len(recent) == 3 and len(calls) == 10
    assert cached(9, lambda: pytest.fail("remembered, so not computed")) == 9
    assert cached(0, lambda: "computed again") == "computed again"  # the oldest went


def test_a_fingerprint_lives_with_its_frame_and_never_by_id(monkeypatch):
    memo = shared.PerObject(maxsize=4)
    monkeypatch.setattr(shared, "_fingerprints", memo)
    frames = [pd.DataFrame({"response_id": [f"r{k}"], "nps": [k]}) for k in range(6)]
    prints = [shared._content(f) for f in frames]
    assert len(set(prints)) == 6 and len(memo) == 4  # bounded
    assert shared._content(frames[5]) == prints[5]
    assert shared._content(frames[5].assign(nps=99)) != prints[5]  # a changed copy
    del frames
    gc.collect()
    assert len(memo) <= 4
    # a new frame (which may take a dead one's id) is hashed, never taken for the old one
    for k in range(50):
        frame = pd.DataFrame({"response_id": ["r0"], "nps": [100 + k]})
        assert shared._content(frame) == (1, int(pd.util.hash_pandas_object(
            frame[["response_id", "nps"]], index=False).sum()))
        del frame
    assert len(memo) <= 4


def test_a_frame_is_hashed_once_while_it_lives(monkeypatch):
    monkeypatch.setattr(shared, "_fingerprints", shared.PerObject(maxsize=8))
    frame = pd.DataFrame({"response_id": ["a", "b"], "nps": [9, 3]})
    hashed = []
    original = pd.util.hash_pandas_object
    monkeypatch.setattr(pd.util, "hash_pandas_object",
                        lambda *a, **k: hashed.append(1) or original(*a, **k))
    first = shared._content(frame)
    assert [shared._content(frame) for _ in range(5)] == [first] * 5
    assert len(hashed) == 1


def test_values_per_object_live_with_the_object():
    """:class:`shared.PerObject` (the frames' fingerprints): once per object while it lives,
    bounded, never by ``id``."""
    memo = shared.PerObject(maxsize=3)

    class Data:  # any object a weak reference can hold
        pass

    first, made = Data(), []
    assert [memo.get(first, "ranking", lambda: made.append(1) or len(made))
            for _ in range(3)] == [1, 1, 1]
    second = Data()
    assert memo.get(second, "ranking", lambda: "second's") == "second's"
    del first
    gc.collect()
    assert len(memo) == 1  # the dead object's value went with it
    for k in range(5):
        memo.get(second, f"table {k}", lambda k=k: k)
    assert len(memo) == 3  # bounded


def test_no_memo_of_the_module_is_an_unbounded_dict():
    held = {name: value for name, value in vars(shared).items()
            if isinstance(value, dict) and not name.startswith("__")}
    assert held == {}, f"process-global dicts in analysis/report/shared.py: {sorted(held)}"


# --- the batch's warm-up ----------------------------------------------------------------------

def _cheap_fits(monkeypatch, *, failing: str | None = None):
    """The warm-up's fits replaced by cheap ones that write the cache as the real ones do;
    ``failing`` (a name of shared) raises."""
    def fake(name):
        def fit(data, *, directory=None, **kwargs):
            if name == failing:
                raise RuntimeError(f"{name} could not be fitted")
            return shared.cached(name.replace("_", "-"), lambda: name, data_dir=data.data_dir,
                                 directory=directory, remember=False)
        return fit

    for name in ("growth_result", "cause_model", "learned_causes"):
        monkeypatch.setattr(shared, name, fake(name))
    monkeypatch.setattr(shared, "growth_need", lambda data: (type("Ok", (), {"ok": True}), ()))


def _warm_failing(small_net, tmp_path, monkeypatch, failing: str, **options):
    """A warm-up of the small network's month before last whose ``failing`` fit raises:
    (month, data_dir, cache, logs, the failed steps)."""
    data_dir = small_net.write(tmp_path / "data")
    month = str(small_net.responses["responded_at"].max().to_period("M") - 1)
    cache, logs = tmp_path / "out" / ".cache", tmp_path / "out" / "logs"
    _cheap_fits(monkeypatch, failing=failing)
    failed = batch._warm(month, store.snapshot(data_dir), cache, logs=logs, **options)
    return month, data_dir, cache, logs, failed


def test_a_failing_warm_up_is_reported_and_the_rest_is_shared(small_net, tmp_path,
                                                              monkeypatch, capsys):
    month, data_dir, cache, logs, failed = _warm_failing(small_net, tmp_path, monkeypatch,
                                                         "growth_result")
    assert failed == ["the growth model"]
    err = capsys.readouterr().err
    assert "batch warm-up: the growth model failed (RuntimeError: growth_result could not be " \
           "fitted)" in err and str(logs / batch.WARM_LOG) in err
    log = (logs / batch.WARM_LOG).read_text(encoding="utf-8-sig")
    assert "failed: the growth model: RuntimeError" in log and "Traceback" in log
    assert month in log
    # the steps after the failure still ran: the reports read those
    assert {p.name.split("-")[0] for p in cache.glob("*.pkl")} == {"cause", "learned",
                                                                   "network"}
    assert not list(cache.glob("growth-*.pkl"))  # each report fits it without the cache
    # the next batch's warm-up succeeds: the old failure is history
    _cheap_fits(monkeypatch)
    assert batch._warm(month, store.snapshot(data_dir), cache, logs=logs) == []
    assert not (logs / batch.WARM_LOG).exists()
    assert list(cache.glob("growth-*.pkl"))


def test_a_warm_up_that_cannot_read_the_data_is_reported(tmp_path, monkeypatch, capsys):
    import analysis.report.data as data_module

    def unreadable(**kwargs):
        raise OSError("the store is on a disk that went away")

    monkeypatch.setattr(data_module, "load_report_data", unreadable)
    failed = batch._warm("2026-10", tmp_path / "nowhere", tmp_path / ".cache")
    assert failed == ["the network's report data"]
    assert "the store is on a disk that went away" in capsys.readouterr().err
    assert not (tmp_path / "logs").exists()  # no logs folder named: stderr only


def test_a_classifier_that_fails_in_its_own_process_is_reported(small_net, tmp_path,
                                                                monkeypatch, capsys):
    _, _, cache, logs, failed = _warm_failing(small_net, tmp_path, monkeypatch,
                                              "learned_causes", workers=2)
    assert failed == ["the root-cause classifier"]
    err = capsys.readouterr().err
    assert "the root-cause classifier's own process exited with code 1" in err
    assert "batch warm-up: the root-cause classifier failed" in err
    assert "learned_causes could not be fitted" in (logs / batch.WARM_LOG).read_text(
        encoding="utf-8-sig")
    assert list(cache.glob("growth-*.pkl")) and list(cache.glob("cause-*.pkl"))


def test_a_batch_whose_warm_up_fails_logs_it_and_renders_its_reports(demo, tmp_path,
                                                                     monkeypatch, capsys):
    """The whole batch (kernels stood in for): the failure in the month's logs/, the reports
    rendered all the same."""
    from report_pages import fake_execute

    monkeypatch.setattr("papermill.execute_notebook", fake_execute)
    _cheap_fits(monkeypatch, failing="cause_model")
    out = tmp_path / "out"
    results = batch.run_batch("2026-10", ["Central"], data_dir=demo, out_dir=out,
                              languages=["en"], progress=False, formats=("html",))
    assert [r.ok for r in results] == [True]
    log = out / "logs" / batch.WARM_LOG
    assert "failed: the root-cause model: RuntimeError" in log.read_text(encoding="utf-8-sig")
    assert f"Log: {log}" in capsys.readouterr().err
    assert batch.index_entries(out)  # the log is no report of the index
    assert all(e.log is None for e in batch.index_entries(out))
