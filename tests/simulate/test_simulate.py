"""The replay simulator: files in the export's format, landed whole and in order, with follow-ups that grow."""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from leadscore.cli import main
from leadscore.errors import LeadscoreError
from leadscore.ingest.query import ingest
from leadscore.ingest.silver import latest_per_lead
from leadscore.schema import SOURCE_HEADER
from leadscore.synthetic import simulator
from leadscore.synthetic.calibration import packaged_profile, read_export
from leadscore.synthetic.generator import write_csv
from leadscore.synthetic.simulator import FIRST_LEAD_NUMBER, replay, split_export
from tests.helpers.lakehouse import config_for, load_fixture

AT = {name: i for i, name in enumerate(SOURCE_HEADER)}
STOPPED_CLOCK = 1_700_000_000_123_000_000  # ns
ACTIVITIES = set(packaged_profile()["categorical"]["Last Activity"]["values"]) | set(
    packaged_profile()["categorical"]["Last Activity"]["other"]
)


def files_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.csv"))


def rows_of(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))[1:]


def replayed(folder: Path) -> list[tuple[int, list[str]]]:
    """(file number, row) of every row landed, in landing order."""
    return [(number, row) for number, path in enumerate(files_in(folder), 1) for row in rows_of(path)]


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    def run(seed: int, name: str) -> list[bytes]:
        replay("generated", tmp_path / name, files=4, rows=60, seed=seed)
        return [p.read_bytes() for p in files_in(tmp_path / name)]

    first = run(3, "a")
    assert first == run(3, "b")
    assert first != run(4, "c")


def test_files_are_in_the_exports_format_and_sort_in_landing_order(tmp_path):
    result = replay("generated", tmp_path, files=3, rows=30, seed=1)
    paths = files_in(tmp_path)
    assert [p.name for p in paths] == ["replay-00001.csv", "replay-00002.csv", "replay-00003.csv"]
    for path in paths:
        data = path.read_bytes()
        lines = data.split(b"\r\n")
        assert lines[-1] == b"" and all(line.endswith(b",") and b"\n" not in line for line in lines[:-1])
        with open(path, newline="", encoding="utf-8") as handle:
            parsed = list(csv.reader(handle))
        assert parsed[0] == [*SOURCE_HEADER, ""]
        assert {len(row) for row in parsed} == {38}
    assert result == {
        "files": 3,
        "rows": sum(len(rows_of(p)) for p in paths),
        "follow_ups": 4,
        "landing": str(tmp_path),
    }
    numbers = [int(row[AT["Lead Number"]]) for _, row in replayed(tmp_path)]
    assert min(numbers) == FIRST_LEAD_NUMBER


def test_follow_ups_reuse_earlier_leads_with_more_visits_time_and_a_new_activity(tmp_path):
    result = replay("generated", tmp_path, files=6, rows=300, seed=2, follow_up_share=0.25)
    latest: dict[str, tuple[int, list[str]]] = {}
    follow_ups = 0
    for number, row in replayed(tmp_path):
        lead = row[AT["Prospect ID"]]
        if lead in latest:
            follow_ups += 1
            before_file, before = latest[lead]
            assert before_file < number  # a follow-up of a lead from an earlier file, never of one in its own
            changed = {name for name in SOURCE_HEADER if row[AT[name]] != before[AT[name]]}
            assert changed <= {
                "TotalVisits",
                "Total Time Spent on Website",
                "Page Views Per Visit",
                "Last Activity",
                "Last Notable Activity",
            }
            visits, old_visits = int(row[AT["TotalVisits"]]), int(before[AT["TotalVisits"]] or 0)
            assert visits > old_visits
            assert int(row[AT["Total Time Spent on Website"]]) > int(before[AT["Total Time Spent on Website"]] or 0)
            views = float(row[AT["Page Views Per Visit"]])
            assert 1 <= views <= visits
            assert row[AT["Last Activity"]] != before[AT["Last Activity"]]
            assert row[AT["Last Activity"]] in ACTIVITIES
            assert row[AT["Last Notable Activity"]] in (row[AT["Last Activity"]], "Modified")
        latest[lead] = (number, row)
    assert follow_ups == result["follow_ups"] and len(latest) == 300
    first_file = rows_of(files_in(tmp_path)[0])
    assert len({row[0] for row in first_file}) == len(first_file) == 50  # nothing earlier to follow up
    for path in files_in(tmp_path)[1:]:
        assert len(rows_of(path)) == 50 + round(50 * 0.25 / 0.75)  # follow-ups are a quarter of each file's rows


def test_follow_ups_also_come_from_leads_already_ingested(tmp_path):
    seen = load_fixture("generated_small.csv")
    seen_ids = {row[0] for row in read_export(seen)}
    replay("generated", tmp_path / "landing", files=1, rows=40, seed=3, seen=seen)
    rows = rows_of(files_in(tmp_path / "landing")[0])
    assert len(rows) == 50 and sum(row[0] in seen_ids for row in rows) == 10


def test_an_export_source_replays_its_rows_in_order(tmp_path):
    source = load_fixture("generated_small.csv")
    result = replay(source, tmp_path, files=4, rows=100, follow_up_share=0)
    assert result["rows"] == 100 and result["follow_ups"] == 0
    assert [row[:37] for _, row in replayed(tmp_path)] == read_export(source)[:100]


def test_files_land_whole_and_each_a_millisecond_after_the_last(tmp_path):
    """A watcher listing the folder while files land never reads part of one; landed files get ordered times."""
    landing = tmp_path / "landing"
    landing.mkdir()
    seen: dict[str, bytes] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for path in landing.iterdir():
                if not path.name.startswith("."):
                    seen.setdefault(path.name, path.read_bytes())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        replay("generated", landing, files=40, rows=4_000, seed=4)
    finally:
        done.set()
        watcher.join()
    final = {p.name: p.read_bytes() for p in landing.iterdir()}
    assert len(final) == 40 and all(not name.startswith(".") for name in final)  # no temporary file left
    assert seen and all(final[name] == data for name, data in seen.items())
    stamps = [p.stat().st_mtime_ns for p in files_in(landing)]
    assert all(later - earlier >= 1_000_000 for earlier, later in zip(stamps, stamps[1:], strict=False))


def test_files_are_spaced_by_the_interval_and_a_stop_ends_the_replay(tmp_path):
    stop = threading.Event()
    landed: list[float] = []

    def on_file(file) -> None:
        landed.append(time.monotonic())
        if file.number == 3:
            stop.set()

    result = replay("generated", tmp_path, files=10, interval_seconds=0.2, rows=20, on_file=on_file, stop=stop)
    assert result["files"] == 3 and len(files_in(tmp_path)) == 3
    assert all(later - earlier >= 0.2 for earlier, later in zip(landed, landed[1:], strict=False))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "generated", "files": 2}, "needs --rows"),
        ({"source": "generated", "files": 5, "rows": 4}, "files must be between 1 and the number of leads (4)"),
        ({"source": "generated", "files": 1, "rows": 4, "follow_up_share": 1.0}, "follow-up share"),
        ({"source": "missing.csv", "files": 1}, "source not found"),
        ({"source": str(load_fixture("generated_small.csv")), "files": 1, "rows": 301}, "holds 300 leads"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, kwargs, message):
    with pytest.raises(LeadscoreError, match=message.replace("(", r"\(").replace(")", r"\)")):
        replay(landing=tmp_path, **kwargs)
    assert not files_in(tmp_path)


def test_a_landing_folder_already_replayed_into_is_refused(tmp_path):
    replay("generated", tmp_path, files=1, rows=5)
    with pytest.raises(LeadscoreError, match="already holds replayed files"):
        replay("generated", tmp_path, files=1, rows=5)


def test_split_export_is_deterministic_complete_and_disjoint(tmp_path):
    source = load_fixture("generated_small.csv")

    def split(seed: int, name: str) -> tuple[list[list[str]], list[list[str]]]:
        parts = split_export(source, tmp_path / f"{name}-h.csv", tmp_path / f"{name}-o.csv", 0.7, seed)
        assert parts == {"historical": 210, "holdout": 90}
        return read_export(tmp_path / f"{name}-h.csv"), read_export(tmp_path / f"{name}-o.csv")

    historical, holdout = split(5, "a")
    assert (historical, holdout) == split(5, "b")
    assert historical != split(6, "c")[0]
    rows = read_export(source)
    assert not {r[0] for r in historical} & {r[0] for r in holdout}
    assert sorted(historical + holdout) == sorted(rows)
    assert historical == [r for r in rows if r in historical]  # the export's order kept


def test_cli_replays_and_prints_the_figures_last(tmp_path, capsys):
    argv = ["simulate", "--source", "generated", "--rows", "12", "--files"]
    assert main([*argv, "2", "--landing", str(tmp_path), "--seed", "1", "--follow-up-share", "0.5"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {
        "files": 2,
        "rows": 18,
        "follow_ups": 6,
        "landing": str(tmp_path),
    }
    assert main([*argv, "13", "--landing", str(tmp_path / "other")]) == 2
    assert "files must be between 1 and the number of leads (12)" in capsys.readouterr().err


def test_ingested_follow_ups_are_each_leads_newest_event_even_within_one_clock_tick(spark, tmp_path, monkeypatch):
    """Silver orders a lead's events by file time (ms), then line: a follow-up must win over the row it follows,
    also when the file system stamps every file with the same time (a coarse clock, files back to back)."""

    def write_on_a_stopped_clock(path, chunks):
        count = write_csv(path, chunks)
        os.utime(path, ns=(STOPPED_CLOCK, STOPPED_CLOCK))
        return count

    monkeypatch.setattr(simulator, "write_csv", write_on_a_stopped_clock)
    landing, config = tmp_path / "landing", config_for(tmp_path / "lakehouse")
    replay("generated", landing, files=3, rows=24, seed=6, follow_up_share=0.5)
    assert [p.stat().st_mtime_ns - STOPPED_CLOCK for p in files_in(landing)] == [0, 1_000_000, 2_000_000]
    visits = {row[0]: row[AT["TotalVisits"]] for _, row in replayed(landing)}  # the last row per lead
    ingest(spark, config, str(landing))
    latest = latest_per_lead(config.table("silver_leads").read(spark)).select("prospect_id", F.col("total_visits"))
    assert {r.prospect_id: r.total_visits for r in latest.collect()} == {
        lead: int(v) if v else None for lead, v in visits.items()
    }
