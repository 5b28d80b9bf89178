"""Calibration of the report's flags: permutation nulls and power, on any store.

Every star, rank and growth zone a report shows should survive a null test: with the answers
shuffled across dealers, months and touchpoints no dealer, month, region or touchpoint
differs, so every flag raised is false. :func:`calibrate` runs those nulls on the answers
given (the current store through ``python -m analysis calibrate``; a small demo network in
tests/test_calibration.py; the default demo in ``make bench``) and counts

- false stars per report: every star a report shows (the scope's, touchpoints' and regions'
  NPS changes, dealer changes, dealers vs the rest of their region, CSS changes, driver
  importance changes: the frames of :func:`analysis.stars.report_tables`) under the rule
  the report uses (:class:`analysis.stars.StarRule`: one Benjamini-Hochberg family over the
  report with ``scope: report``), and for comparison under each table's own BH and at a raw
  ``p < 1 - level`` (the stars before issue 15);
- false growth zones per run (:func:`analysis.growth.growth_zones`) on a 12-month and a
  1-month window, and the pairs whose uplift interval alone lies above 0 (the old rule);
- power: in shuffled answers, chosen dealers' report-month answers are moved up by
  ``power_effect`` NPS points (non-promoters turned promoters at random) and the share of
  them whose change is flagged is counted; and the sustained-change alarms' power: chosen
  dealers moved up by ``alarm_effect`` points in each of the last ``alarm_months`` months,
  the share alarmed (:func:`alarm_power`).

The family is the report's whole family: the months a report reads (``calibration.months``,
its trend), not the last two.

A shuffle permutes whole answers (the score with its driver and CSS ratings) across the rows,
keeping every row's labels: the null of "labels carry no information" with the relation
between a customer's ratings and score intact, which the growth-zone model needs. The runs'
sizes come from ``calibration`` of params/flags.yaml; the level, q, star scope and the
importance's bootstrap draws from the run's :class:`analysis.settings.Settings` (``settings``,
None: params/*.yaml), the same that decide the report's stars.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import nps, stars
from analysis.config import load_params
from analysis.settings import Settings, settings_or

__all__ = ["CalibrationResult", "alarm_power", "calibrate", "false_flags", "false_zones",
           "plant_change", "power", "report_flags", "shuffle_answers"]

# the columns that travel with an answer when the answers are shuffled
_LABELS = ("response_id", "dealer_id", "dealer_name", "region", "city", "touchpoint",
           "responded_at", "month", "vin", "open_to_dealer", "phone", "email")


def shuffle_answers(responses: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The responses with their answers (score, driver and CSS ratings, comment) permuted
    across rows; labels (dealer, region, touchpoint, time) stay where they were."""
    answers = [c for c in responses.columns if c not in _LABELS]
    order = rng.permutation(len(responses))
    shuffled = responses[answers].iloc[order].set_axis(responses.index)
    return responses.assign(**{c: shuffled[c] for c in answers})


def _month_of(times: pd.Series) -> pd.Series:
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_localize(None)
    return times.dt.to_period("M")


def report_flags(responses: pd.DataFrame, *, month: str, time_col: str = "responded_at",
                 network: bool = True, n_boot: int | None = None,
                 settings: Settings | None = None) -> pd.DataFrame:
    """The stars of one report built on ``responses``: one row per family of the report
    (:data:`analysis.stars.FAMILIES`) with the tests run and the stars under

    - ``flagged_report``: the report's rule, one Benjamini-Hochberg family over all its stars
      (:class:`analysis.stars.StarRule` with ``scope="report"``, what the report shows with
      ``scope: report`` in params/flags.yaml);
    - ``flagged``: each table's own BH (the ``*_flag`` columns, ``scope: table``);
    - ``raw``: a raw ``p < 1 - level`` (the stars before issue 15;
      :meth:`analysis.settings.Settings.significant`).

    The frames are :func:`analysis.stars.report_tables`, the report's own; ``responses``
    carry ``region`` and ``dealer_id`` and should hold the month before ``month`` too.
    ``network`` includes the regions' family (the network's report); ``n_boot`` the driver
    importance bootstrap (None: ``settings.n_boot``, the report's draws).
    """
    s = settings_or(settings)
    cluster = load_params("drivers").get("bootstrap_cluster")
    frames = stars.report_tables(responses, month=month, network=network, n_boot=n_boot,
                                 cluster=cluster, time_col=time_col, settings=s)
    p_values = stars.family_p_values(frames)
    report_rule = stars.StarRule.of(p_values, scope="report", settings=s)
    table_rule = stars.StarRule.of(p_values, scope="table", settings=s)
    on_report, on_table = report_rule.count(frames), table_rule.count(frames)
    rows = []
    for family, p in p_values.items():
        rows.append({"family": family, "tests": int(np.isfinite(p).sum()),
                     "flagged": on_table[family], "flagged_report": on_report[family],
                     "raw": int(s.significant(p).sum())})
    return pd.DataFrame(rows)


def _report_months(responses: pd.DataFrame, month: str, time_col: str) -> pd.DataFrame:
    """The answers of the months a report reads (params/flags.yaml ``calibration.months``,
    its trend): the report's whole family of tests - every month's change on the trend,
    the dealers' gap to their region over its window - not the last two months only."""
    period = pd.Period(month, freq="M")
    months = _month_of(responses[time_col])
    back = int(load_params("flags")["calibration"]["months"])
    return responses.loc[(months <= period) & (months > period - back)]


def false_flags(responses: pd.DataFrame, *, month: str, permutations: int,
                random_state: int = 0, time_col: str = "responded_at",
                network: bool = True, settings: Settings | None = None) -> pd.DataFrame:
    """Stars per family in each of ``permutations`` shuffles of the report's months
    (:func:`report_flags`: the report's rule, each table's BH, raw p)."""
    s = settings_or(settings)
    rng = np.random.default_rng(random_state)
    base = _report_months(responses, month, time_col)
    parts = [report_flags(shuffle_answers(base, rng), month=month, time_col=time_col,
                          network=network, settings=s).assign(permutation=i)
             for i in range(permutations)]
    return pd.concat(parts, ignore_index=True)


def plant_change(responses: pd.DataFrame, dealers: Sequence, *, month: str, effect: float,
                 rng: np.random.Generator, time_col: str = "responded_at") -> pd.DataFrame:
    """Raise the expected NPS of ``dealers`` in ``month`` by ``effect`` points.

    Each non-promoter answer of those dealers in that month becomes a 10 with probability
    ``effect / 100 / (share of passives + 2 x share of detractors)``: a passive turned
    promoter adds 1 / n to the NPS, a detractor 2 / n. The driver ratings are left alone.
    """
    cut = nps.score_cutoffs()
    scores = responses["nps"].to_numpy(copy=True)
    in_month = (_month_of(responses[time_col]) == pd.Period(month, freq="M")).to_numpy()
    for dealer in dealers:
        rows = np.flatnonzero(in_month & (responses["dealer_id"] == dealer).to_numpy())
        if not len(rows):
            continue
        s = scores[rows]
        passives = ((s > cut[2]) & (s < cut[3])).mean()
        detractors = (s <= cut[2]).mean()
        chance = min(1.0, effect / 100 / max(passives + 2 * detractors, 1e-9))
        turn = (s < cut[3]) & (rng.random(len(rows)) < chance)
        scores[rows[turn]] = cut[1]
    return responses.assign(nps=scores)


def power(responses: pd.DataFrame, *, month: str, effect: float, n_dealers: int,
          permutations: int, random_state: int = 0, time_col: str = "responded_at",
          settings: Settings | None = None) -> pd.DataFrame:
    """Per planted dealer and shuffle: its answers in the month, whether its change was
    starred under the report's rule (``flagged``: ``settings.scope``, the family
    of :func:`report_flags` built on the planted answers), by the dealer table's own BH
    (``flagged_table``) and at raw ``p < 1 - level`` (``raw``)."""
    s = settings_or(settings)
    rng = np.random.default_rng(random_state)
    base = _report_months(responses, month, time_col)
    cluster = load_params("drivers").get("bootstrap_cluster")
    ids = np.sort(base["dealer_id"].unique())
    rows = []
    for i in range(permutations):
        shuffled = shuffle_answers(base, rng)
        chosen = rng.choice(ids, size=min(n_dealers, len(ids)), replace=False)
        planted = plant_change(shuffled, chosen, month=month, effect=effect, rng=rng,
                               time_col=time_col)
        frames = stars.report_tables(planted, month=month, network=True, cluster=cluster,
                                     time_col=time_col, settings=s)
        rule = stars.StarRule.of(stars.family_p_values(frames), settings=s)
        ranked = frames["dealer change"]
        ranked = ranked.assign(_star=rule.significant(ranked, "change")).set_index("dealer_id")
        for dealer in chosen:
            if dealer in ranked.index:
                row = ranked.loc[dealer]
                rows.append({"permutation": i, "dealer_id": dealer, "n": int(row["n"]),
                             "flagged": bool(row["_star"]),
                             "flagged_table": bool(row["change_flag"]),
                             "raw": s.significant(row["change_p_value"])})
    return pd.DataFrame(rows)


def false_zones(responses: pd.DataFrame, *, month: str, months: int, permutations: int,
                n_boot: int, random_state: int = 0, time_col: str = "responded_at",
                drivers: Sequence[str] | None = None,
                settings: Settings | None = None) -> pd.DataFrame:
    """Growth zones per shuffle of the ``months`` months to ``month``: ``zones`` under the
    report's rule and ``interval_above_0`` (pairs whose uplift interval alone is above 0)."""
    from analysis import growth

    period = pd.Period(month, freq="M")
    months_of = _month_of(responses[time_col])
    window = responses.loc[(months_of > period - months) & (months_of <= period)]
    s = settings_or(settings)
    rng = np.random.default_rng(random_state)
    rows = []
    for i in range(permutations):
        result = growth.growth_zones(shuffle_answers(window, rng), drivers=drivers,
                                     n_boot=n_boot, random_state=int(rng.integers(2**31)),
                                     settings=s)
        table = result.table
        rows.append({"permutation": i, "months": months, "pairs": len(table),
                     "zones": int(table["growth_zone"].sum()),
                     "interval_above_0": int((table["uplift_low"] > 0).sum())})
    return pd.DataFrame(rows)


def alarm_power(responses: pd.DataFrame, *, month: str, effect: float, months: int,
                n_dealers: int, permutations: int, random_state: int = 0,
                time_col: str = "responded_at", settings: Settings | None = None
                ) -> pd.DataFrame:
    """Per planted dealer and shuffle: whether the report's sustained-change detector
    (:func:`analysis.alarms.detect`, dealer level) raises a rise for a dealer whose NPS was
    moved up by ``effect`` points in each of the last ``months`` months to ``month``
    (:func:`plant_change`), in answers shuffled across dealers, months and touchpoints.
    Columns ``permutation, dealer_id, n`` (its answers in those months), ``alarmed``."""
    from analysis import alarms

    s = settings_or(settings)
    rng = np.random.default_rng(random_state)
    base = _report_months(responses, month, time_col)
    period = pd.Period(month, freq="M")
    ids = np.sort(base["dealer_id"].unique())
    in_window = (_month_of(base[time_col]) > period - months).to_numpy()
    rows = []
    for i in range(permutations):
        planted = shuffle_answers(base, rng)
        chosen = rng.choice(ids, size=min(n_dealers, len(ids)), replace=False)
        for back in range(months):
            planted = plant_change(planted, chosen, month=str(period - back), effect=effect,
                                   rng=rng, time_col=time_col)
        table = alarms.detect(planted, month=month, time_col=time_col, settings=s).table
        raised = set(table.loc[(table["level"] == "dealer") & table["alarmed"]
                               & (table["direction"] == "rise"), "dealer_id"])
        for dealer in chosen:
            n = int((in_window & (base["dealer_id"] == dealer).to_numpy()).sum())
            rows.append({"permutation": i, "dealer_id": dealer, "n": n,
                         "alarmed": dealer in raised})
    return pd.DataFrame(rows, columns=["permutation", "dealer_id", "n", "alarmed"])


@dataclass(frozen=True)
class CalibrationResult:
    """What :func:`calibrate` measured: the raw runs and their averages.

    Attributes
    ----------
    flags
        Per shuffle and family: tests, flags under the report's rule, raw stars.
    zones
        Per shuffle and window (``months``): growth zones, pairs with an interval above 0.
    power
        Per planted dealer and shuffle: answers, flagged, raw.
    alarms
        Per planted dealer and shuffle: answers in the planted months, alarmed
        (:func:`alarm_power`: a change of ``alarm_effect`` points over ``alarm_months``).
    scope
        The star scope of the report measured (``settings.scope``; None: params/flags.yaml).
    """

    month: str
    flags: pd.DataFrame = field(repr=False)
    zones: pd.DataFrame = field(repr=False)
    power: pd.DataFrame = field(repr=False)
    effect: float
    seconds: float
    alarms: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    alarm_effect: float = float("nan")
    alarm_months: int = 0
    scope: str | None = None

    @property
    def _scope(self) -> str:
        return settings_or(None).scope if self.scope is None else self.scope

    @property
    def false_stars_per_report(self) -> float:
        """Mean stars per report (all families) under the null, with the rule the report
        uses (params/flags.yaml ``scope``: one BH family over the report, or per table)."""
        if self._scope == "report":
            return self.false_stars_per_report_joint
        return self.false_stars_per_report_table

    @property
    def false_stars_per_report_joint(self) -> float:
        """Mean stars per report with one BH family over the whole report."""
        return float(self.flags.groupby("permutation")["flagged_report"].sum().mean())

    @property
    def false_stars_per_report_table(self) -> float:
        """Mean stars per report with BH within each table (``scope: table``)."""
        return float(self.flags.groupby("permutation")["flagged"].sum().mean())

    @property
    def reports_with_a_false_star(self) -> float:
        """Share of null reports that show at least one star under the report's rule."""
        column = "flagged_report" if self._scope == "report" else "flagged"
        return float((self.flags.groupby("permutation")[column].sum() > 0).mean())

    @property
    def raw_stars_per_report(self) -> float:
        """The same at a raw p < 1 - level: the stars before multiplicity control."""
        return float(self.flags.groupby("permutation")["raw"].sum().mean())

    def false_zones_per_run(self) -> pd.Series:
        """Mean false growth zones per run, by window (months)."""
        return self.zones.groupby("months")["zones"].mean()

    @property
    def power_flagged(self) -> float:
        """Share of planted changes flagged under the report's rule."""
        return float(self.power["flagged"].mean()) if len(self.power) else float("nan")

    def to_frame(self) -> pd.DataFrame:
        """The headline rates as one tidy frame: measure, value."""
        scope = self._scope
        rows = [(f"false stars per report (the report's rule, scope {scope})",
                 self.false_stars_per_report),
                ("reports with a false star", self.reports_with_a_false_star),
                ("false stars per report (BH per table)", self.false_stars_per_report_table),
                ("false stars per report (BH over the report)",
                 self.false_stars_per_report_joint),
                ("stars per report at raw p (before)", self.raw_stars_per_report)]
        for months, value in self.false_zones_per_run().items():
            rows.append((f"false growth zones per run, {months}-month window", value))
        for months, value in self.zones.groupby("months")["interval_above_0"].mean().items():
            rows.append((f"pairs with uplift interval above 0, {months}-month window (before)",
                         value))
        if len(self.power):
            rows.append((f"power at +{self.effect:g} points (the report's rule)",
                         self.power_flagged))
            rows.append((f"power at +{self.effect:g} points (BH per table)",
                         float(self.power["flagged_table"].mean())))
            rows.append((f"power at +{self.effect:g} points (raw p)",
                         float(self.power["raw"].mean())))
        if len(self.alarms):
            rows.append((f"alarm power at +{self.alarm_effect:g} points for "
                         f"{self.alarm_months} months", float(self.alarms["alarmed"].mean())))
        return pd.DataFrame(rows, columns=["measure", "value"])

    def summary(self) -> str:
        """The rates, per family and per window, as text."""
        perms = self.flags["permutation"].nunique()
        by_family = (self.flags.groupby("family", sort=False)
                     [["tests", "flagged", "flagged_report", "raw"]]
                     .mean().round(2))
        lines = [f"Calibration on {self.month}: answers shuffled across dealers, months and "
                 f"touchpoints ({perms} shuffles; {self.seconds:.0f} s)",
                 "", self.to_frame().round(3).to_string(index=False),
                 "", "Per report table (mean per shuffle):", by_family.to_string()]
        if len(self.power):
            lines += ["", f"Power: {len(self.power)} planted dealer-months of median "
                      f"{int(self.power['n'].median())} answers"]
        return "\n".join(lines)


def calibrate(
    responses: pd.DataFrame,
    *,
    month: str,
    permutations: int | None = None,
    growth_permutations: int | None = None,
    growth_n_boot: int | None = None,
    windows: Sequence[int] = (12, 1),
    effect: float | None = None,
    power_dealers: int | None = None,
    random_state: int = 0,
    time_col: str = "responded_at",
    settings: Settings | None = None,
) -> CalibrationResult:
    """Run the permutation nulls and the power check on ``responses`` (module docstring).

    Parameters
    ----------
    responses
        Answers with ``dealer_id``, ``region`` (:func:`analysis.store.with_region`), the NPS,
        the driver ratings and, for the CSS table, the CSS ratings; they should cover the
        ``max(windows)`` months to ``month``.
    month
        The report month "YYYY-MM".
    permutations, growth_permutations, growth_n_boot, effect, power_dealers
        None takes ``calibration`` of params/flags.yaml; 0 permutations skips that part.
    windows
        Growth-zone windows in months (12 and 1: the report's and a month alone).
    settings
        The report's :class:`analysis.settings.Settings` (None: params/*.yaml): the level,
        q, scope and importance draws of the stars measured.
    """
    s = settings_or(settings)
    spec = load_params("flags")["calibration"]
    permutations = spec["permutations"] if permutations is None else permutations
    growth_permutations = (spec["growth_permutations"] if growth_permutations is None
                           else growth_permutations)
    growth_n_boot = spec["growth_n_boot"] if growth_n_boot is None else growth_n_boot
    effect = float(spec["power_effect"] if effect is None else effect)
    power_dealers = spec["power_dealers"] if power_dealers is None else power_dealers
    start = time.perf_counter()
    flags = (false_flags(responses, month=month, permutations=permutations,
                         random_state=random_state, time_col=time_col, settings=s)
             if permutations else pd.DataFrame(columns=["family", "tests", "flagged", "raw",
                                                        "flagged_report", "permutation"]))
    zones = [false_zones(responses, month=month, months=m, permutations=growth_permutations,
                         n_boot=growth_n_boot, random_state=random_state + m,
                         time_col=time_col, settings=s)
             for m in windows] if growth_permutations else []
    zones = (pd.concat(zones, ignore_index=True) if zones
             else pd.DataFrame(columns=["permutation", "months", "pairs", "zones",
                                        "interval_above_0"]))
    planted = (power(responses, month=month, effect=effect, n_dealers=power_dealers,
                     permutations=permutations, random_state=random_state + 1,
                     time_col=time_col, settings=s)
               if permutations and power_dealers else
               pd.DataFrame(columns=["permutation", "dealer_id", "n", "flagged", "flagged_table",
                                        "raw"]))
    alarm_runs = (alarm_power(responses, month=month, effect=float(spec["alarm_effect"]),
                              months=int(spec["alarm_months"]), n_dealers=power_dealers,
                              permutations=permutations, random_state=random_state + 2,
                              time_col=time_col, settings=s)
                  if permutations and power_dealers else pd.DataFrame())
    return CalibrationResult(month=str(month), flags=flags, zones=zones, power=planted,
                             effect=effect, seconds=time.perf_counter() - start,
                             alarms=alarm_runs, alarm_effect=float(spec["alarm_effect"]),
                             alarm_months=int(spec["alarm_months"]), scope=s.scope)
