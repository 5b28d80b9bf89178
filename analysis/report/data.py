"""What one monthly report reads: every table of its scope, with the region attached."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from analysis import coverage, store, table_specs
from analysis.coverage import Need, SectionDataMissing  # noqa: F401 (the sections import it here)
from analysis.engine import Engine, get_engine
from analysis.report import catalogue as L
from analysis.report import format as F
from analysis.settings import Settings

__all__ = ["NETWORK", "OPTIONAL_TABLES", "ReportData", "load_report_data", "trailing_months",
           "unlisted_dealers", "with_unlisted_dealers"]

NETWORK = "all"


# the tables a report can do without (its sections then say the data is missing)
OPTIONAL_TABLES = table_specs.OPTIONAL


@dataclass(frozen=True)
class ReportData:
    """What one monthly report reads: every table of its scope, region attached.

    Optional tables that the data directory lacks are None; sections ask for them with
    :meth:`require`, which raises :class:`SectionDataMissing`. What several sections read
    (a summary, the ranking, the star rule) is computed once and kept by the object
    (:meth:`memo`), so it lives and dies with the report: a narrowed copy
    (:func:`dataclasses.replace`, a dealer's page) starts with none.
    """

    region: str
    month: str
    months: tuple[str, ...]
    dealers: pd.DataFrame
    responses: pd.DataFrame
    invitations: pd.DataFrame | None = None
    cases: pd.DataFrame | None = None
    repair_orders: pd.DataFrame | None = None
    incidents: pd.DataFrame | None = None
    actions: pd.DataFrame | None = None
    contacts: pd.DataFrame | None = None
    data_dir: str | os.PathLike | None = None  # a store.Snapshot: the versions it reads
    network_responses: pd.DataFrame | None = None
    network_dealers: pd.DataFrame | None = None
    engine: Engine | None = field(default=None, compare=False, repr=False)
    dealer_id: str | None = None
    # the scale each driver was rated on, {driver: (low, high)}
    # (analysis.ingest.rating_scales); empty: params/drivers.yaml rating_scale for every driver
    scales: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # True: ``region`` is a region's name even where it reads "all" (a region so named)
    region_is_name: bool = False
    # dealers whose answers the store holds but the dealers table does not name: they are
    # shown under params/columns.yaml defaults.region (:func:`with_unlisted_dealers`)
    unlisted_dealers: tuple[str, ...] = ()
    # what every figure of the report is decided with (level, q, star scope, bootstrap draws,
    # language, margins): made where the report starts (:func:`load_report_data`)
    settings: Settings = field(default_factory=Settings.from_params, compare=False,
                               repr=False)
    # what :meth:`memo` keeps: name -> value, for this report only
    _needs: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def memo(self, name: str, compute):
        """``compute()`` once for this report data (several sections read the same numbers):
        the value is kept under ``name`` by this object and dies with it."""
        if name not in self._needs:
            self._needs[name] = compute()
        return self._needs[name]

    def engine_source(self, table: str = "responses") -> dict:
        """Keywords for an :class:`~analysis.engine.Engine` call on ``table`` in this scope.

        A region or the network is read from the store by the engine itself (on Dask,
        partition by partition); a single dealer's frame is small and passed as it is, and so
        is the scope's frame when the engine is the local one (this process holds it already:
        the engine would read the same rows again).
        """
        from analysis.engine import LocalEngine

        if self.dealer_id is not None:
            return {"source": getattr(self, table)}
        if isinstance(self.engine, LocalEngine) and getattr(self, table) is not None:
            return {"source": getattr(self, table)}
        return {"source": table, "months": list(self.months),
                "regions": None if self.is_network else [self.region],
                "data_dir": self.data_dir}

    def close(self) -> None:
        """Release the engine (a Dask cluster it started stops)."""
        if self.engine is not None:
            self.engine.close()

    @property
    def all_dealers(self) -> pd.DataFrame:
        """Every dealer of the network (the regional report's growth model spans them all)."""
        return self.dealers if self.network_dealers is None else self.network_dealers

    @property
    def network(self) -> pd.DataFrame:
        """The whole network's responses of the same months (benchmarks, national averages)."""
        return self.responses if self.network_responses is None else self.network_responses

    @property
    def is_network(self) -> bool:
        """Whether this is the network's report (a region's or a dealer's is not)."""
        return self.region == NETWORK and not self.region_is_name and self.dealer_id is None

    @property
    def dealer_name(self) -> str | None:
        """A dealer's page: the dealer's name as the dealers table spells it (its code when
        the table names none), masked; None for the network's or a region's report."""
        if self.dealer_id is None:
            return None
        from analysis.privacy import mask_pii

        row = self.dealers.loc[self.dealers["dealer_id"] == self.dealer_id]
        name = row["dealer_name"].iloc[0] if len(row) else None
        return mask_pii(str(self.dealer_id if name is None or pd.isna(name) else name))

    @property
    def title(self) -> str:
        """The report's title in the catalogue's default language."""
        return self.title_in(None)

    def title_in(self, language: str | None) -> str:
        """The report's title in ``language``."""
        if self.dealer_id is not None:
            from analysis.privacy import mask_pii

            return L.text("dealer_page", "title", language=language, dealer=self.dealer_name,
                          code=mask_pii(str(self.dealer_id)), region=mask_pii(self.region),
                          month=F.month_long(self.month, language=L.resolve(language)))
        key = "network" if self.is_network else "region"
        return L.text("titles", key, language=language, region=self.region,
                      month=F.month_long(self.month, language=L.resolve(language)))

    @property
    def current(self) -> pd.DataFrame:
        """Responses of the report month only."""
        return self.responses.loc[self.responses["month"] == self.month]

    def coverage(self) -> pd.DataFrame:
        """What this scope's data allows, section by section (:func:`analysis.coverage.assess`
        on the report's tables and month; once per report data)."""
        def compute():
            tables_ = {name: getattr(self, name) for name in ("responses", "dealers",
                                                              *OPTIONAL_TABLES)}
            if self.network_responses is not None:
                # the growth model spans the network (a region's or a dealer's report reads
                # it whole): its answers count, not the scope's
                tables_["network"] = self.network_responses
            assessed = coverage.assess(tables_, month=self.month, network=self.is_network)
            if self.dealer_id is not None:  # the store's tables, narrowed to the dealer
                assessed = coverage.with_tables_held(
                    assessed, [name for name in OPTIONAL_TABLES
                               if getattr(self, name) is not None])
            return assessed

        return self.memo("coverage", compute)

    def need(self, section: str) -> Need:
        """The verdict of one section (a name of :data:`analysis.coverage.SECTIONS`)."""
        return coverage.verdict(self.coverage(), section)

    def require_section(self, section: str) -> Need:
        """Raise :class:`SectionDataMissing` carrying the coverage verdict when ``section``'s
        data does not allow it; else return the verdict."""
        verdict = self.need(section)
        if not verdict.ok:
            raise SectionDataMissing(verdict.reason, self.month, need=verdict)
        return verdict

    def rated_drivers(self, frame: pd.DataFrame | None = None) -> tuple[str, ...]:
        """The drivers rated often enough in ``frame`` (default: the month's answers) to enter
        an analysis (:func:`analysis.coverage.rated_drivers`)."""
        return coverage.rated_drivers(self.current if frame is None else frame)

    def scale(self, driver: str) -> tuple[int, int]:
        """The scale ``driver`` was rated on (params/drivers.yaml's when not recorded)."""
        return coverage.scale_of(driver, self.scales)

    def alarms(self):
        """The sustained-change alarms (:func:`analysis.alarms.detect`) of this scope's units
        at the report month, computed once per report data. They are computed over the whole
        network (each dealer is measured against the rest of it) and over the alarms'
        ``history_months`` (params/flags.yaml), read from the store where the report has one
        (its engine counts them), else from the network's answers the report holds; a
        region's or a dealer's report keeps its own rows."""
        return self.memo("alarms", lambda: _scope_alarms(self))

    def require(self, *tables: str) -> None:
        """Raise :class:`SectionDataMissing` naming the first absent or empty table."""
        for name in tables:
            frame = getattr(self, name)
            if frame is None or frame.empty:
                raise SectionDataMissing(name, self.month)


def _scope_alarms(data: ReportData):
    from dataclasses import replace

    from analysis import alarms

    history = trailing_months(data.month, int(alarms.alarm_params()["history_months"]))
    if data.data_dir is not None and data.engine is not None:
        counts = data.engine.summarize("responses", by=("region", "dealer_id", "touchpoint"),
                                       period="M", months=list(history),
                                       data_dir=data.data_dir)
        found = alarms.detect_counts(counts, month=data.month, settings=data.settings)
    else:
        found = alarms.detect(data.network, month=data.month, settings=data.settings)
    table = found.table
    if data.dealer_id is not None:
        table = table.loc[table["dealer_id"] == data.dealer_id]
    elif not data.is_network:
        table = table.loc[table["region"] == data.region]
    return replace(found, table=table.reset_index(drop=True))


def trailing_months(month: str, n: int) -> tuple[str, ...]:
    """The ``n`` months ending with ``month`` (YYYY-MM strings, oldest first)."""
    end = pd.Period(month, freq="M")
    return tuple(str(p) for p in pd.period_range(end=end, periods=n, freq="M"))


def unlisted_dealers(dealers: pd.DataFrame, *frames: pd.DataFrame | None) -> list[str]:
    """The dealers ``frames`` name that the dealers table does not (answers appended to the
    store without their dealer), sorted."""
    known = set(dealers["dealer_id"])
    named: set[str] = set()
    for frame in frames:
        if frame is not None and "dealer_id" in frame:
            named.update(frame["dealer_id"].dropna().unique())
    return sorted(named - known)


def with_unlisted_dealers(dealers: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """The dealers table with a row for each dealer of ``ids`` it lacks: named by its id, in
    the region a responses export's dealers get when it names none (params/columns.yaml
    ``defaults.region``), so that its answers count in the network and every statistic that
    groups by region reads them."""
    if not ids:
        return dealers
    from analysis.config import load_params

    region = str((load_params("columns").get("defaults") or {}).get("region") or "Unassigned")
    rows = pd.DataFrame({"dealer_id": ids, "dealer_name": ids, "region": region})
    rows = rows.reindex(columns=dealers.columns).astype(dealers.dtypes.to_dict())
    return pd.concat([dealers, rows], ignore_index=True)


def load_report_data(
    *, region: str = NETWORK, month: str = "", data_dir: str | os.PathLike | None = None,
    trend_months: int = 12, engine: str | Engine | None = None, as_of: str = "",
    region_is_name: bool = False, settings: Settings | None = None,
    language: str | None = None,
) -> ReportData:
    """Load what a monthly report needs; ``month=""`` means the latest complete month.

    ``settings`` are what the report's figures are decided with (None: params/*.yaml,
    :meth:`~analysis.settings.Settings.from_params`); this is the edge where a notebook's
    parameters arrive, so ``language`` (a notebook's ``language``; None or "" keeps the
    settings') is set on them here and every section reads :attr:`ReportData.settings`.

    ``engine`` (a spec such as ``"local"`` or ``"dask=tcp://host:8786"``, see
    :func:`analysis.engine.get_engine`) is where the store-wide statistics of the report run.
    ``as_of`` reads the store's tables at those versions (:func:`analysis.store.snapshot`);
    ``""``: the latest, pinned for the whole report. ``region="all"`` is the network unless
    ``region_is_name`` (a region named "all"). Answers of dealers the dealers table lacks are
    the network's, under params/columns.yaml ``defaults.region``
    (:attr:`ReportData.unlisted_dealers`).
    """
    settings = (Settings.from_params() if settings is None else settings).with_(
        language=language or None)
    data_dir = store.snapshot(data_dir, as_of=as_of or None)  # one version of every table
    regions = None if region == NETWORK and not region_is_name else [region]
    dealers = store.load("dealers", regions=regions, data_dir=data_dir)
    if dealers.empty:
        known = sorted(store.load("dealers", data_dir=data_dir)["region"].unique())
        raise ValueError(f"region {region!r} has no dealers; known regions: {known}")
    if not month:
        times = store.load("responses", columns=["responded_at"], data_dir=data_dir)
        month = store.latest_complete_month(times)
    months = trailing_months(month, trend_months)

    def responses_of(scope: list[str] | None, scope_dealers: pd.DataFrame) -> pd.DataFrame:
        # a region's answers are those of its dealers; the network's may name dealers the
        # dealers table lacks
        frame = store.load("responses", months=months, regions=scope, data_dir=data_dir)
        scope_dealers = with_unlisted_dealers(scope_dealers,
                                              unlisted_dealers(scope_dealers, frame))
        return store.with_region(frame, scope_dealers).assign(
            month=lambda d: d["responded_at"].dt.to_period("M").astype(str))

    responses = responses_of(regions, dealers)
    raw = {name: store.load(name, months=months, regions=regions, data_dir=data_dir)
           if store.available(name, data_dir=data_dir) else None for name in OPTIONAL_TABLES}
    unlisted = unlisted_dealers(dealers, responses, *raw.values())
    dealers = with_unlisted_dealers(dealers, unlisted)
    optional = {name: None if frame is None else store.with_region(frame, dealers)
                for name, frame in raw.items()}
    network = network_dealers = None
    if regions is not None:
        from analysis.report import shared

        network_dealers = store.load("dealers", data_dir=data_dir)
        # in a batch, read once for every regional report
        network = shared.network_responses(data_dir, months,
                                           lambda: responses_of(None, network_dealers))
        unlisted = unlisted_dealers(network_dealers, network)
        network_dealers = with_unlisted_dealers(network_dealers, unlisted)
    from analysis.ingest import rating_scales

    return ReportData(region, month, months, dealers, responses, **optional,
                      data_dir=data_dir, network_responses=network,
                      network_dealers=network_dealers, engine=get_engine(engine),
                      scales=rating_scales(data_dir), region_is_name=region_is_name,
                      unlisted_dealers=tuple(unlisted), settings=settings)
