"""The network-wide fits a report needs, computed once per batch and shared by its reports.

A regional report needs four things fitted on the whole network: the growth model
(:func:`analysis.growth.growth_zones`, the slow one), the root-cause model of the month's
comments, the root-cause classifier learnt from the team's labels (with its cross-validated
agreement) and the network's driver importance. Each is computed once per process (a report
asks several sections for it) and, when a cache directory is given, once per batch: the
result is pickled under a key made of the snapshot it was computed on (every table's version
and commit time, :func:`data_identity`), the params files' contents, the package's source
(:func:`code_identity`) and the call's arguments, so another version of the store (a new
ingest, or ``--as-of`` an older one), a changed setting or changed code is a new key and never
a stale hit. A pickle is written under a temporary name and renamed when complete; one that
cannot be read back is computed again.

The batch runner (:func:`analysis.report.batch.run_batch`) computes those every report
reads in the parent process before the notebooks start, so parallel workers read them instead
of racing to fit the same model; the network's importance, which only the network report
reads, is fitted there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import secrets
import sys
import time
from functools import cache
from pathlib import Path

import pandas as pd

from analysis.config import PARAMS_DIR
from analysis.config import data_dir as resolve_data_dir

CACHE_ENV = "DEALER_VOICE_REPORT_CACHE"
_memory: dict[str, object] = {}


def data_identity(data_dir: str | os.PathLike | None) -> str:
    """A hash of the snapshot a fit reads: the store's directory, every table's version with
    its commit time (a table written anew at the same path is another), and the size and
    time of each single-file table (the demo generator's). A :class:`analysis.store.Snapshot`
    is taken as it is (``--as-of``: the versions it pins); a directory at its latest
    versions. Not the files on disk: those of every version are there at once, so a file
    listing is the same for the latest versions and for ``--as-of`` an older one."""
    from analysis import store
    from analysis.tables import TABLES

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


def params_identity() -> str:
    """A hash of every params/*.yaml file's contents (thresholds, seeds, weights)."""
    h = hashlib.sha256()
    for path in sorted(Path(PARAMS_DIR).glob("*.yaml")):
        if path.name != "labels.yaml":  # words do not change a fit
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def cache_dir(value: str | os.PathLike | None = None) -> Path | None:
    """The batch's cache directory: ``value``, else ``$DEALER_VOICE_REPORT_CACHE``, else none."""
    chosen = value or os.environ.get(CACHE_ENV)
    return Path(chosen) if chosen else None


def cached(name: str, compute, *, data_dir, key: tuple = (), directory=None,
           remember: bool = True):
    """``compute()``, memoised in this process (unless not ``remember``) and pickled in the
    cache directory."""
    ident = hashlib.sha256(repr((name, data_identity(data_dir), params_identity(),
                                 code_identity(), key)).encode()).hexdigest()[:24]
    if ident in _memory:
        return _memory[ident]
    folder = cache_dir(directory)
    path = folder / f"{name}-{ident}.pkl" if folder else None
    value = _read(path) if path is not None else _MISSING
    if value is _MISSING:
        value = compute()
        if path is not None:
            _write(path, value)
    if remember:
        _memory[ident] = value
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
    return cached("network-responses", compute, data_dir=data_dir, key=(tuple(months),),
                  directory=directory, remember=False)


_fingerprints: dict[tuple, tuple] = {}
_ANSWER_COLUMNS = ("response_id", "dealer_id", "nps", "comment")


def _content(frame: pd.DataFrame | None, columns: tuple[str, ...] = _ANSWER_COLUMNS) -> tuple:
    """A cheap fingerprint of the answers a fit reads (``columns``: those it depends on), so
    that frames changed in memory (a test's, a notebook's) never hit a fit of other data from
    the same store. Hashed once per frame object (a report asks for its fits from several
    sections); the frame is kept with its fingerprint, so its id cannot be reused by another
    frame while remembered."""
    if frame is None or frame.empty:
        return (0,)
    memo = (id(frame), columns)
    known = _fingerprints.get(memo)
    if known is not None and known[0] is frame and known[1] == frame.shape:
        return known[2]
    cols = [c for c in columns if c in frame]
    digest = pd.util.hash_pandas_object(frame[cols], index=False).sum()
    while len(_fingerprints) >= 8:  # the frames of a report or two, not of a test session
        _fingerprints.pop(next(iter(_fingerprints)))
    _fingerprints[memo] = (frame, frame.shape, (len(frame), int(digest)))
    return _fingerprints[memo][2]


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
                                                        scales=scales or None),
                  data_dir=data.data_dir,
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


def network_importance(data, *, n_boot: int = 200, cluster: str | None = None,
                       drivers: tuple[str, ...] | None = None,
                       directory=None) -> pd.DataFrame:
    """The whole network's driver importance by month (:func:`analysis.drivers.
    importance_by_period`) of ``drivers`` (default: every driver of params/drivers.yaml);
    ``cluster`` resamples its groups whole (the report passes ``bootstrap_cluster`` of
    params/drivers.yaml)."""
    from analysis import drivers as drivers_

    chosen = tuple(drivers_.driver_names() if drivers is None else drivers)
    return cached("importance", lambda: drivers_.importance_by_period(
        data.network, period="M", n_boot=n_boot, random_state=0, cluster=cluster,
        drivers=list(chosen)),
        data_dir=data.data_dir,
        key=(data.months, n_boot, cluster, chosen, _content(data.network)),
        directory=directory)

