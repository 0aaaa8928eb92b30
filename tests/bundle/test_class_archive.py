"""The JVM's class-data archive (leadscore.class_archive): made by set-up, mapped by every local session, and never
a cause of failure or of noise on a command's standard output."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from leadscore import spark as spark_module
from leadscore.spark import class_archive, java_options

SESSION_PROBE = """
from leadscore.config import load_config
from leadscore.spark import get_spark
spark = get_spark(load_config("local", overrides={"spark.ui": False}).spark, "probe")
print(spark.range(3).count())
"""

FAILED_WORKLOAD = """
import sys
from pathlib import Path
from leadscore import class_archive

def failing(*_):
    raise RuntimeError("workload failed")

class_archive._workload = failing
try:
    class_archive.make(Path(sys.argv[1]))
except RuntimeError as error:
    print(error)
"""


def test_a_session_maps_the_archive_set_up_made_and_loads_spark_and_delta_from_it(tmp_path):
    archive = class_archive()
    assert archive.is_file(), f"make setup made no class archive at {archive}"
    # The JVM's class-loading log, one file per JVM (spark-submit runs a launcher JVM first).
    logged = f"-Xlog:class+load=info:file={tmp_path}/classes-%p.log"
    env = {**os.environ, "JAVA_TOOL_OPTIONS": f"{os.environ.get('JAVA_TOOL_OPTIONS', '')} {logged}".strip()}
    done = subprocess.run([sys.executable, "-c", SESSION_PROBE], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "3"  # nothing but the command's own output on stdout
    loaded = "\n".join(log.read_text() for log in tmp_path.glob("classes-*.log"))
    from_archive = set(re.findall(r"(\S+) source: shared objects file \(top\)", loaded))
    assert any(name.startswith("org.apache.spark.sql.") for name in from_archive)
    assert any(name.startswith("org.apache.spark.sql.delta.") for name in from_archive)


def test_sessions_map_the_archive_only_when_there_is_one(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADSCORE_JARS_DIR", str(tmp_path / "jars"))
    assert "SharedArchiveFile" not in java_options()
    class_archive().parent.mkdir(parents=True)
    class_archive().write_bytes(b"")
    assert f"-XX:SharedArchiveFile={class_archive()}" in java_options()
    assert f"-XX:ArchiveClassesAtExit={tmp_path / 'out.jsa'}" in java_options(tmp_path / "out.jsa")
    assert all(option in java_options() for option in spark_module.JAVA_OPTIONS)


def test_an_archive_is_named_after_the_jdk_and_the_pins_it_was_made_from(monkeypatch):
    made_for_these = class_archive()
    monkeypatch.setattr(spark_module, "version", lambda package: "0.0.0")
    assert class_archive() != made_for_these  # other PySpark and Delta versions: another archive


def test_a_failed_workload_leaves_no_archive_behind(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", FAILED_WORKLOAD, str(tmp_path / "archive.jsa")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "workload failed"
    assert list(tmp_path.iterdir()) == []  # neither the archive nor a partial one
