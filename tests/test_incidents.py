import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import incidents as inc
from analysis.report import charts, tables

# Mon-Fri 09:00-18:00; 12-13 June 2025 are holidays (Russia Day + a transferred day off) and
# Saturday 1 November 2025 is a working day (params/operations.yaml).
CAL = inc.WorkingCalendar.from_params()


def _hours(pairs, calendar=CAL):
    start = pd.Series(pd.to_datetime([a for a, _ in pairs]))
    end = pd.Series(pd.to_datetime([b for _, b in pairs]))
    return inc.working_hours_between(start, end, calendar=calendar)


@pytest.mark.parametrize("start, end, hours", [
    ("2025-06-02 10:00", "2025-06-02 12:30", 2.5),    # same working day
    ("2025-06-02 07:00", "2025-06-02 10:00", 1.0),    # created before opening
    ("2025-06-02 20:00", "2025-06-03 11:00", 2.0),    # created in the evening
    ("2025-06-02 19:00", "2025-06-02 23:00", 0.0),    # both after closing
    ("2025-06-06 17:00", "2025-06-09 10:00", 2.0),    # weekend inside (Fri -> Mon)
    ("2025-06-07 10:00", "2025-06-09 11:30", 2.5),    # created on a Saturday
    ("2025-06-11 17:00", "2025-06-16 10:30", 2.5),    # holidays Thu-Fri and a weekend inside
    ("2025-06-12 09:00", "2025-06-12 17:00", 0.0),    # entirely on a holiday
    ("2025-10-31 17:00", "2025-11-01 10:00", 2.0),    # Saturday 1 Nov 2025 is a working day
    ("2025-11-01 17:00", "2025-11-05 10:00", 2.0),    # 3-4 Nov off: Sat -> Wed
    ("2025-12-30 17:00", "2026-01-12 10:00", 2.0),    # 31 Dec - 11 Jan off
    ("2025-06-02 09:00", "2025-06-09 09:00", 45.0),   # a full working week
])
def test_working_hours_on_hand_made_cases(start, end, hours):
    assert _hours([(start, end)])[0] == pytest.approx(hours)


def test_missing_ends_give_nan_and_tz_aware_times_are_converted():
    out = _hours([("2025-06-02 10:00", None), (None, "2025-06-02 10:00")])
    assert np.isnan(out).all()
    utc = pd.Series(pd.to_datetime(["2025-06-02 07:00"]).tz_localize("UTC"))  # 10:00 Moscow
    later = pd.Series(pd.to_datetime(["2025-06-02 09:00"]).tz_localize("UTC"))  # 12:00
    assert inc.working_hours_between(utc, later, calendar=CAL)[0] == pytest.approx(2.0)


def test_calendar_from_params_and_bad_hours():
    assert CAL.hours_per_day == 9.0
    assert not CAL.is_working_day(["2025-06-12"])[0]
    assert CAL.is_working_day(["2025-11-01"])[0]
    with pytest.raises(ValueError, match="working_calendar"):
        inc.WorkingCalendar("Mon Tue", pd.Timedelta("18:00:00"), pd.Timedelta("09:00:00"))


_TIMES = st.datetimes(min_value=pd.Timestamp("2025-01-01").to_pydatetime(),
                      max_value=pd.Timestamp("2026-12-31").to_pydatetime())


@settings(max_examples=150, deadline=None)
@given(_TIMES, _TIMES, _TIMES)
def test_working_hours_properties(a, b, c):
    ab, ba, bc, ac = _hours([(a, b), (b, a), (b, c), (a, c)])
    assert ab == pytest.approx(-ba, abs=1e-9)          # antisymmetric
    assert ab + bc == pytest.approx(ac, abs=1e-6)      # additive
    calendar_hours = (pd.Timestamp(b) - pd.Timestamp(a)) / pd.Timedelta(hours=1)
    if calendar_hours >= 0:                             # never more than the wall clock
        assert -1e-9 <= ab <= calendar_hours + 1e-9


def test_working_hours_agree_with_a_minute_by_minute_count():
    rng = np.random.default_rng(3)
    start = pd.Timestamp("2025-12-24") + pd.to_timedelta(rng.integers(0, 20 * 1440, 40),
                                                         unit="min")
    end = start + pd.to_timedelta(rng.integers(0, 6 * 1440, 40), unit="min")
    fast = inc.working_hours_between(pd.Series(start), pd.Series(end), calendar=CAL)
    grid = pd.date_range("2025-12-24", "2026-01-20", freq="min", inclusive="left")
    working = (CAL.is_working_day(grid.normalize().values)
               & (grid.hour >= 9) & (grid.hour < 18))
    cum = np.concatenate([[0], np.cumsum(working)])
    slow = (cum[grid.searchsorted(end)] - cum[grid.searchsorted(start)]) / 60
    np.testing.assert_allclose(fast, slow, atol=1e-9)


# --- closure against the SLA -----------------------------------------------------------------


def _incidents(rows):
    return pd.DataFrame(rows, columns=["incident_id", "created_at", "closed_at", "channel",
                                       "category", "reason", "kind", "dealer_id"]).astype(
        {"created_at": "datetime64[ns]", "closed_at": "datetime64[ns]"})


@pytest.fixture
def fixture_incidents():
    t = pd.Timestamp
    return _incidents([
        ("I1", t("2025-06-02 10:00"), t("2025-06-02 13:00"), "phone", "long_service",
         "few_staff", "complaint", "D1"),      # exactly 3 working hours: in time
        ("I2", t("2025-06-02 10:00"), t("2025-06-02 13:01"), "phone", "long_service",
         "waiting_for_parts", "complaint", "D1"),  # 3 h 1 min: late
        ("I3", t("2025-06-06 17:00"), t("2025-06-09 10:30"), "email", "long_service",
         None, "complaint", "D1"),             # weekend inside: 2.5 working hours
        ("I4", t("2025-06-11 16:00"), t("2025-06-16 10:00"), "web_form", "rude_staff",
         None, "complaint", "D2"),             # holidays inside: 3 working hours
        ("I5", t("2025-06-16 21:00"), t("2025-06-17 11:00"), "messenger", "thanks",
         None, "thanks", "D2"),                # created at night: 2 working hours
        ("I6", t("2025-06-17 09:00"), pd.NaT, "phone", "long_service", "few_staff",
         "complaint", "D2"),                   # open 2 working hours at NOW
        ("I7", t("2025-06-16 09:00"), pd.NaT, "phone", "other", None, "complaint", "D2"),
    ])


NOW = pd.Timestamp("2025-06-17 11:00")


def test_closure_status_on_fixtures(fixture_incidents):
    out = inc.closure_times(fixture_incidents, now=NOW).set_index("incident_id")
    assert out["working_hours_to_close"].to_dict() == pytest.approx(
        {"I1": 3.0, "I2": 3 + 1 / 60, "I3": 2.5, "I4": 3.0, "I5": 2.0, "I6": np.nan,
         "I7": np.nan}, nan_ok=True)
    assert out["status"].astype(str).to_dict() == {
        "I1": "closed_within_sla", "I2": "closed_late", "I3": "closed_within_sla",
        "I4": "closed_within_sla", "I5": "closed_within_sla", "I6": "open_within_sla",
        "I7": "open_overdue"}
    assert out.loc["I3", "hours_to_close"] == pytest.approx(65.5)
    assert out.loc["I7", "working_hours_open"] == pytest.approx(11.0)


def test_closure_summary_share(fixture_incidents):
    closures = inc.closure_times(fixture_incidents, now=NOW)
    by_kind = inc.closure_summary(closures, by=("kind",)).set_index("kind")
    c = by_kind.loc["complaint"]
    assert (c["incidents"], c["closed_within_sla"], c["closed_late"], c["open_overdue"],
            c["decided"]) == (6, 3, 1, 1, 5)
    assert c["share_within_sla"] == pytest.approx(0.6)
    assert c["share_low"] < 0.6 < c["share_high"]
    table = tables.closure_table(by_kind.reset_index())
    assert table.loc[table["Kind"] == "complaints", "Within SLA, %"].item() == 60.0


def test_closure_before_creation_is_refused(fixture_incidents):
    bad = fixture_incidents.assign(closed_at=fixture_incidents["created_at"] - pd.Timedelta("1h"))
    with pytest.raises(inc.OperationsDataError, match="closed before they were created"):
        inc.closure_times(bad, now=NOW)


def test_counts_and_long_service_reasons(fixture_incidents):
    counts = inc.incident_counts(fixture_incidents, by=("kind", "channel"), period="M")
    assert counts["n"].sum() == len(fixture_incidents)
    assert counts.loc[(counts["channel"] == "phone"), "n"].sum() == 4
    reasons = inc.long_service_reasons(fixture_incidents)
    assert reasons.set_index("reason")["n"].to_dict() == {
        "few_staff": 2, "waiting_for_parts": 1, "not given": 1}
    assert reasons["share"].sum() == pytest.approx(1.0)


def test_demo_report(small_net):
    net = small_net
    report = inc.incident_report(net.incidents, now=net.truth["as_of"])
    assert report.counts["n"].sum() == len(net.incidents)
    assert set(report.counts["channel"]) <= {"phone", "email", "web_form", "messenger",
                                             "in_store", "social_media"}
    long = net.incidents.query("category == 'long_service'")
    assert report.reasons["n"].sum() == len(long)
    shares = report.closure_by_kind.set_index("kind")["share_within_sla"]
    assert ((shares > 0) & (shares < 1)).all()
    assert "working hours" in report.summary()
    table = tables.incident_table(report.counts, rows="category")
    assert table["Total"].sum() == (net.incidents["kind"] == "complaint").sum()
    month = inc.incident_report(net.incidents, month="2026-10", now=net.truth["as_of"])
    assert len(month.closures) == (net.incidents["created_at"].dt.strftime("%Y-%m")
                                   == "2026-10").sum()
    assert charts.incidents_by_month(report.counts).get_ylabel() == "complaints"
    assert len(charts.long_service_reasons(report.reasons).patches) == len(report.reasons)
