"""Shared fixtures: a small demo network, generated once per session."""

import pytest

from analysis.synthetic import make_network


@pytest.fixture(scope="session")
def small_net():
    """A small but complete demo network (fast to generate)."""
    return make_network(n_dealers=18, n_regions=3, months=6, responses_per_month=1500, seed=7)



@pytest.fixture(scope="session")
def ingested_store(tmp_path_factory):
    """``ingested_store(name, net)``: the demo network ``net`` written and ingested as the
    reports read it; returns the store's ``processed`` directory."""
    from analysis.ingest import ingest_demo

    def build(name, net):
        out = tmp_path_factory.mktemp(name)
        net.write(out)
        ingest_demo(out, data_root=out)
        return out / "processed"

    return build
