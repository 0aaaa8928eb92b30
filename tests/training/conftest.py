"""The training tests' data: the small generated fixture's gold table, and the tiny candidates trained on it."""

from __future__ import annotations

import pytest

from leadscore import gold, training
from tests.conftest import config_for
from tests.tiny_training import SEED, small_candidates


@pytest.fixture(scope="session")
def gold_sample(silver_sample):
    return gold.training_table(silver_sample, config_for(".").model.split).cache()


@pytest.fixture(scope="session")
def trained(gold_sample):
    columns = config_for(".").feature_sets["full"]
    return training.train(gold_sample, small_candidates(columns, SEED), seed=SEED, tune=True, partitions=4)
