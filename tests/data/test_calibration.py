"""The profile holds facts, not rows; it regenerates from the real export; generated leads give it back."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from leadscore.cli import main
from leadscore.errors import LeadscoreError
from leadscore.schema import SOURCE_HEADER
from leadscore.synthetic.calibration import build_profile, packaged_profile, read_export, to_json
from leadscore.synthetic.generator import generate_chunks
from tests.helpers.lakehouse import load_fixture

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def leaves(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from leaves(item)
    elif isinstance(value, list):
        yield value
        for item in value:
            yield from leaves(item)
    else:
        yield value


@pytest.fixture(scope="module")
def regenerated() -> dict:
    """The profile of 50,000 generated leads."""
    return build_profile([row for chunk in generate_chunks(50_000, seed=11) for row in chunk])


def p(profile: dict, name: str, value: str, label: int) -> float:
    spec = profile["categorical"][name]
    return spec["p"][label][spec["values"].index(value)]


def test_profile_holds_no_id_and_no_row():
    found = list(leaves(packaged_profile()))
    assert "Prospect ID" not in found and "Lead Number" not in found
    assert not any(isinstance(v, str) and UUID.search(v) for v in found)
    assert not any(isinstance(v, int | float) and v >= 100_000 for v in found)  # lead numbers have six digits
    assert not any(isinstance(v, list) and len(v) >= 37 and all(isinstance(x, str) for x in v) for v in found)


def test_profile_shares_nothing_with_the_real_ids(real_sample):
    text = to_json(packaged_profile())
    numbers = {v for v in leaves(packaged_profile()) if isinstance(v, int | float)}
    rows = read_export(real_sample)
    assert not any(row[0] in text for row in rows)
    assert not numbers & {int(row[1]) for row in rows}


def test_committed_profile_is_the_real_exports(real_sample):
    """Guards against a hand-edited or stale profile: `leadscore calibrate` on the export gives it back."""
    assert json.loads(to_json(build_profile(read_export(real_sample)))) == packaged_profile()


def test_generated_leads_give_the_profile_back(regenerated):
    real = packaged_profile()
    assert abs(regenerated["conversion_rate"] - 0.383) < 0.015
    assert abs(regenerated["conversion_rate"] - real["conversion_rate"]) < 0.015
    for name, value in [
        ("Specialization", "Select"),
        ("Specialization", ""),
        ("City", "Select"),
        ("Lead Profile", "Select"),
        ("How did you hear about X Education", "Select"),
        ("Tags", ""),
        ("Lead Quality", ""),
        ("What is your current occupation", ""),
    ]:
        for label in (0, 1):
            assert abs(p(regenerated, name, value, label) - p(real, name, value, label)) < 0.02, (name, value, label)
    for name in ("TotalVisits", "Asymmetrique Activity Score"):
        for field in ("missing", "zero"):
            assert np.allclose(regenerated["numeric"][name][field], real["numeric"][name][field], atol=0.02)
    for name in ("TotalVisits", "Total Time Spent on Website", "Asymmetrique Profile Score"):
        for label in (0, 1):
            mine, theirs = (np.array(prof["numeric"][name]["quantiles"][label]) for prof in (regenerated, real))
            assert np.allclose(mine[10:91:10], theirs[10:91:10], rtol=0.05, atol=1)
    assert regenerated["bands"] == real["bands"]


def test_generated_page_views_per_visit_equal_the_visits_as_often_as_real_ones(real_sample):
    def share(rows):
        at = (SOURCE_HEADER.index("TotalVisits"), SOURCE_HEADER.index("Page Views Per Visit"))
        visits, views = (np.array([float(r[i] or "nan") for r in rows]) for i in at)
        known = visits > 0
        return (views[known] == visits[known]).mean()

    generated = [row for chunk in generate_chunks(20_000, seed=2) for row in chunk]
    assert abs(share(generated) - share(read_export(real_sample))) < 0.03


def test_rejects_a_file_that_is_not_the_export(tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("a,b\r\n1,2\r\n")
    with pytest.raises(LeadscoreError, match="header"):
        read_export(other)
    ragged = tmp_path / "ragged.csv"
    lines = load_fixture("generated_small.csv").read_text().splitlines()
    ragged.write_text("\n".join([lines[0], lines[1] + "extra,"]))
    with pytest.raises(LeadscoreError, match="line 2"):
        read_export(ragged)


def test_calibrate_job_writes_a_profile_the_generator_reads(tmp_path, capsys):
    out = tmp_path / "profile.json"
    assert main(["calibrate", "--input", str(load_fixture("generated_small.csv")), "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows"] == 300
    profile = json.loads(out.read_text())
    assert profile["dependencies"] == packaged_profile()["dependencies"]
    assert set(profile["categorical"]) == set(packaged_profile()["categorical"])
