"""The wheel a bundle deploys is self-contained: it carries conf/*.yml and loads `--env dev` from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json
from leadscore.config import default_conf_dir, load_config
print(json.dumps({"conf_dir": str(default_conf_dir()), "catalog": load_config("dev").catalog}))
"""


def test_wheel_carries_conf_and_loads_it_without_a_checkout(tmp_path):
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", ROOT], check=True)
    [wheel] = (tmp_path / "dist").glob("leadscore-*.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    assert {f"leadscore/conf/{path.name}" for path in (ROOT / "conf").glob("*.yml")} <= packed

    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", site, wheel], check=True)
    env = {key: value for key, value in os.environ.items() if key != "LEADSCORE_CONF_DIR"} | {"PYTHONPATH": str(site)}
    probe = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    loaded = json.loads(probe.stdout)
    assert Path(loaded["conf_dir"]) == site / "leadscore" / "conf"
    assert loaded["catalog"] == "dev"
