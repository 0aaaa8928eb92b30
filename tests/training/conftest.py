"""The training tests' data: the small generated fixture's gold table."""

from __future__ import annotations

import pytest

from leadscore.training import gold
from tests.helpers.lakehouse import config_for


@pytest.fixture(scope="session")
def gold_sample(silver_sample):
    return gold.training_table(silver_sample, config_for(".").model.split).cache()
