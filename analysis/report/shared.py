"""The network-wide fits a report needs, computed once per batch and shared by its reports.

A regional report needs four things fitted on the whole network: the growth model
(:func:`analysis.growth.growth_zones`, the slow one), the root-cause model of the month's
comments, the root-cause classifier learnt from the team's labels (with its cross-validated
agreement) and the network's driver importance. Each is computed once per process (a report
asks several sections for it) and, when a cache directory is given, once per batch.

The key of a cached value
-------------------------
A value is pickled under a key made of everything its numbers follow from, so that another
version of any of them is a new key and never a stale hit:

- the data: the snapshot it was computed on (every table's version and commit time,
  :func:`data_identity`: a new ingest, or ``--as-of`` an older one) and a fingerprint of the
  frames it reads (:func:`_content`: a frame changed in memory);
- the params: every params file's contents (:func:`params_identity`, the directory
  :mod:`analysis.config` reads at the time of the call);
- the code: the package's source with the versions of Python and of the libraries that fit
  and pickle (:func:`code_identity`: a change to :mod:`analysis.growth` is a change to the
  growth model's key), and the code of the function that computes the value
  (:func:`function_identity`: its bytecode, constants, names and defaults, so a function
  defined outside the package, a notebook's or a test's, is covered too);
- the call's arguments (months, drivers, draws).

A pickle is written under a temporary name, flushed to disk and renamed when complete, so
parallel workers and forked processes never read half of one; one that cannot be read back
is computed again.

Why not :class:`joblib.Memory`
------------------------------
It was considered and not chosen; the hand-written key above does what it would and more:

- joblib's code check covers the decorated function's own source only, not the package's
  functions it calls (:func:`analysis.growth.growth_zones` for the growth model): the
  package's hash would have to be passed as an argument anyway;
- it hashes its arguments by pickling them: the network's answers (hundreds of megabytes
  at importer scale) on every call, where the key here reads the store's versions and a
  column fingerprint made once per frame;
- on a changed function it wipes that function's whole folder, so two checkouts (or a
  batch ``--as-of`` beside one at the latest versions, run by other code) that share a
  month's folder undo each other's entries; here each key is a file of its own;
- it renames its pickle into place without flushing it to disk first (a machine that
  crashes may leave an empty file under the final name), and its fits would have to be
  module-level functions with their data arguments ignored, where the report's are closures.

In the process
--------------
No memo here is unbounded or keyed by an object's ``id``: the last few values asked for are
kept by key (:class:`_Recent`), and a frame's fingerprint is remembered for as long as the
frame lives, found by identity through a weak reference (:class:`PerObject`). A report's own
values are memoised by its data (:meth:`analysis.report.data.ReportData.memo`).

The batch runner (:func:`analysis.report.batch.run_batch`) computes those every report
reads in the parent process before the notebooks start, so parallel workers read them instead
of racing to fit the same model; the network's importance, which only the network report
reads, is fitted there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import inspect
import os
import pickle
import secrets
import sys
import time
import types
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import cache
from pathlib import Path

import pandas as pd

from analysis.config import data_dir as resolve_data_dir

__all__ = ["CACHE_ENV", "PerObject", "cache_dir", "cached", "cause_model", "code_identity",
           "data_identity", "forget", "forget_in_process", "function_identity", "growth_need",
           "growth_result", "learned_causes", "network_importance", "network_responses",
           "params_identity"]

CACHE_ENV = "DEALER_VOICE_REPORT_CACHE"


def data_identity(data_dir: str | os.PathLike | None) -> str:
    """A hash of the snapshot a fit reads: the store's directory, every table's version with
    its commit time (a table written anew at the same path is another), and the size and
    time of each single-file table (the demo generator's). A :class:`analysis.store.Snapshot`
    is taken as it is (``--as-of``: the versions it pins); a directory at its latest
    versions. Not the files on disk: those of every version are there at once, so a file
    listing is the same for the latest versions and for ``--as-of`` an older one."""
    from analysis import store
    from analysis.table_specs import TABLES

    snap = store.snapshot(data_dir)
    root = Path(resolve_data_dir(snap)).resolve()
    h = hashlib.sha256(str(root).encode())
    for table, version in sorted(snap.versions.items()):
        when = snap.committed.get(table)
        h.update(f"{table}={version}@{when.value if when is not None else ''}\n".encode())
    for table in TABLES:
        single = root / f"{table}.parquet"
        if single.is_file():
            st = single.stat()
            h.update(f"{single.name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


@cache
def code_identity() -> str:
    """A hash of the code that computed a cached result: the package's source (every
    ``analysis/**/*.py``), Python's version and the versions of the libraries that fit and
    pickle (a pickle of another scikit-learn may not load, or not mean the same)."""
    from importlib import metadata

    h = hashlib.sha256(_source_hash(Path(__file__).resolve().parents[1]).encode())
    h.update(sys.version.encode())
    for name in ("numpy", "pandas", "scipy", "scikit-learn", "statsmodels", "pyarrow"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            h.update(f"{name}={metadata.version(name)}\n".encode())
    return h.hexdigest()


def _source_hash(package: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def function_identity(func: Callable) -> str:
    """A hash of what ``func`` runs: its code's bytecode, constants (the code of the functions
    it defines among them), the names it reads and its defaults; not its file, line or
    comments. A ``functools.partial`` is its function's (its arguments belong in the key);
    a callable object its ``__call__``'s."""
    while True:
        if isinstance(func, functools.partial):
            func = func.func
        elif hasattr(func, "__wrapped__"):
            func = inspect.unwrap(func)
        else:
            break
    if getattr(func, "__code__", None) is None and hasattr(
            getattr(type(func), "__call__", None), "__code__"):  # noqa: B004 - its code
        func = type(func).__call__  # a callable object: what its calls run
    code = getattr(func, "__code__", None)
    if code is None:  # a builtin: its name is all there is
        return hashlib.sha256(repr(getattr(func, "__qualname__", func)).encode()).hexdigest()
    h = hashlib.sha256()
    _hash_code(code, h)
    h.update(_stable_repr(getattr(func, "__defaults__", None)).encode())
    h.update(_stable_repr(getattr(func, "__kwdefaults__", None)).encode())
    return h.hexdigest()


def _hash_code(code: types.CodeType, h) -> None:
    h.update(code.co_code)
    h.update(repr((code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars,
                   code.co_argcount, code.co_kwonlyargcount, code.co_flags)).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _hash_code(const, h)
        else:
            h.update(_stable_repr(const).encode() + b"\0")


def _stable_repr(value) -> str:
    """``repr`` the same in every process: a set's members sorted (their order follows the
    strings' hash, which differs from process to process)."""
    if isinstance(value, frozenset | set):
        return "{" + ",".join(sorted(map(_stable_repr, value))) + "}"
    if isinstance(value, tuple | list):
        return "(" + ",".join(map(_stable_repr, value)) + ")"
    if isinstance(value, dict):
        return "{" + ",".join(sorted(f"{_stable_repr(k)}:{_stable_repr(v)}"
                                     for k, v in value.items())) + "}"
    return repr(value)


def params_identity(params_dir: str | os.PathLike | None = None) -> str:
    """A hash of every params file's contents (thresholds, seeds, weights): those of
    ``params_dir``, else of the directory :mod:`analysis.config` reads now."""
    from analysis import config

    h = hashlib.sha256()
    for path in sorted(Path(params_dir or config.PARAMS_DIR).glob("*.yaml")):
        if path.name != "labels.yaml":  # words do not change a fit
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def cache_dir(value: str | os.PathLike | None = None) -> Path | None:
    """The batch's cache directory: ``value``, else ``$DEALER_VOICE_REPORT_CACHE``, else none."""
    chosen = value or os.environ.get(CACHE_ENV)
    return Path(chosen) if chosen else None


class _Recent:
    """The last ``maxsize`` values remembered, by key; the least recently used goes first."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, object] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable, default=None):
        if key not in self._items:
            return default
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: Hashable, value) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


# a report's fits (growth, causes, classifier, importance) and a dealer page's, with room
_recent = _Recent(maxsize=8)


def forget_in_process() -> None:
    """Forget the values this process remembers (a test's fresh kernel: the pickles only)."""
    _recent.clear()
    _fingerprints.clear()


def cached(name: str, compute: Callable[[], object], *, data_dir, key: tuple = (),
           directory=None, remember: bool = True, code: tuple[Callable, ...] | None = None,
           params_dir: str | os.PathLike | None = None, settings=None):
    """``compute()``, remembered in this process (unless not ``remember``) and pickled in
    the cache directory, under a key of the snapshot ``data_dir``, the params (of
    ``params_dir``, else of ``settings``' directory, else :mod:`analysis.config`'s), the
    package's code, ``key``, the code of ``code`` (default: ``compute``'s own; ``()`` when
    callers' different functions read the same value and the package's code is all that
    decides it) and, when the value follows from a run's :class:`analysis.settings.Settings`,
    its fields (but its language). What ``compute`` reads from its closure is not hashed
    (the report's data): what of it decides the value belongs in ``key``."""
    functions = (compute,) if code is None else tuple(code)
    decided = () if settings is None else tuple(
        (f.name, getattr(settings, f.name)) for f in dataclasses.fields(settings)
        # the directory's contents are keyed, not its name; the language is words, not a fit
        # (the English and Russian reports of a batch share theirs)
        if f.name not in ("params_dir", "language"))
    if params_dir is None and settings is not None:
        params_dir = settings.params_dir
    ident = hashlib.sha256(repr((
        name, data_identity(data_dir), params_identity(params_dir), code_identity(),
        tuple(function_identity(f) for f in functions), decided, key)).encode()
    ).hexdigest()[:24]
    value = _recent.get(ident, _MISSING)
    if value is not _MISSING:
        return value
    folder = cache_dir(directory)
    path = folder / f"{name}-{ident}.pkl" if folder else None
    value = _read(path) if path is not None else _MISSING
    if value is _MISSING:
        value = compute()
        if path is not None:
            _write(path, value)
    if remember:
        _recent.put(ident, value)
    return value


_MISSING = object()


def _read(path: Path):
    """The pickle at ``path``, or ``_MISSING`` when there is none or it cannot be read back
    (cut short by a crash of the machine: computed again and written anew)."""
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except FileNotFoundError:
        return _MISSING
    except Exception:  # noqa: BLE001 - any pickle that does not load is no cache entry
        path.unlink(missing_ok=True)
        return _MISSING


def _write(path: Path, value) -> None:
    """Pickle ``value`` under a temporary name, flushed to disk, then renamed into place: a
    batch killed while writing leaves only the temporary file, which no run reads (and the
    next write of the folder deletes once it is an hour old)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob("*.tmp"):
        try:
            if time.time() - stale.stat().st_mtime > 3600:
                stale.unlink()
        except OSError:
            pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    with tmp.open("wb") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def forget(name: str, directory=None) -> None:
    """Delete the cache directory's pickles of ``name`` (a batch's large intermediates)."""
    folder = cache_dir(directory)
    for path in folder.glob(f"{name}-*.pkl") if folder and folder.is_dir() else ():
        path.unlink(missing_ok=True)


def network_responses(data_dir, months, compute, *, directory=None) -> pd.DataFrame:
    """The whole network's answers of the report's months, as ``compute()`` reads them from
    the store. In a batch (a cache directory) the batch reads them once and every regional
    report unpickles them: several times cheaper than reading the store and joining the
    dealers again. Without a cache directory: ``compute()``."""
    if cache_dir(directory) is None:
        return compute()
    # the batch's and a report's ``compute`` are functions of their own that read the same
    # rows through the package's code (whose hash is in the key): not keyed by their code
    return cached("network-responses", compute, data_dir=data_dir, key=(tuple(months),),
                  directory=directory, remember=False, code=())


class PerObject:
    """Values computed from an object, remembered while it lives: the last ``maxsize``
    (object, key) pairs, each object held by a weak reference and found by identity, never
    by ``id`` (which a new object may take once the old one is gone). ``stamp`` is checked
    too (a frame's shape): a value made when the object had another stamp is made again.

    >>> memo = PerObject(maxsize=2)
    >>> class Report: ...
    >>> report = Report()
    >>> memo.get(report, "ranking", lambda: 1), memo.get(report, "ranking", lambda: 2)
    (1, 1)
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: list[tuple[weakref.ref, Hashable, Hashable, object]] = []

    def __len__(self) -> int:
        self._forget_the_dead()
        return len(self._entries)

    def _forget_the_dead(self) -> None:
        self._entries = [e for e in self._entries if e[0]() is not None]

    def get(self, obj, key: Hashable, make: Callable[[], object], *, stamp: Hashable = None):
        """The value of ``key`` for ``obj``: remembered, else ``make()`` (then remembered)."""
        self._forget_the_dead()
        for k, (ref, known_key, known_stamp, value) in enumerate(self._entries):
            if ref() is obj and known_key == key and known_stamp == stamp:
                self._entries.append(self._entries.pop(k))
                return value
        value = make()
        self._entries = [e for e in self._entries if not (e[0]() is obj and e[1] == key)]
        self._entries.append((weakref.ref(obj), key, stamp, value))
        del self._entries[:-self.maxsize]
        return value

    def clear(self) -> None:
        self._entries.clear()


_fingerprints = PerObject(maxsize=8)  # the frames of a report or two


_ANSWER_COLUMNS = ("response_id", "dealer_id", "nps", "comment")


def _content(frame: pd.DataFrame | None, columns: tuple[str, ...] = _ANSWER_COLUMNS) -> tuple:
    """A cheap fingerprint of the answers a fit reads (``columns``: those it depends on), so
    that frames changed in memory (a test's, a notebook's) never hit a fit of other data from
    the same store. Hashed once per frame object while it lives (a report asks for its fits
    from several sections; a frame changed in place keeps its shape, so change frames by
    making new ones, as pandas' methods do)."""
    if frame is None or frame.empty:
        return (0,)

    def make() -> tuple:
        cols = [c for c in columns if c in frame]
        return (len(frame), int(pd.util.hash_pandas_object(frame[cols], index=False).sum()))

    return _fingerprints.get(frame, tuple(columns), make, stamp=frame.shape)


def _growth_columns() -> tuple[str, ...]:
    """What the growth model reads of an answer: dealer, region, score and the ratings."""
    from analysis import drivers

    return ("dealer_id", "region", "nps", *drivers.driver_names())


def growth_need(data):
    """Whether the network's data allows the growth model (the report data's coverage of
    ``growth_zones``: driver ratings and at least two dealers in the report month), and on
    which drivers: the verdict and the drivers rated often enough over the model's months."""
    from analysis import coverage

    return data.need("growth_zones"), coverage.rated_drivers(data.network)


def growth_result(data, *, directory=None, n_jobs: int = 1):
    """The growth model on the whole network's months (:func:`analysis.growth.growth_zones`)
    on the drivers the export rates, each in its own scale (``data.scales``); ``n_jobs``
    processes share its bootstrap (the same numbers for any count).

    Raises :class:`~analysis.report.data.SectionDataMissing` carrying the coverage verdict,
    without fitting, when the data do not allow the model (no ratings, one dealer).
    """
    from analysis import growth
    from analysis.coverage import SectionDataMissing

    verdict, rated = growth_need(data)
    if not verdict.ok:
        raise SectionDataMissing(verdict.reason, data.month, need=verdict)
    scales = dict(getattr(data, "scales", None) or {})
    return cached("growth", lambda: growth.growth_zones(data.network, drivers=list(rated),
                                                        random_state=0, n_jobs=n_jobs,
                                                        scales=scales or None,
                                                        settings=data.settings),
                  data_dir=data.data_dir, settings=data.settings,
                  key=(data.months, rated, sorted(scales.items()),
                       _content(data.network, _growth_columns())),
                  directory=directory)


def cause_model(data, *, directory=None):
    """The root-cause model fitted on the whole network's comments of the report month, or
    None when the month has too few distinct comments below the threshold
    (:mod:`analysis.coverage`: the clustering is then not fitted)."""
    from analysis import coverage, rootcause

    def fit():
        network = data.network
        current = network.loc[network["month"] == data.month]
        if not coverage.need({"responses": current}, "root_causes", month=data.month).ok:
            return None  # too few distinct comments to cluster: not fitted
        model = rootcause.make_model(random_state=0)
        try:
            rootcause.label_responses(current, model)
        except rootcause.RootCauseError:
            return None
        return model if hasattr(model, "clusters_") else None

    current = data.network.loc[data.network["month"] == data.month]
    return cached("rootcause", fit, data_dir=data.data_dir,
                  key=(data.month, _content(current)), directory=directory)


def _network_cases(data) -> pd.DataFrame | None:
    """Every case of the network in the report's months (a regional report holds its own)."""
    if data.is_network or data.data_dir is None:
        return data.cases
    from analysis import store

    if not store.available("cases", data_dir=data.data_dir):
        return data.cases
    return store.load("cases", months=list(data.months), data_dir=data.data_dir)


def learned_causes(data, *, directory=None):
    """The root-cause classifier learnt from the team's labels on the whole network
    (:class:`analysis.rootcause.LearnedCauses`), or None when there is nothing to learn."""
    from analysis import rootcause

    months = rootcause.learning_months(data.month, data.months)
    network = data.network.loc[data.network["month"].isin(months)]
    cases = _network_cases(data)
    return cached("rootcause-learn", lambda: rootcause.learn_causes(
        network, cases, months=months, random_state=0), data_dir=data.data_dir,
        key=(months, _content(network), _content(cases, ("response_id", "root_cause"))),
        directory=directory)


def network_importance(data, *, n_boot: int | None = None, cluster: str | None = None,
                       drivers: tuple[str, ...] | None = None,
                       directory=None) -> pd.DataFrame:
    """The whole network's driver importance by month (:func:`analysis.drivers.
    importance_by_period`) of ``drivers`` (default: every driver of params/drivers.yaml);
    ``cluster`` resamples its groups whole (the report passes ``bootstrap_cluster`` of
    params/drivers.yaml); ``n_boot`` defaults to the report's ``settings.n_boot``."""
    from analysis import drivers as drivers_

    chosen = tuple(drivers_.driver_names() if drivers is None else drivers)
    n_boot = data.settings.n_boot if n_boot is None else n_boot
    return cached("importance", lambda: drivers_.importance_by_period(
        data.network, period="M", n_boot=n_boot, random_state=0, cluster=cluster,
        drivers=list(chosen)),
        data_dir=data.data_dir,
        key=(data.months, n_boot, cluster, chosen, _content(data.network)),
        directory=directory)

