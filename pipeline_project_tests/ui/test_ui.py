"""The Dagster UI as a person meets it, in a real browser: Debian's Chromium driven by Playwright,
against `dg dev` on a loopback port over a local lake with sample data.

One test, so that `pytest -n 2` starts one server: it dismisses the first-visit dialog, sees the
partitions, backfills a range through the Materialize dialog, watches the runs on the Runs page,
opens a partition's metadata and the checks, opens the failed day's run and the run of a day whose
only file is unreadable, and then compares the reports with the reference computation.

Which day fails: docs/data-contract.md section 2 fails a day with no considered file, while an
unreadable file is quarantined with its reason (section 3) and its day is reported with zero
records. So the failed day is one whose producer wrote `_SUCCESS` and nothing else, and the
unreadable day's run succeeds with the quarantine reason in its log.

With UI_SCREENSHOTS_DIR set (`make screenshots`), the test also saves the README's pictures there.
The test's own instance keeps Dagster's default, so it dismisses the dialog; make dev's turns it off.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus
from playwright.sync_api import Page, expect, sync_playwright

from pipeline_project.core.contract import report_key
from pipeline_project.core.report import markdown_preview, rejection_rate
from pipeline_project.defs.policy import run_days
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land, land_sample
from pipeline_project_tests.core.reference import quarantined_rows, reference_day, report_numbers
from pipeline_project_tests.test_dagster_dev import REPO, _dagster_dev

TODAY = dt.datetime.now(dt.UTC).date()
# Inside the launch dialog's default window (the last 90 days), older than the sensor's look-back.
EMPTY, UNREADABLE, *SAMPLED = [(TODAY - dt.timedelta(days=n)).isoformat() for n in (13, 12, 11, 10)]
PARTITIONS = (TODAY - dt.date(2025, 1, 1)).days  # PIPELINE_START_DATE up to yesterday
UNREADABLE_FILES = {"events.csv.gz": b"not a gzip stream"}
SCREENSHOTS = os.environ.get("UI_SCREENSHOTS_DIR")


def _shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / name))


def _partition(page: Page, ui: str, day: str) -> None:
    """The asset's Partitions tab, filtered to one day and opened as a person would."""
    page.goto(f"{ui}/assets/daily_report")
    page.get_by_role("tab", name="Partitions").click()
    page.get_by_role("textbox", name="Filter by name…").fill(day)
    page.get_by_text(day, exact=True).first.click()


def test_backfill_runs_partitions_checks_and_a_failed_day_in_the_browser(tmp_path, local_url):
    lake = open_storage(local_url)
    land(lake, EMPTY, {"_SUCCESS": b""})
    land(lake, UNREADABLE, UNREADABLE_FILES)
    sampled = {day: land_sample(lake, day, rows=60 + 20 * n, seed=n) for n, day in enumerate(SAMPLED)}
    settings = {  # one day per run; no sensor or schedule runs of their own while the test watches
        "PIPELINE_BACKFILL_BATCH_DAYS": "1",
        "PIPELINE_SENSOR_INTERVAL_SECONDS": "60",
        "PIPELINE_SCHEDULE_CRON": "0 1 * * *",
    }
    chromium = shutil.which("chromium")
    assert chromium, "the browser test drives Debian's Chromium: apt-get install chromium (as .ci/run does)"
    with (
        _dagster_dev(tmp_path, local_url, cli="dg", **settings) as graphql,
        sync_playwright() as playwright,
    ):
        ui = graphql.removesuffix("/graphql")
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        expect.set_options(timeout=60_000)

        page.goto(f"{ui}/assets/daily_report")
        community = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
        community.get_by_role("button", name="Skip").click()
        expect(community).to_be_hidden()

        page.get_by_role("tab", name="Partitions").click()
        expect(page.get_by_text(f"Missing ({PARTITIONS})")).to_be_visible()
        expect(page.get_by_text("Materialized (0)")).to_be_visible()

        page.get_by_role("button", name="Materialize…").click()
        launch = page.get_by_role("dialog")
        launch.get_by_role("textbox").fill(f"[{EMPTY}...{SAMPLED[-1]}]")
        launch.get_by_role("textbox").press("Enter")
        expect(launch.get_by_text("4 partitions", exact=True)).to_be_visible()
        expect(launch.get_by_text("with a maximum of 1 partitions per run")).to_be_visible()
        launch.get_by_role("button", name="Launch backfill").click()
        expect(launch).to_be_hidden()

        page.get_by_role("navigation").get_by_role("link", name="Runs").click()
        page.get_by_text("Show runs within backfills").click()
        expect(page.get_by_text("Success", exact=True)).to_have_count(3, timeout=240_000)
        expect(page.get_by_text("Failure", exact=True)).to_have_count(1)

        with DagsterInstance.from_config(str(tmp_path / "home")) as instance:
            run_of = {day: r for r in instance.get_runs() for day in run_days(r.tags)}
        assert {day: run.status for day, run in run_of.items()} == {
            EMPTY: DagsterRunStatus.FAILURE,
            UNREADABLE: DagsterRunStatus.SUCCESS,
            **dict.fromkeys(SAMPLED, DagsterRunStatus.SUCCESS),
        }

        # The failed day: its run page says why, in the product's one sentence.
        _partition(page, ui, EMPTY)
        expect(page.get_by_text("failed, and did not materialize this asset.")).to_be_visible()
        page.get_by_role("link", name=run_of[EMPTY].run_id[:8]).click()
        expect(page.get_by_text("RUN_FAILURE").first).to_be_visible()
        expect(
            page.get_by_text(f"no raw data files for {EMPTY} under {local_url}/raw-data/{EMPTY}/").first
        ).to_be_visible()
        _shot(page, "run-failed.png")

        # The day whose only file is unreadable: reported, the file quarantined with its reason.
        _partition(page, ui, UNREADABLE)
        expect(page.get_by_role("row", name="files_quarantined 1", exact=True)).to_be_visible()
        expect(page.get_by_role("row", name="records_read 0", exact=True)).to_be_visible()
        page.goto(f"{ui}/runs/{run_of[UNREADABLE].run_id}")  # all its steps' logs, not the publish step's alone
        expect(
            page.get_by_text(f"raw-data/{UNREADABLE}/events.csv.gz: quarantined (unreadable_file), 0 read, 0 rejected")
        ).to_be_visible()

        # A sampled day: its metadata, the Markdown preview rendered, and its run with the steps.
        day = SAMPLED[-1]
        report = json.loads(lake.read_bytes(report_key(day)))
        records = report["records"]
        _partition(page, ui, day)
        for name, value in (
            ("records_read", records["read"]),
            ("records_valid", records["valid"]),
            ("records_rejected", records["rejected"]),
            ("records_duplicates", records["duplicates"]),
            ("files_processed", 3),
            ("files_quarantined", 0),
            ("unique_users", report["unique_users"]),
            ("rejection_rate", rejection_rate(report)),
        ):
            shown = str(value).removesuffix(".0")  # as JavaScript prints a number: 0.0 is "0"
            expect(page.get_by_role("row", name=f"{name} {shown}", exact=True)).to_be_visible()
        expect(page.get_by_text(markdown_preview(report).splitlines()[0].replace("**", ""))).to_be_visible()
        page.get_by_role("link", name=run_of[day].run_id[:8]).click()  # opens on the publish step's logs
        expect(page.get_by_text("Success", exact=True).first).to_be_visible()
        expect(page.get_by_text(f"report written: {local_url}/reports/{day}.json").first).to_be_visible()
        _shot(page, "run.png")

        # The checks, as their tab shows them; freshness fails (yesterday has no report), which is true.
        page.goto(f"{ui}/assets/daily_report")
        page.get_by_role("tab", name="Checks").click()
        expect(page.locator("body")).to_match_aria_snapshot(
            "- text: rejection_rate_below_threshold rejection_rate_below_threshold Succeeded\n"
            '- img "check_circle"\n'
            "- text: report_reconciles report_reconciles Succeeded"
        )
        page.get_by_text("rejection_rate_below_threshold", exact=True).first.click()
        expect(page.get_by_text("Warns when rejected/read is too high.")).to_be_visible()
        _shot(page, "checks.png")

        # The asset page's metadata plotted across the partitions (the first tab list is the asset's).
        page.get_by_role("tab", name="Overview").first.click()
        page.get_by_role("button", name="Plots").click()
        expect(page.get_by_text("records_read").first).to_be_visible()
        _shot(page, "asset-page.png")
        browser.close()

    for day, files in {**sampled, UNREADABLE: UNREADABLE_FILES}.items():
        report = json.loads(lake.read_bytes(report_key(day)))
        expected = reference_day(files)
        assert quarantined_rows(lake.read_bytes(f"quarantine/{day}/rejected_rows.jsonl"), day) == expected.pop(
            "rejected_rows"
        )
        assert report_numbers(report) == expected
        assert rejection_rate(report) < 0.05  # so the rate check succeeded, as the Checks tab showed
    # Nothing lost: the unreadable file is kept whole in the quarantine; the empty day has no report.
    assert lake.read_bytes(f"quarantine/{UNREADABLE}/files/events.csv.gz") == UNREADABLE_FILES["events.csv.gz"]
    assert lake.read_bytes(report_key(EMPTY)) is None


def test_make_dev_instance_shows_no_community_dialog(tmp_path):
    """make dev's instance (the Makefile writes its dagster.yaml) turns the first-visit dialog off."""
    home = tmp_path / "home"
    done = subprocess.run(
        ["make", "-s", "-C", str(REPO), f"DAGSTER_HOME={home}", f"{home}/dagster.yaml"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    with DagsterInstance.from_config(str(home)) as instance:
        assert (instance.nux_enabled, instance.telemetry_enabled) == (False, False)
