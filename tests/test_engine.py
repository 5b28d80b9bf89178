"""The engine switch: Dask gives the local engine's numbers on the same store.

The store is the small demo network (18 dealers, 3 regions, 6 months) appended month by month
as ingest does; Dask runs on its synchronous scheduler (and once on a threaded LocalCluster),
so no cluster is needed. Also: the count-table path of analysis.nps (hypothesis: any split of
the answers into pieces gives summarize's frame), and the streamed demo store.
"""

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import drivers, engine, nps, schemas, store, synthetic
from analysis.__main__ import main
from analysis.config import load_params

ATOL = 1e-9
# dask's own Parquet reader still calls reset_index(inplace=True)
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=ATOL)


@pytest.fixture(scope="module")
def data(small_net, tmp_path_factory):
    """The store layout: dealers/, invitations/month=*/, responses/month=*/."""
    root = tmp_path_factory.mktemp("store")
    for table in ("dealers", "invitations", "responses"):
        store.append(table, getattr(small_net, table), data_dir=root)
    return root


@pytest.fixture(scope="module")
def single_file(small_net, tmp_path_factory):
    """The demo writer's layout: one <table>.parquet per table."""
    return small_net.write(tmp_path_factory.mktemp("files"))


@pytest.fixture(scope="module")
def local():
    return engine.get_engine("local")


@pytest.fixture(scope="module")
def dask_sync():
    with engine.get_engine("dask=synchronous") as eng:
        yield eng


@pytest.fixture(scope="module")
def answers(data):
    return store.with_region(store.load("responses", data_dir=data),
                             store.load("dealers", data_dir=data))


# --- the switch ---------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, kind, address", [
    ("local", "local", None), ("dask", "dask", None), (" Dask ", "dask", None),
    ("dask=tcp://10.0.0.5:8786", "dask", "tcp://10.0.0.5:8786"),
    ("dask=synchronous", "dask", "synchronous"),
])
def test_specs(spec, kind, address):
    parsed = engine.parse_spec(spec)
    assert (parsed.kind, parsed.address) == (kind, address)
    assert engine.parse_spec(str(parsed)) == parsed


@pytest.mark.parametrize("spec", ["spark", "local=tcp://x:1", "", "ray=x"])
def test_unknown_specs_say_what_to_write(spec):
    with pytest.raises(engine.EngineError, match="use 'local', 'dask'"):
        engine.parse_spec(spec)


def test_default_comes_from_params_then_environment(monkeypatch):
    monkeypatch.delenv(engine.ENV_VAR, raising=False)
    assert load_params("engine")["default"] == "local"
    assert isinstance(engine.get_engine(), engine.LocalEngine)
    monkeypatch.setenv(engine.ENV_VAR, "dask=synchronous")
    eng = engine.get_engine()
    assert isinstance(eng, engine.DaskEngine) and eng.scheduler == "synchronous"
    assert engine.get_engine("local") is not eng and engine.get_engine(eng) is eng


def test_an_address_without_scheduler_says_how_to_start_one():
    p = load_params("engine")
    p["dask"]["connect_timeout"] = "0.5s"
    with pytest.raises(engine.EngineError, match="no Dask scheduler answers"):
        engine.get_engine("dask=tcp://127.0.0.1:1", params=p)


# --- NPS: the same numbers ----------------------------------------------------------------------
@pytest.mark.parametrize("by", [(), ("region",), ("dealer_id",), ("touchpoint",),
                                ("dealer_id", "touchpoint"), ("region", "touchpoint")])
@pytest.mark.parametrize("period", ["M", "Q", None])
def test_summaries_are_equal(data, local, dask_sync, by, period):
    ours = dask_sync.summarize("responses", by=by, period=period, data_dir=data)
    same(local.summarize("responses", by=by, period=period, data_dir=data), ours)
    assert ours["n"].sum() == len(store.load("responses", data_dir=data, columns=["nps"]))


@pytest.mark.parametrize("period", ["M", None])
def test_response_rates_are_equal(data, local, dask_sync, period):
    kw = dict(by=("touchpoint",), period=period, invitations="invitations", data_dir=data)
    ours = dask_sync.summarize("responses", **kw)
    same(local.summarize("responses", **kw), ours)
    assert ours["response_rate"].between(0, 1).all()


@pytest.mark.parametrize("by", [(), ("region",), ("touchpoint",)])
def test_weighted_summaries_are_equal(data, local, dask_sync, by):
    """The weighted NPS counted on Dask equals the local one, which equals
    nps.summarize_weighted on the loaded answers."""
    kw = dict(by=by, data_dir=data)
    ours = dask_sync.summarize_weighted("responses", "invitations", **kw)
    theirs = local.summarize_weighted("responses", "invitations", **kw)
    same(theirs, ours)
    dealers = store.load("dealers", data_dir=data)
    answers = store.with_region(store.load("responses", data_dir=data), dealers)
    invited = store.with_region(store.load("invitations", data_dir=data), dealers)
    same(nps.summarize_weighted(answers, invited, by=by), theirs)
    assert ours["nps_weighted"].notna().all() and ours["n"].sum() == len(answers)


@pytest.mark.parametrize("month", [None, "2026-10"])
def test_rankings_are_equal(data, local, dask_sync, month):
    ours = dask_sync.rank_dealers("responses", period=month, data_dir=data)
    same(local.rank_dealers("responses", period=month, data_dir=data), ours)
    assert "dealer_name" in ours and len(ours) == 18


@pytest.mark.parametrize("where", ["data", "single_file"])
def test_month_and_region_filters_push_down_alike(request, local, dask_sync, where):
    directory = request.getfixturevalue(where)
    kw = dict(by=("dealer_id",), months=["2026-08", "2026-09"], regions=["Central"],
              data_dir=directory)
    ours = dask_sync.summarize("responses", **kw)
    same(local.summarize("responses", **kw), ours)
    dealers = store.load("dealers", data_dir=directory)
    central = set(dealers.loc[dealers["region"] == "Central", "dealer_id"])
    assert set(ours["dealer_id"]) == central
    assert set(ours["period"].astype(str)) == {"2026-08", "2026-09"}


def test_frames_in_memory_and_partitioned(answers, dask_sync):
    expected = nps.summarize(answers, by=("dealer_id", "touchpoint"))
    same(expected, dask_sync.summarize(answers, by=("dealer_id", "touchpoint")))
    parts = dd.from_pandas(answers, npartitions=7)
    got = dask_sync.summarize(parts, by=("dealer_id", "touchpoint"))
    same(expected, got.astype(expected.dtypes.to_dict()))


def test_ranking_of_a_frame_attaches_the_dealers_after_counting(data, answers, dask_sync):
    dealers = store.load("dealers", data_dir=data)
    bare = answers.drop(columns=["region", "dealer_name", "city"])
    same(nps.rank_dealers(bare, period="2026-09", dealers=dealers),
         dask_sync.rank_dealers(bare, period="2026-09", dealers=dealers))


def test_threaded_local_cluster(data, local):
    p = load_params("engine")
    p["dask"]["local_cluster"].update(processes=False, n_workers=1, threads_per_worker=2)
    with engine.get_engine("dask", params=p) as eng:
        assert "LocalCluster" in eng.describe()
        same(local.summarize("responses", by=("region",), data_dir=data),
             eng.summarize("responses", by=("region",), data_dir=data))
        assert eng.driver_corr("responses", data_dir=data).n > 0


def test_load_is_the_store_as_a_dask_frame(data, dask_sync):
    lazy = dask_sync.load("responses", months=["2026-10"], data_dir=data)
    assert isinstance(lazy, dd.DataFrame)
    got = lazy.compute(scheduler="synchronous").reset_index(drop=True)
    expected = store.load("responses", months=["2026-10"], data_dir=data)
    same(expected, got[expected.columns])


# --- drivers: the same correlation matrix and LMG -----------------------------------------------
def test_driver_correlations_and_lmg_are_equal(data, answers, local, dask_sync):
    names = list(load_params("drivers")["drivers"])
    reference = drivers.relative_importance(answers, target="nps", drivers=names)
    complete = answers[[*names, "nps"]].dropna()
    for eng in (local, dask_sync):
        corr = eng.driver_corr("responses", data_dir=data)
        assert (corr.n, corr.n_dropped) == (reference.n, reference.n_dropped)
        np.testing.assert_allclose(corr.corr.to_numpy(), complete.corr().to_numpy(), rtol=0,
                                   atol=ATOL)
        result = corr.importance()
        same(reference.table, result.table)
        assert result.r2 == pytest.approx(reference.r2, abs=ATOL)
        assert (result.n, result.n_dropped) == (reference.n, reference.n_dropped)
    split = dask_sync.driver_corr(dd.from_pandas(answers, npartitions=9))
    np.testing.assert_allclose(split.corr.to_numpy(), complete.corr().to_numpy(), atol=ATOL)
    rw = dask_sync.driver_corr("responses", data_dir=data).importance(method="relative_weights")
    same(drivers.relative_importance(answers, target="nps", drivers=names,
                                     method="relative_weights").table, rw.table)


def test_driver_errors_name_the_column(answers, dask_sync, local):
    bad = answers.assign(staff=answers["staff"].where(answers.index != 5, np.inf))
    for eng in (dask_sync, local):
        with pytest.raises(drivers.DriverDataError, match=r"\['staff'\].*infinite"):
            eng.driver_corr(bad)
        with pytest.raises(drivers.DriverDataError, match=r"the data lack column\(s\) \['nope'\]"):
            eng.driver_corr(answers, drivers=["staff", "nope"])


def test_frames_take_no_store_filters(answers, dask_sync):
    with pytest.raises(engine.EngineError, match="filter the frame yourself"):
        dask_sync.summarize(answers, months=["2026-10"])
    with pytest.raises(KeyError, match="lack column"):
        dask_sync.summarize(answers, by=("brand",))


# --- the count-table path of analysis.nps --------------------------------------------------------
frames = st.integers(1, 400).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 10), min_size=n, max_size=n),
    st.lists(st.sampled_from(["D1", "D2", "D3", "D4"]), min_size=n, max_size=n),
    st.lists(st.integers(0, 150), min_size=n, max_size=n),
    st.lists(st.integers(0, 5), min_size=n, max_size=n),
))
REGION = {"D1": "North", "D2": "North", "D3": "South", "D4": "South"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames, st.sampled_from([(), ("region",), ("dealer_id",)]),
       st.sampled_from(["M", "Q", None]))
def test_counts_in_any_pieces_give_summarize(columns, by, period):
    scores, dealer, day, cut = columns
    frame = pd.DataFrame({
        "nps": scores, "dealer_id": dealer, "region": [REGION[d] for d in dealer],
        "responded_at": pd.Timestamp("2026-01-01") + pd.to_timedelta(day, unit="D"),
    })
    keys = nps.count_keys(by, frame.columns)
    pieces = pd.concat([nps.count_categories(part, by=keys, period="M")
                        for _, part in frame.groupby(np.asarray(cut), sort=False)])
    same(nps.summarize(frame, by=by, period=period),
         nps.summarize_counts(pieces.sample(frac=1, random_state=0), by=by, period=period))


def test_counts_that_do_not_nest_are_refused(answers):
    weekly = nps.count_categories(answers, by=["region"], period="W")
    with pytest.raises(ValueError, match="do not nest"):
        nps.summarize_counts(weekly, by=("region",), period="M")
    with pytest.raises(KeyError, match="count_categories"):
        nps.summarize_counts(weekly.drop(columns="promoters"), by=("region",), period="W")


# --- the streamed demo store ---------------------------------------------------------------------
SIZE = dict(n_dealers=12, n_regions=3, months=3, responses_per_month=2000, seed=5)


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setattr(synthetic, "STREAM_BLOCK_ROWS", 700)  # several blocks per month
    try:
        root = tmp_path_factory.mktemp("streamed")
        written = synthetic.write_responses_partitioned(root, **SIZE)
    finally:
        mp.undo()
    return root, written


def test_stream_writes_the_store_layout(streamed):
    root, written = streamed
    assert written.months == ("2026-08", "2026-09", "2026-10")
    assert store.versions(root) == {"dealers": 0, "invitations": 0, "responses": 0}
    for month in written.months:  # Delta tables partitioned by month
        assert list((root / "responses" / f"month={month}").glob("*.parquet"))
        assert list((root / "invitations" / f"month={month}").glob("*.parquet"))
    responses = store.load("responses", data_dir=root)
    assert len(responses) == written.responses > 5000
    assert responses["response_id"].is_unique
    assert (responses["responded_at"].dt.strftime("%Y-%m") == responses["month"]).all()
    schemas.MODELS["responses"].validate(responses.drop(columns="month"))
    invitations = store.load("invitations", data_dir=root)
    assert len(invitations) == written.invitations == 12 * 5 * 3
    assert dd.read_parquet(root / "responses").shape[0].compute() == written.responses


def test_stream_keeps_make_networks_dealers_and_is_one_data_set_per_seed(streamed, tmp_path):
    root, _ = streamed
    net = synthetic.make_network(**{**SIZE, "responses_per_month": 100})
    pd.testing.assert_frame_equal(store.load("dealers", data_dir=root), net.dealers)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(synthetic, "STREAM_BLOCK_ROWS", 700)
        again = synthetic.stream_responses(**SIZE)
        first = next(iter(again))
    stored = store.load("responses", months=["2026-08"], data_dir=root).drop(columns="month")
    pd.testing.assert_frame_equal(first.responses, stored.iloc[:700].reset_index(drop=True))
    comments = stored["comment"].dropna()
    assert 0.4 < len(comments) / len(stored) < 0.8


def test_stream_follows_the_planted_driver_weights(streamed):
    root, _ = streamed
    answers = store.load("responses", data_dir=root)
    result = drivers.relative_importance(answers, target="nps",
                                         drivers=list(load_params("drivers")["drivers"]))
    weights = load_params("network")["demo"]["driver_weights"]
    assert result.table["rank"].idxmin() == max(weights, key=weights.get)


def test_cli_writes_a_parquet_store_once(tmp_path, capsys):
    args = ["demo-data", "--out", str(tmp_path / "big"), "--format", "parquet", "--dealers", "6",
            "--regions", "2", "--months", "2", "--responses-per-month", "500"]
    assert main(args) == 0
    assert "month partitions" in capsys.readouterr().out
    assert len(store.load("responses", data_dir=tmp_path / "big")) > 500
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--comments", "none"]) == 0
    assert store.load("responses", data_dir=tmp_path / "big")["comment"].isna().all()


def test_a_store_by_url_as_on_object_storage(data, local, dask_sync):
    url = data.resolve().as_uri()  # file:///...: read through fsspec, as s3://bucket/store
    kw = dict(by=("region",), months=["2026-10"], regions=["Central", "South"],
              invitations="invitations")
    same(local.summarize("responses", data_dir=data, **kw),
         dask_sync.summarize("responses", data_dir=url, **kw))
    same(local.rank_dealers("responses", period="2026-10", data_dir=data),
         dask_sync.rank_dealers("responses", period="2026-10", data_dir=url))


def test_the_store_url_may_come_from_the_environment(data, local, dask_sync, monkeypatch):
    monkeypatch.setenv("DEALER_VOICE_DATA", data.resolve().as_uri())
    same(local.summarize("responses", by=("touchpoint",), data_dir=data),
         dask_sync.summarize("responses", by=("touchpoint",)))


def test_a_batch_shares_one_cluster(data, local):
    p = load_params("engine")
    p["dask"]["local_cluster"].update(processes=False, n_workers=1)
    with engine.shared_cluster("dask", params=p) as spec:
        assert spec.startswith("dask=inproc://") or spec.startswith("dask=tcp://")
        with engine.get_engine(spec, params=p) as eng:  # what each notebook does
            same(local.summarize("responses", by=(), data_dir=data),
                 eng.summarize("responses", by=(), data_dir=data))
    with engine.shared_cluster("local") as spec:
        assert spec == "local"
