"""Shared fixtures: a small demo network, generated once per session."""

import os
from pathlib import Path

import pytest
from hypothesis import settings

from analysis.synthetic import make_network

# Property tests draw the same examples on every run (CI must not pass or fail by the seed of
# the day); HYPOTHESIS_PROFILE=explore searches afresh when hunting for new counterexamples.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(scope="session")
def small_net():
    """A small but complete demo network (fast to generate)."""
    return make_network(n_dealers=18, n_regions=3, months=6, responses_per_month=1500, seed=7)


@pytest.fixture(scope="session")
def answers(small_net):
    """The small network's answers with each dealer's region (a test module may define its
    own ``answers``)."""
    from analysis import regions

    return regions.with_region(small_net.responses, small_net.dealers)


@pytest.fixture(scope="session")
def month(answers):
    """The small network's last month, YYYY-MM (a test module may define its own)."""
    return str(answers["responded_at"].max().to_period("M"))



@pytest.fixture(scope="session")
def ingested_store(tmp_path_factory):
    """``ingested_store(name, net)``: the demo network ``net`` written and ingested as the
    reports read it; returns the store's ``processed`` directory."""
    from analysis.demo_exports import ingest_demo

    def build(name, net):
        out = tmp_path_factory.mktemp(name)
        net.write(out)
        ingest_demo(out, data_root=out)
        return out / "processed"

    return build


@pytest.fixture(scope="session")
def six_dealer_store(ingested_store):
    """The store of a six-dealer, two-region, three-month demo (seed 3): the small and thin
    scopes of tests/test_small_scopes.py and tests/test_thin_data.py bend it."""
    return ingested_store("six-dealers", make_network(
        n_dealers=6, n_regions=2, months=3, responses_per_month=500, seed=3))


@pytest.fixture(scope="session")
def six_dealer_data(six_dealer_store):
    """The network report's data of :func:`six_dealer_store` (tests bend copies of it)."""
    from analysis.report.data import load_report_data

    return load_report_data(region="all", data_dir=six_dealer_store)


@pytest.fixture(scope="session")
def demo() -> Path:
    """The test demo store (``make unit`` builds it and names it in DEALER_VOICE_TEST_DEMO)."""
    chosen = os.environ.get("DEALER_VOICE_TEST_DEMO")
    root = Path(__file__).resolve().parents[1]
    data = Path(chosen) if chosen else root / ".cache" / "demo-small" / "processed"
    if not data.exists():
        pytest.skip(f"no test demo at {data} (make nbval builds it)")
    return data
