"""Shared fixtures: a small demo network, generated once per session."""

import pytest

from analysis.synthetic import make_network


@pytest.fixture(scope="session")
def small_net():
    """A small but complete demo network (fast to generate)."""
    return make_network(n_dealers=18, n_regions=3, months=6, responses_per_month=1500, seed=7)
