"""Where the analysis runs: in this process, or on Dask when the data outgrow one machine.

Both engines give the same numbers (to the last digit for NPS, to 1e-12 for correlations)
because Dask only does the part that grows with the data:

- NPS (:meth:`Engine.summarize`, :meth:`Engine.rank_dealers`): every partition is counted by
  :func:`analysis.nps.count_categories` (the in-memory path's own integer-coded counting),
  the small count tables are summed by Dask's tree reduction (``DataFrame.reduction``), and
  :func:`analysis.nps.summarize_counts` computes intervals, changes vs the previous period
  and shrinkage from the combined table with the code :func:`analysis.nps.summarize` runs.
  Counts are integers, so the order of the sums changes nothing.
- Drivers (:meth:`Engine.driver_corr`): the correlation matrix of target and drivers over
  complete cases, the sufficient statistic of LMG and relative weights. Each partition gives
  its count, mean and centred cross-product matrix; partitions are merged with the pairwise
  update of Chan, Golub & LeVeque (1979), which loses no digits to cancellation.

A store table read by the Dask engine is counted by ``dealer_id`` and the dealers' region and
name are attached to the count table afterwards: the same result as attaching them to every
answer (what the local engine does), without moving the strings through the cluster. A Delta
table (the store) is read from the files its log lists for the version at hand (the latest,
or a :class:`analysis.store.Snapshot`'s), a Dask partition per file or per few row groups.

Choose the engine with a spec string (:func:`get_engine`): ``local``, ``dask`` (a
``dask.distributed.LocalCluster`` from params/engine.yaml), ``dask=tcp://host:8786`` (an
existing cluster: its workers need this package installed and the data directory readable
at the same path or URL) or ``dask=synchronous`` (no cluster, for tests and debugging).
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis import nps, store
from analysis.config import data_dir as _data_dir
from analysis.config import load_params, params_or
from analysis.errors import require_columns
from analysis.regions import dealer_attributes, with_region
from analysis.settings import Settings
from analysis.table_specs import TIME_COLUMNS

if TYPE_CHECKING:
    from analysis.drivers import ImportanceResult

__all__ = [
    "DASK_SCHEDULERS",
    "DaskEngine",
    "DriverCorr",
    "ENGINES",
    "ENV_VAR",
    "Engine",
    "EngineError",
    "EngineSpec",
    "LocalEngine",
    "add_engine_argument",
    "get_engine",
    "parse_spec",
    "shared_cluster",
]

ENGINES = ("local", "dask")
#: Dask's single-machine schedulers, accepted as ``dask=<name>`` instead of an address.
DASK_SCHEDULERS = ("synchronous", "threads", "processes")
ENV_VAR = "DEALER_VOICE_ENGINE"
_COUNTS = ["promoters", "passives", "detractors"]
# Rows per block when forming a partition's cross products: bounds memory, not results.
_BLOCK_ROWS = 1 << 20


class EngineError(ValueError):
    """An engine cannot be made or used as asked; the message says what to change.

    Not an :class:`analysis.errors.DataError`: it is about how the engine is asked for, not
    about the data it reads (missing columns raise ``MissingColumnsError``, unusable driver
    ratings ``DriverDataError``)."""


@dataclass(frozen=True)
class EngineSpec:
    """A parsed engine spec: ``kind`` is "local" or "dask"; ``address`` a scheduler address,
    one of :data:`DASK_SCHEDULERS`, or None for a new LocalCluster."""

    kind: str
    address: str | None = None

    def __str__(self) -> str:
        return self.kind if self.address is None else f"{self.kind}={self.address}"


def parse_spec(spec: str) -> EngineSpec:
    """Read ``local``, ``dask`` or ``dask=ADDRESS``."""
    kind, _, address = str(spec).strip().partition("=")
    kind = kind.strip().lower()
    address = address.strip() or None
    if kind not in ENGINES or (kind == "local" and address):
        raise EngineError(f"unknown engine {spec!r}: use 'local', 'dask' (a new LocalCluster) "
                          "or 'dask=tcp://host:8786' (an existing cluster's scheduler)")
    return EngineSpec(kind, address)


def _resolve(spec: str | None, params: dict) -> EngineSpec:
    """The spec given, else $DEALER_VOICE_ENGINE, else params/engine.yaml's default."""
    return parse_spec(spec or os.environ.get(ENV_VAR) or params.get("default") or "local")


def get_engine(spec: str | Engine | None = None, *, params: dict | None = None) -> Engine:
    """The engine a spec names; None or "" takes $DEALER_VOICE_ENGINE, else params/engine.yaml.

    Parameters
    ----------
    spec
        ``"local"`` (in-process pandas), ``"dask"`` (starts a ``dask.distributed``
        LocalCluster as params/engine.yaml says), ``"dask=tcp://host:8786"`` (connects to
        an existing scheduler), ``"dask=synchronous"`` or ``"dask=threads"`` (no cluster).
        An :class:`Engine` is returned as it is.
    params
        The contents of params/engine.yaml (loaded when omitted).

    Returns
    -------
    Engine
        Use it as a context manager, or call ``close()``: a cluster it started stops then.
    """
    if isinstance(spec, Engine):
        return spec
    p = params_or("engine", params)
    parsed = _resolve(spec, p)
    if parsed.kind == "local":
        return LocalEngine()
    return DaskEngine.start(parsed.address, params=p)


@contextmanager
def shared_cluster(spec: str | None = None, *, params: dict | None = None) -> Iterator[str]:
    """A spec that many processes can share: for ``dask`` (a new LocalCluster) start the
    cluster once and yield ``dask=<its scheduler address>`` until the block ends; any other
    spec is yielded as it is. A batch of report notebooks then shares one cluster.

    Examples
    --------
    >>> with shared_cluster("dask") as spec:            # doctest: +SKIP
    ...     run_batch(..., parameters={"engine": spec})
    """
    p = params_or("engine", params)
    parsed = _resolve(spec, p)
    if parsed.kind != "dask" or parsed.address is not None:
        yield str(parsed)
        return
    with get_engine("dask", params=p) as eng:
        yield f"dask={eng.client.scheduler.address}"


def add_engine_argument(parser) -> None:
    """Add ``--engine local|dask[=ADDRESS]`` to an argparse parser (default: params)."""
    parser.add_argument(
        "--engine", default=None, metavar="local|dask[=ADDRESS]",
        help="where the analysis runs: local (default in params/engine.yaml), dask (a new "
        f"LocalCluster) or dask=tcp://host:8786 (an existing cluster); ${ENV_VAR} also sets it")


# --- the driver correlation matrix -----------------------------------------------------------


@dataclass(frozen=True)
class DriverCorr:
    """Correlation of the target and drivers over complete cases: what LMG needs.

    Attributes
    ----------
    corr, cov
        Square frames over ``[*drivers, target]``; ``cov`` divides by ``n`` (as
        :func:`analysis.drivers.relative_importance` does).
    mean
        Means over the complete cases.
    n, n_dropped
        Complete cases, and rows left out because the target or a driver was missing.
    """

    corr: pd.DataFrame = field(repr=False)
    cov: pd.DataFrame = field(repr=False)
    mean: pd.Series = field(repr=False)
    n: int
    n_dropped: int
    target: str
    drivers: tuple[str, ...]

    def importance(self, *, method: str = "lmg") -> ImportanceResult:
        """Relative importance (LMG or relative weights) from this matrix; equals
        :func:`analysis.drivers.relative_importance` on the same rows (without bootstrap)."""
        from analysis.drivers import relative_importance_from_corr

        result = relative_importance_from_corr(self.corr, target=self.target,
                                               drivers=list(self.drivers), method=method,
                                               n=self.n)
        return replace(result, n_dropped=self.n_dropped)

    def summary(self) -> str:
        """The sample and the correlation matrix as text."""
        return (f"correlations of {self.target!r} and {len(self.drivers)} drivers over "
                f"{self.n:,} complete cases ({self.n_dropped:,} rows dropped)\n"
                f"{self.corr.round(3).to_string()}")


def _moment_columns(q: int) -> list[str]:
    return (["rows", "n"] + [f"mean{i}" for i in range(q)]
            + [f"m2_{i}_{j}" for i in range(q) for j in range(q)])


def _pack(rows: float, n: float, mean: np.ndarray, m2: np.ndarray) -> pd.DataFrame:
    values = np.concatenate([[rows, n], mean, m2.ravel()])
    return pd.DataFrame([values], columns=_moment_columns(len(mean)))


def _unpack(row: np.ndarray, q: int) -> tuple[float, float, np.ndarray, np.ndarray]:
    return row[0], row[1], row[2:2 + q], row[2 + q:].reshape(q, q)


def _merge(a: tuple, b: tuple) -> tuple:
    """Chan, Golub & LeVeque's pairwise update of (rows, n, mean, centred cross products)."""
    rows_a, n_a, mean_a, m2_a = a
    rows_b, n_b, mean_b, m2_b = b
    n = n_a + n_b
    if n_b == 0 or n == 0:
        return rows_a + rows_b, n_a, mean_a, m2_a
    if n_a == 0:
        return rows_a + rows_b, n_b, mean_b, m2_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    m2 = m2_a + m2_b + np.outer(delta, delta) * (n_a * n_b / n)
    return rows_a + rows_b, n, mean, m2


def _chunk_moments(part: pd.DataFrame, *, columns: list[str]) -> pd.DataFrame:
    """Rows, complete cases, mean and centred cross products of one partition."""
    from analysis.drivers import DriverDataError

    q = len(columns)
    total = (0.0, 0.0, np.zeros(q), np.zeros((q, q)))
    for start in range(0, len(part), _BLOCK_ROWS):
        block = part.iloc[start:start + _BLOCK_ROWS]
        data = np.empty((len(block), q), order="F")
        for j, col in enumerate(columns):
            data[:, j] = block[col].to_numpy(dtype=float, na_value=np.nan)
        if np.isinf(data).any():
            bad = [c for c, flag in zip(columns, np.isinf(data).any(axis=0)) if flag]
            raise DriverDataError(f"columns {bad} hold infinite values; replace them with NaN "
                                  "(missing) or a valid rating")
        data = data[~np.isnan(data).any(axis=1)]
        n = data.shape[0]
        if n:
            mean = data.mean(axis=0)
            centred = data - mean
            # the centred sums are the rounding left in the mean: fold them back (2-pass)
            shift = centred.sum(axis=0) / n
            m2 = centred.T @ centred - n * np.outer(shift, shift)
            block_moments = (float(len(block)), float(n), mean + shift, (m2 + m2.T) / 2)
        else:
            block_moments = (float(len(block)), 0.0, np.zeros(q), np.zeros((q, q)))
        total = _merge(total, block_moments)
    return _pack(*total)


def _combine_moments(frame: pd.DataFrame) -> pd.DataFrame:
    """Merge partitions' moment rows (a frame of :func:`_chunk_moments` rows) into one."""
    q = int(round((math.sqrt(4 * frame.shape[1] - 7) - 1) / 2))  # 2 + q + q^2 columns
    values = frame.to_numpy(dtype=float)
    total = (0.0, 0.0, np.zeros(q), np.zeros((q, q)))
    for row in values:
        total = _merge(total, _unpack(row, q))
    return _pack(*total)


def _driver_corr(moments: pd.DataFrame, target: str, drivers: list[str]) -> DriverCorr:
    from analysis.drivers import DriverDataError

    cols = [*drivers, target]
    rows, n, mean, m2 = _unpack(moments.to_numpy(dtype=float)[0], len(cols))
    if n < len(drivers) + 2:
        raise DriverDataError(f"{int(n)} complete cases for {len(drivers)} drivers: need at "
                              f"least {len(drivers) + 2} rows with the target and every driver")
    cov = m2 / n
    var = np.diag(cov)
    constant = var <= (1e-12 * np.abs(mean)) ** 2
    if constant.any():
        names = [c for c, flag in zip(cols, constant) if flag]
        raise DriverDataError(f"columns {names} do not vary in the complete cases; a constant "
                              "cannot explain or be explained: drop it")
    sd = np.sqrt(var)
    corr = np.clip(cov / np.outer(sd, sd), -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    labels = pd.Index(cols)
    return DriverCorr(corr=pd.DataFrame(corr, index=labels, columns=labels),
                      cov=pd.DataFrame(cov, index=labels, columns=labels),
                      mean=pd.Series(mean, index=labels), n=int(n), n_dropped=int(rows - n),
                      target=target, drivers=tuple(drivers))


def _driver_names(frame_columns, target: str, drivers: Sequence[str] | None) -> list[str]:
    from analysis.drivers import DriverDataError

    names = (list(load_params("drivers")["drivers"]) if drivers is None else list(drivers))
    if not names:
        raise DriverDataError("drivers is empty: name at least one driver column")
    if target in names:
        raise DriverDataError(f"the target {target!r} is also listed as a driver; remove it")
    require_columns(frame_columns, [*names, target], table="the data", error=DriverDataError,
                    fix="check the names or params/drivers.yaml")
    return names


# --- counting helpers shared by the engines --------------------------------------------------


def _sum_counts(frame: pd.DataFrame, *, names: list[str]) -> pd.DataFrame:
    """Sum count-table pieces by their keys (one row per group)."""
    cols = ["n", *_COUNTS]
    if not names:
        return frame[cols].sum().to_frame().T.astype(np.int64)
    return (frame.groupby(names, observed=True, sort=False, dropna=True)[cols].sum()
            .reset_index())


def _chunk_counts(part: pd.DataFrame, *, keys: list[str], period: str | None, score: str,
                  time_col: str, params: dict) -> pd.DataFrame:
    return nps.count_categories(part, by=keys, period=period, score=score, time_col=time_col,
                                params=params)


def _like_store(frame: pd.DataFrame) -> pd.DataFrame:
    """Dtypes as :func:`analysis.store.load` returns them: pandas' default strings (Dask reads
    Arrow strings with NA, and hive partition columns as categories)."""
    out = frame.copy()
    for col in out.columns:
        dtype = out[col].dtype
        arrow_na = isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA
        if arrow_na or isinstance(dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(str)
    return out


def _split_keys(keys: list[str], own: Iterable[str], attached: list[str]) -> tuple[list, list]:
    """Keys counted in the answers and keys attached from the dealers table afterwards."""
    own = list(own)
    from_dealers = [k for k in keys if k not in own and k in attached]
    require_columns([*own, *attached], keys, table="responses")
    counted = [k for k in keys if k in own]
    if from_dealers and "dealer_id" not in counted:
        counted.append("dealer_id")
    return counted, from_dealers


def _attach(counts: pd.DataFrame, dealers: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    if not names:
        return counts
    return counts.merge(dealers[["dealer_id", *names]], on="dealer_id", how="left",
                        validate="many_to_one")


def _url(data_dir) -> str | None:
    """The store's URL when it is on object storage (``s3://...``), from ``data_dir`` or
    $DEALER_VOICE_DATA; None for a local directory."""
    text = str(data_dir) if data_dir is not None else os.environ.get("DEALER_VOICE_DATA", "")
    return text.rstrip("/") if "://" in text else None


def _check_frame_filters(months, regions, data_dir) -> None:
    if any(x is not None for x in (months, regions, data_dir)):
        raise EngineError("months, regions and data_dir select rows of a store table; pass the "
                          "table's name (e.g. 'responses'), or filter the frame yourself")


# --- reading a Delta table's files on the workers ----------------------------------------------


def _pieces(files, max_rows: int) -> list[tuple]:
    """(uri, row groups or None, partition values) per Dask partition: a file, or groups of
    a large file's row groups of at most ``max_rows`` rows (its footer is read here)."""
    import pyarrow.parquet as pq

    pieces = []
    for f in files:
        if f.rows <= max_rows:
            pieces.append((f.uri, None, f.partition))
            continue
        with _source_file(f.uri) as source:
            meta = pq.read_metadata(source)
        group, rows = [], 0
        for i in range(meta.num_row_groups):
            n = meta.row_group(i).num_rows
            if group and rows + n > max_rows:
                pieces.append((f.uri, tuple(group), f.partition))
                group, rows = [], 0
            group.append(i)
            rows += n
        if group:
            pieces.append((f.uri, tuple(group), f.partition))
    return pieces


@contextmanager
def _source_file(uri: str):
    """A local path as it is; a URL (s3://, file://) opened through fsspec, as Dask does."""
    if "://" not in uri:
        yield uri
        return
    import fsspec

    with fsspec.open(uri, "rb") as fh:
        yield fh


def _read_piece(piece, *, columns: list[str], schema, where: tuple[str, list] | None):
    """One piece of a Delta table as pandas with the store's dtypes (``piece=None``: the
    empty frame Dask takes as meta). Columns a file predates are empty; partition columns
    come from the log; ``where`` keeps rows whose column holds one of the values."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wanted = pa.schema([schema.field(c) for c in columns])
    if piece is None:
        return _like_store(wanted.empty_table().to_pandas())
    uri, groups, partition = piece
    values = dict(partition)
    read = list(dict.fromkeys([*columns, *([where[0]] if where else [])]))
    with _source_file(uri) as source:
        pf = pq.ParquetFile(source)
        present = [c for c in read if c in pf.schema_arrow.names and c not in values]
        data = (pf.read(columns=present) if groups is None
                else pf.read_row_groups(list(groups), columns=present))
    arrays = {}
    for c in read:
        field_ = schema.field(c)
        if c in values:
            arrays[c] = pa.array([values[c]] * data.num_rows, field_.type)
        elif c in data.column_names:
            arrays[c] = data[c].cast(field_.type)
        else:
            arrays[c] = pa.nulls(data.num_rows, field_.type)
    table = pa.table(arrays)
    if where is not None:
        table = table.filter(pc.is_in(table[where[0]], value_set=pa.array(where[1],
                                                                        table[where[0]].type)))
    return _like_store(table.select(columns).to_pandas())


# --- the engines --------------------------------------------------------------------------------


class Engine:
    """What both engines offer. ``source`` is a store table name (``"responses"``, read from
    ``data_dir`` with the ``months`` and ``regions`` filters, dealers' region and name
    attached) or a frame (pandas; for the Dask engine also a ``dask.dataframe``)."""

    name = "engine"

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release what the engine started (nothing for the local engine)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    def describe(self) -> str:
        """One line saying where the analysis runs."""
        return self.name

    def load(self, table: str, *, months=None, regions=None, data_dir=None,
             columns: list[str] | None = None):
        """A store table as this engine's frame (pandas, or a lazy ``dask.dataframe``)."""
        raise NotImplementedError

    def summarize(self, source, *, by: Sequence[str] = ("region",), period: str | None = "M",
                  invitations=None, months=None, regions=None, data_dir=None,
                  **kwargs) -> pd.DataFrame:
        """:func:`analysis.nps.summarize` of ``source`` (same keywords: level, min_n, score,
        time_col, params, settings); ``invitations`` is a frame or ``"invitations"`` (the store table,
        same filters)."""
        raise NotImplementedError

    def rank_dealers(self, source, *, period: str | None = None, dealers=None, months=None,
                     regions=None, data_dir=None, **kwargs) -> pd.DataFrame:
        """:func:`analysis.nps.rank_dealers` of ``source`` (a store table brings its dealers;
        ``dealers`` is for frames without region)."""
        raise NotImplementedError

    def summarize_weighted(self, source, invitations, *, by: Sequence[str] = ("region",),
                           cell: Sequence[str] = ("dealer_id", "touchpoint"), months=None,
                           regions=None, data_dir=None, **kwargs) -> pd.DataFrame:
        """:func:`analysis.nps.summarize_weighted` of ``source`` by month (same keywords:
        level, time_col, params, settings); ``invitations`` is a frame or ``"invitations"``
        (the store table, same filters)."""
        raise NotImplementedError

    def driver_corr(self, source, *, target: str = "nps", drivers: Sequence[str] | None = None,
                    months=None, regions=None, data_dir=None) -> DriverCorr:
        """Correlation matrix of target and drivers (params/drivers.yaml by default) over
        complete cases: :class:`DriverCorr`, whose ``importance()`` gives LMG."""
        raise NotImplementedError

    def _invitations(self, invitations, months, regions, data_dir):
        """Invitations as a pandas frame (a small table: dealers x touchpoints x months)."""
        if invitations is None or isinstance(invitations, pd.DataFrame):
            return invitations
        if invitations != "invitations":
            raise EngineError(f"invitations must be a DataFrame or 'invitations' (the store "
                              f"table), not {invitations!r}")
        dealers = self._small("dealers", regions=regions, data_dir=data_dir)
        frame = self._small("invitations", months=months, regions=regions, data_dir=data_dir)
        return with_region(frame, dealers)

    def _small(self, table: str, *, months=None, regions=None, data_dir=None) -> pd.DataFrame:
        """A small store table (dealers, invitations) as a pandas frame in this process."""
        return store.load(table, months=months, regions=regions, data_dir=data_dir)


class LocalEngine(Engine):
    """In-process pandas: :mod:`analysis.nps` and a one-partition moment pass."""

    name = "local"

    def describe(self) -> str:
        return "local (pandas in this process)"

    def load(self, table: str, *, months=None, regions=None, data_dir=None,
             columns: list[str] | None = None) -> pd.DataFrame:
        """:func:`analysis.store.load`."""
        return store.load(table, months=months, regions=regions, data_dir=data_dir,
                          columns=columns)

    def _frame(self, source, months, regions, data_dir, wanted: Iterable[str] | None = None,
               attach: bool = True) -> pd.DataFrame:
        """``source`` as a frame; a store table with only the ``wanted`` columns it has and
        (``attach``) the dealers' name, region and city."""
        if isinstance(source, pd.DataFrame):
            _check_frame_filters(months, regions, data_dir)
            return source
        if not isinstance(source, str):
            raise EngineError(f"the local engine reads a store table name or a pandas "
                              f"DataFrame, not {type(source).__name__}")
        columns = None
        if wanted is not None:
            wanted = set(wanted)
            columns = [c for c in _stored_columns(source, data_dir) if c in wanted]
        frame = store.load(source, months=months, regions=regions, data_dir=data_dir,
                           columns=columns)
        if not attach:
            return frame
        return with_region(frame, store.load("dealers", regions=regions,
                                                   data_dir=data_dir))

    def summarize(self, source, *, by: Sequence[str] = ("region",), period: str | None = "M",
                  invitations=None, months=None, regions=None, data_dir=None,
                  **kwargs) -> pd.DataFrame:
        """:func:`analysis.nps.summarize` of ``source``; ``invitations`` may be the string
        ``"invitations"`` to read that store table with the same filters."""
        frame = self._frame(source, months, regions, data_dir,
                            wanted=_nps_columns(by, **kwargs))
        inv = self._invitations(invitations, months, regions, data_dir)
        return nps.summarize(frame, by=by, period=period, invitations=inv, **kwargs)

    def rank_dealers(self, source, *, period: str | None = None, dealers=None, months=None,
                     regions=None, data_dir=None, **kwargs) -> pd.DataFrame:
        """:func:`analysis.nps.rank_dealers` of ``source``."""
        frame = self._frame(source, months, regions, data_dir, wanted=_nps_columns((), **kwargs))
        return nps.rank_dealers(frame, period=period, dealers=dealers, **kwargs)

    def summarize_weighted(self, source, invitations, *, by: Sequence[str] = ("region",),
                           cell: Sequence[str] = ("dealer_id", "touchpoint"), months=None,
                           regions=None, data_dir=None, **kwargs) -> pd.DataFrame:
        """:func:`analysis.nps.summarize_weighted` of ``source``."""
        frame = self._frame(source, months, regions, data_dir,
                            wanted=_nps_columns((*by, *cell), **kwargs))
        inv = self._invitations(invitations, months, regions, data_dir)
        return nps.summarize_weighted(frame, inv, by=by, period="M", cell=cell, **kwargs)

    def driver_corr(self, source, *, target: str = "nps", drivers: Sequence[str] | None = None,
                    months=None, regions=None, data_dir=None) -> DriverCorr:
        """Correlation matrix of target and drivers over complete cases (:class:`DriverCorr`)."""
        columns = (source.columns if isinstance(source, pd.DataFrame)
                   else _stored_columns(source, data_dir) if isinstance(source, str) else [])
        names = _driver_names(columns, target, drivers)
        frame = self._frame(source, months, regions, data_dir, wanted=[*names, target],
                            attach=False)
        return _driver_corr(_chunk_moments(frame, columns=[*names, target]), target, names)


def _stored_columns(table: str, data_dir) -> list[str]:
    """Column names of a store table, from its log or Parquet schema (nothing is read)."""
    return store.columns(table, data_dir=data_dir)


def _nps_columns(by: Sequence[str], *, score: str = "nps", time_col: str = "responded_at",
                 **_) -> set[str]:
    """Columns an NPS summary may read: keys, the dealer's levels, score and time."""
    return {*by, "dealer_id", "dealer_name", "region", "city", score, time_col}


class DaskEngine(Engine):
    """The same analysis on Dask: per-partition counts and moments, tree-reduced.

    Make it with :func:`get_engine` (``"dask"``, ``"dask=tcp://host:8786"``) or
    :meth:`start`; ``client`` is the ``distributed.Client`` (None for a single-machine
    scheduler).
    """

    name = "dask"

    def __init__(self, *, client=None, cluster=None, scheduler: str | None = None,
                 params: dict | None = None) -> None:
        self.client = client
        self.cluster = cluster
        self.scheduler = scheduler
        self.params = params_or("engine", params)

    @classmethod
    def start(cls, address: str | None = None, *, params: dict | None = None) -> DaskEngine:
        """Connect to ``address``, use a single-machine scheduler, or start a LocalCluster."""
        p = params_or("engine", params)
        if address in DASK_SCHEDULERS:
            return cls(scheduler=address, params=p)
        try:
            from distributed import Client, LocalCluster
        except ImportError as err:  # pragma: no cover - depends on the installation
            raise EngineError("the dask engine needs dask.distributed: pip install "
                              "'dask[distributed]'") from err
        if address:
            try:
                client = Client(address, timeout=p["dask"]["connect_timeout"])
            except OSError as err:
                raise EngineError(f"no Dask scheduler answers at {address}: start one "
                                  "(`dask scheduler`, then `dask worker ADDRESS` on each "
                                  "machine) or use --engine dask for a local cluster") from err
            return cls(client=client, params=p)
        settings = dict(p["dask"]["local_cluster"])
        with warnings.catch_warnings():
            # without a dashboard the scheduler's small HTTP server still wants port 8787 and
            # says so when another cluster has it; any free port does
            warnings.filterwarnings("ignore", message="Port .* is already in use")
            cluster = LocalCluster(silence_logs=logging.ERROR, **settings)
        return cls(client=Client(cluster), cluster=cluster, params=p)

    def describe(self) -> str:
        if self.client is None:
            return f"dask ({self.scheduler or 'default'} scheduler, no cluster)"
        info = self.client.scheduler_info()
        workers = info.get("workers", {})
        threads = sum(w.get("nthreads", 0) for w in workers.values())
        where = "LocalCluster" if self.cluster is not None else "cluster"
        return (f"dask ({where} at {info.get('address', '?')}, {len(workers)} workers, "
                f"{threads} threads)")

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    # -- reading ------------------------------------------------------------------------------
    def _compute(self, *objects):
        import dask

        scheduler = self.client if self.client is not None else self.scheduler
        return dask.compute(*objects, scheduler=scheduler)

    def _dataset(self, table: str, data_dir) -> tuple[str, bool]:
        """Path (or URL) of a store table and whether it is a month-partitioned dataset."""
        url = _url(data_dir)
        if url:  # a store on object storage: the store's dataset layout
            return f"{url}/{table}", table in TIME_COLUMNS
        src = store.table_source(table, _data_dir(data_dir))
        partitioned = src.is_dir() and any(p.name.startswith("month=") for p in src.iterdir())
        return str(src), partitioned

    def _small(self, table: str, *, months=None, regions=None, data_dir=None) -> pd.DataFrame:
        if not _url(data_dir):
            return super()._small(table, months=months, regions=regions, data_dir=data_dir)
        # a store on object storage (s3://...): read here through fsspec, as the workers do
        import dask.dataframe as dd

        found = store.data_files(table, data_dir=data_dir, months=months)
        if found is not None:
            frame = self._read_delta(table, found, columns=None, regions=regions,
                                     data_dir=data_dir)
            return _like_store(frame.compute(scheduler="synchronous")).reset_index(drop=True)
        path, _ = self._dataset(table, data_dir)
        filters = []
        if regions is not None and table == "dealers":
            filters.append(("region", "in", list(regions)))
        elif regions is not None:
            ids = self._small("dealers", regions=regions, data_dir=data_dir)["dealer_id"]
            filters.append(("dealer_id", "in", ids.tolist()))
        if months is not None and table == "invitations":
            filters.append(("month", "in", sorted({str(pd.Period(m, freq="M"))
                                                   for m in months})))
        frame = dd.read_parquet(path, filters=filters or None)
        return _like_store(frame.compute(scheduler="synchronous")).reset_index(drop=True)

    def _read_delta(self, table: str, found: tuple, *, columns: list[str] | None, regions,
                    data_dir):
        """A Delta table's current files (as its log lists them, months already pruned) as a
        dask DataFrame: a partition per file, or per group of row groups of a large file."""
        import dask.dataframe as dd

        files, schema = found
        names = list(columns) if columns is not None else list(schema.names)
        where: tuple[str, list] | None = None
        if regions is not None and table == "dealers":
            where = ("region", list(regions))
        elif regions is not None:
            ids = self._small("dealers", regions=regions, data_dir=data_dir)["dealer_id"]
            where = ("dealer_id", ids.tolist())
        kwargs = dict(columns=names, schema=schema, where=where)
        meta = _read_piece(None, **kwargs)
        pieces = _pieces(files, int(self.params["dask"]["partition_rows"]))
        if not pieces:
            return dd.from_pandas(meta, npartitions=1)
        return dd.from_map(_read_piece, pieces, meta=meta, label=f"read-{table}",
                           enforce_metadata=False, **kwargs)

    def _read(self, table: str, *, columns: list[str] | None, months, regions, data_dir):
        """A store table as a dask DataFrame, the filters pushed down to Parquet."""
        import dask.dataframe as dd

        found = store.data_files(table, data_dir=data_dir, months=months)
        if found is not None:  # a Delta table: its current files, from its log
            return self._read_delta(table, found, columns=columns, regions=regions,
                                    data_dir=data_dir)
        path, partitioned = self._dataset(table, data_dir)
        conjunction: list[tuple] = []
        if regions is not None:
            ids = self._small("dealers", regions=regions, data_dir=data_dir)["dealer_id"]
            column = "region" if table == "dealers" else "dealer_id"
            values = list(regions) if table == "dealers" else ids.tolist()
            conjunction.append((column, "in", values))
        filters: list | None = [conjunction] if conjunction else None
        if months is not None and table in TIME_COLUMNS:
            wanted = sorted({str(pd.Period(m, freq="M")) for m in months})
            col = TIME_COLUMNS[table]
            if partitioned or col == "month":
                # the store files each row under the month of its time column
                filters = [[*conjunction, ("month", "in", wanted)]]
            else:
                filters = [[*conjunction,
                            (col, ">=", pd.Period(m, freq="M").start_time),
                            (col, "<", (pd.Period(m, freq="M") + 1).start_time)]
                           for m in wanted]
        # partitions are row groups: when only a few columns are read, Dask's optimizer fuses
        # partitions (a file each by default) into one, and fused months of a large store
        # outgrow a worker's memory; fused row groups stay a few million rows
        return dd.read_parquet(path, columns=columns, filters=filters, split_row_groups=True)

    def _columns(self, table: str, data_dir) -> list[str]:
        import dask.dataframe as dd

        found = store.data_files(table, data_dir=data_dir, months=[])
        if found is not None:
            return list(found[1].names)
        return list(dd.read_parquet(self._dataset(table, data_dir)[0]).columns)

    def load(self, table: str, *, months=None, regions=None, data_dir=None,
             columns: list[str] | None = None):
        """A store table as a lazy ``dask.dataframe`` with the dtypes of
        :func:`analysis.store.load` (plain strings, ``month`` as text)."""
        frame = self._read(table, columns=columns, months=months, regions=regions,
                           data_dir=data_dir)
        return frame.map_partitions(_like_store, meta=_like_store(frame._meta))

    def _to_dask(self, frame):
        import dask
        import dask.dataframe as dd

        if isinstance(frame, dd.DataFrame):
            return frame
        if not isinstance(frame, pd.DataFrame):
            raise EngineError(f"the dask engine reads a store table name, a pandas or a dask "
                              f"DataFrame, not {type(frame).__name__}")
        rows = int(self.params["dask"]["partition_rows"])
        with dask.config.set({"dataframe.convert-string": False}):  # keep the frame's dtypes
            return dd.from_pandas(frame, npartitions=max(1, math.ceil(len(frame) / rows)),
                                  sort=False)

    def _counts(self, frame, *, keys: list[str], period: str | None, score: str,
                time_col: str, params: dict) -> pd.DataFrame:
        """Count table of a dask frame: per-partition counts summed by a tree reduction."""
        names = [*keys, "period"] if period else list(keys)
        needed = [*keys, score] + ([time_col] if period else [])
        require_columns(frame, needed, table="responses")
        frame = frame[list(dict.fromkeys(needed))]
        kwargs = dict(keys=keys, period=period, score=score, time_col=time_col, params=params)
        meta = _chunk_counts(frame._meta, **kwargs)
        reduced = frame.reduction(
            chunk=_chunk_counts, chunk_kwargs=kwargs, combine=_sum_counts,
            combine_kwargs={"names": names}, aggregate=_sum_counts,
            aggregate_kwargs={"names": names}, meta=meta,
            split_every=int(self.params["dask"]["split_every"]))
        (counts,) = self._compute(reduced)
        return counts

    def _count_source(self, source, *, keys_for, period, score, time_col, months, regions,
                      data_dir, dealers, params) -> pd.DataFrame:
        """Counts by the keys ``keys_for(columns)`` names, dealers' attributes attached after
        counting; key columns keep a pandas source's dtypes, or take the store's."""
        if isinstance(source, str):
            own = self._columns(source, data_dir)
            dealer_table = self._small("dealers", regions=regions, data_dir=data_dir)
            attached = dealer_attributes(own, dealer_table)
            counted, from_dealers = _split_keys(keys_for([*own, *attached]), own, attached)
            frame = self._read(source, columns=list(dict.fromkeys(
                [*counted, score] + ([time_col] if period else []))),
                months=months, regions=regions, data_dir=data_dir)
            counts = _like_store(self._counts(frame, keys=counted, period=period, score=score,
                                              time_col=time_col, params=params))
            return _attach(counts, dealer_table, from_dealers)
        _check_frame_filters(months, regions, data_dir)
        frame = self._to_dask(source)
        own = list(frame.columns)
        attached = dealer_attributes(own, dealers) if dealers is not None else []
        counted, from_dealers = _split_keys(keys_for([*own, *attached]), own, attached)
        counts = self._counts(frame, keys=counted, period=period, score=score,
                              time_col=time_col, params=params)
        if isinstance(source, pd.DataFrame) and len(counts):
            counts = counts.astype({k: source[k].dtype for k in counted})
        return _attach(counts, dealers, from_dealers)

    # -- analyses -----------------------------------------------------------------------------
    def summarize(self, source, *, by: Sequence[str] = ("region",), period: str | None = "M",
                  invitations=None, months=None, regions=None, data_dir=None,
                  level: float | None = None, min_n: int | None = None, score: str = "nps",
                  time_col: str = "responded_at", params: dict | None = None,
                  settings: Settings | None = None) -> pd.DataFrame:
        """:func:`analysis.nps.summarize` computed on Dask; the same frame, the same numbers.

        ``invitations`` is a DataFrame or ``"invitations"`` (the store table, same filters);
        it is small (dealers x touchpoints x months) and stays in this process.
        """
        p = params_or("nps", params)
        inv = self._invitations(invitations, months, regions, data_dir)
        # a response rate over the whole span needs the months the answers cover: count by
        # month and let summarize_counts add the months up (answers always have a time)
        count_period = "M" if (period is None and inv is not None) else period
        counts = self._count_source(
            source, keys_for=lambda cols: nps.count_keys(by, cols, params=p),
            period=count_period, score=score, time_col=time_col, months=months,
            regions=regions, data_dir=data_dir, dealers=None, params=p)
        return nps.summarize_counts(counts, by=by, period=period, invitations=inv, level=level,
                                    min_n=min_n, params=p, settings=settings)

    def rank_dealers(self, source, *, period: str | None = None, dealers=None, months=None,
                     regions=None, data_dir=None, level: float | None = None,
                     min_n: int | None = None, score: str = "nps",
                     time_col: str = "responded_at", params: dict | None = None,
                     settings: Settings | None = None) -> pd.DataFrame:
        """:func:`analysis.nps.rank_dealers` computed on Dask."""
        p = params_or("nps", params)

        def keys_for(cols):
            return ["region", "dealer_id"] + (["dealer_name"] if "dealer_name" in cols else [])

        counts = self._count_source(
            source, keys_for=keys_for, period="M" if period is not None else None, score=score,
            time_col=time_col, months=months, regions=regions, data_dir=data_dir,
            dealers=dealers, params=p)
        return nps.rank_dealers_from_counts(counts, period=period, level=level, min_n=min_n,
                                            params=p, settings=settings)

    def summarize_weighted(self, source, invitations, *, by: Sequence[str] = ("region",),
                           cell: Sequence[str] = ("dealer_id", "touchpoint"), months=None,
                           regions=None, data_dir=None, level: float | None = None,
                           time_col: str = "responded_at", params: dict | None = None,
                           settings: Settings | None = None) -> pd.DataFrame:
        """:func:`analysis.nps.summarize_weighted` counted on Dask (one count per dealer,
        touchpoint and month); the weighting runs on the small count table here."""
        p = params_or("nps", params)
        keys = list(dict.fromkeys([*by, *cell]))
        counts = self._count_source(
            source, keys_for=lambda cols: keys, period="M", score="nps", time_col=time_col,
            months=months, regions=regions, data_dir=data_dir, dealers=None, params=p)
        inv = self._invitations(invitations, months, regions, data_dir)
        return nps.summarize_weighted_counts(counts, inv, by=by, cell=cell, level=level,
                                             params=p, settings=settings)

    def driver_corr(self, source, *, target: str = "nps", drivers: Sequence[str] | None = None,
                    months=None, regions=None, data_dir=None) -> DriverCorr:
        """Correlation matrix of target and drivers over complete cases, on Dask."""
        if isinstance(source, str):
            columns = self._columns(source, data_dir)
            names = _driver_names(columns, target, drivers)
            frame = self._read(source, columns=[*names, target], months=months,
                               regions=regions, data_dir=data_dir)
        else:
            _check_frame_filters(months, regions, data_dir)
            frame = self._to_dask(source)
            names = _driver_names(frame.columns, target, drivers)
            frame = frame[[*names, target]]
        cols = [*names, target]
        non_numeric = {c: str(t) for c, t in frame.dtypes.items()
                       if not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t)}
        if non_numeric:
            from analysis.drivers import DriverDataError

            raise DriverDataError(f"target and drivers must be numeric; dtypes are "
                                  f"{non_numeric}. Convert ratings with pd.to_numeric")
        reduced = frame.reduction(
            chunk=_chunk_moments, chunk_kwargs={"columns": cols}, combine=_combine_moments,
            aggregate=_combine_moments, meta=_pack(0.0, 0.0, np.zeros(len(cols)),
                                                   np.zeros((len(cols), len(cols)))),
            split_every=int(self.params["dask"]["split_every"]))
        (moments,) = self._compute(reduced)
        return _driver_corr(moments, target, names)

