"""The training tests' data: the small generated fixture's gold table, and the tiny candidates trained on it."""

from __future__ import annotations

import pytest

from leadscore.training import fit, gold
from tests.helpers.lakehouse import config_for
from tests.helpers.training import SEED, small_candidates


@pytest.fixture(scope="session")
def gold_sample(silver_sample):
    return gold.training_table(silver_sample, config_for(".").model.split).cache()


@pytest.fixture(scope="session")
def trained(gold_sample):
    columns = config_for(".").feature_sets["full"]
    return fit.train(gold_sample, small_candidates(columns, SEED), seed=SEED, tune=True, partitions=4)
