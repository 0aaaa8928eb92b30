"""The running console in a real browser: Debian's Chromium, driven by Playwright's Python API.

`leadscore console` serves the test lakehouse; the browser reads the call queue, checks its first rows are the top
callable leads of gold.lead_scores, opens the first lead, and leaves screenshots in the test's temporary folder.
Playwright never downloads a browser here: it drives the system's /usr/bin/chromium (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from leadscore.timetravel import read_live

CHROMIUM = Path("/usr/bin/chromium")
# What this closed network needs: no sandbox as root, and none of Chromium's own connections to the outside.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
FIRST_ROWS = 3

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"no Chromium at {CHROMIUM}: install Debian's chromium package (apt-get install chromium) to run the "
    "browser test; .ci/run installs it",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def console_url(lakehouse, tmp_path_factory):
    """`leadscore console` on a free port, in a process group of its own; stopped after the module."""
    port = free_port()
    log = tmp_path_factory.mktemp("console_server") / "console.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "leadscore.cli", "console", "--lakehouse", lakehouse.lakehouse, "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            os.killpg(server.pid, signal.SIGKILL)
            pytest.fail(f"the console did not start on {url}:\n{log.read_text()}")
        time.sleep(0.5)
    assert f"leadscore console: {url}" in log.read_text()  # the URL `make console` prints
    yield url
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.fixture
def browser_page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile
            executable_path=str(CHROMIUM),
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def test_the_queue_in_a_browser_shows_the_top_leads_and_opens_one(
    spark, lakehouse, console_url, browser_page, tmp_path
):
    top = (
        read_live(spark, lakehouse)  # the agents' view, which the queue reads
        .where((F.col("priority") == "hot") & (F.col("opted_out_call") == F.lit(False)))
        .orderBy(F.desc("score"), "prospect_id")
        .limit(FIRST_ROWS)
        .collect()
    )
    page = browser_page
    page.goto(console_url)
    links = page.get_by_test_id("stPageLink-NavLink")
    links.first.wait_for(timeout=120_000)
    assert links.all_inner_texts()[:FIRST_ROWS] == [str(row.lead_number) for row in top]
    page.screenshot(path=tmp_path / "console-queue.png", full_page=True)

    links.first.click()
    page.get_by_text(f"{top[0].prospect_id} · lead {top[0].lead_number}").wait_for(timeout=120_000)
    assert f"lead={top[0].prospect_id}" in page.url
    score = page.get_by_test_id("stMetric").filter(has_text="score").first
    assert f"{top[0].score:.3f}" in score.inner_text()
    page.screenshot(path=tmp_path / "console-lead.png", full_page=True)
    assert (tmp_path / "console-queue.png").stat().st_size > 10_000
    assert (tmp_path / "console-lead.png").stat().st_size > 10_000
