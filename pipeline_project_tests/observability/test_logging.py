"""PIPELINE_LOG_FORMAT=json: every line a run writes is one JSON object; text stays Dagster's console."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import colored_console_logger

from pipeline_project.definitions import defs  # loaded in text mode: the variable is unset in tests
from pipeline_project.observability.logging import (
    JsonFormatter,
    configure_process,
    job_run_config,
    json_console_logger,
    log_format,
    run_loggers,
)
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land_sample

REPO = Path(__file__).resolve().parents[2]
DAY = "2025-05-01"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# What the deployed dagster.yaml sets for the run workers (see observability/logging.py).
INSTANCE = "telemetry:\n  enabled: false\npython_logs:\n  python_log_level: INFO\n"


def _env(tmp_path, local_url, **extra) -> dict:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(INSTANCE)
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PIPELINE_STORAGE_URL": local_url,
        "PIPELINE_LOG_FORMAT": "json",
        "PIPELINE_ENVIRONMENT": "dev",
        **extra,
    }


def _run_worker(env: dict, day: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline_project_tests.observability.run_worker", day],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _json_lines(text: str) -> list[dict]:
    """Every non-empty line, parsed: a line that is not one JSON object fails the test, naming it."""
    parsed = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}")
        assert isinstance(entry, dict), line
        parsed.append(entry)
    return parsed


def _check_log_entry(entry: dict) -> None:
    assert {"timestamp", "level", "logger", "message"} <= set(entry), entry
    assert TIMESTAMP.match(entry["timestamp"]), entry["timestamp"]
    assert entry["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    assert isinstance(entry["message"], str)


def test_a_run_in_json_mode_writes_only_json_lines(tmp_path, local_url):
    land_sample(open_storage(local_url), DAY, rows=60)
    done = _run_worker(_env(tmp_path, local_url), DAY)
    assert done.returncode == 0, done.stderr[-3000:]

    logs = _json_lines(done.stderr)
    for entry in logs:
        _check_log_entry(entry)
    run_logs = [e for e in logs if e["logger"] == "dagster"]
    (run_id,) = {e["run_id"] for e in run_logs}
    assert all(e["job"] == "daily_report_job" and e["partition"] == DAY for e in run_logs)
    events = [e.get("event") for e in run_logs]
    assert events[0] == "RUN_START" and events[-1] == "RUN_SUCCESS"
    assert {"STEP_START", "ASSET_MATERIALIZATION", "STEP_SUCCESS"} <= set(events)
    messages = {e["message"]: e for e in run_logs}
    # context.log calls from the step worker (a subprocess) come through the same logger.
    (file_line,) = [e for m, e in messages.items() if m.startswith(f"raw-data/{DAY}/web/events-0000.csv: processed, ")]
    assert (file_line["level"], file_line["step"]) == ("INFO", "daily_report.scan_shard_files[d20250501_0000]")
    assert f"report written: {local_url}/reports/{DAY}.json" in messages
    # Everything else on stderr is a load-time warning, formatted the same way.
    assert {e["logger"] for e in logs} <= {"dagster", "py.warnings"}

    # stdout: exactly the one EMF line, a JSON object of its own.
    (metrics,) = _json_lines(done.stdout)
    assert (metrics["Partition"], metrics["RunId"], metrics["Environment"]) == (DAY, run_id, "dev")
    assert metrics["RecordsRead"] == 60


def test_a_failed_run_in_json_mode_logs_the_error_as_json(tmp_path, local_url):
    done = _run_worker(_env(tmp_path, local_url), DAY)  # no raw data for the day
    assert done.returncode == 1
    assert done.stdout == ""  # no report, no metrics
    logs = _json_lines(done.stderr)
    for entry in logs:
        _check_log_entry(entry)
    expected = f"no raw data files for {DAY} under {local_url}/raw-data/{DAY}/"
    (error,) = [e for e in logs if e["message"] == expected]
    assert (error["level"], error["partition"], error["step"]) == ("ERROR", DAY, "daily_report.plan")
    (step_failure,) = [e for e in logs if e.get("event") == "STEP_FAILURE"]
    assert step_failure["level"] == "ERROR"
    assert "dagster._core.definitions.events.Failure" in step_failure["exception"]
    assert expected in step_failure["exception"]
    assert [e for e in logs if e.get("event") == "RUN_FAILURE"][0]["level"] == "ERROR"


def test_the_cli_in_json_mode_keeps_its_summary_and_prints_metrics(tmp_path, local_url):
    land_sample(open_storage(local_url), DAY, rows=30)
    cli = str(Path(sys.executable).with_name("pipeline-project"))
    done = subprocess.run(
        [cli, "run", "--date", DAY], env=_env(tmp_path, local_url), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # The CLI quiets the run logger (loggers.console at CRITICAL): stderr holds at most JSON warnings.
    assert {e["logger"] for e in _json_lines(done.stderr)} <= {"py.warnings"}
    out = done.stdout.splitlines()
    assert [json.loads(line)["Partition"] for line in out if line.startswith('{"_aws"')] == [DAY]
    assert out[-1].startswith("1 of 1 days reported, 0 failed")


def test_a_bad_log_format_stops_the_code_location_from_loading(tmp_path, local_url):
    env = _env(tmp_path, local_url, PIPELINE_LOG_FORMAT="xml")
    done = subprocess.run([sys.executable, "-c", "import pipeline_project.definitions"], env=env, capture_output=True)
    assert done.returncode != 0
    assert b"PIPELINE_LOG_FORMAT must be 'text' or 'json', not 'xml'" in done.stderr


def test_text_mode_keeps_dagsters_console_logger(monkeypatch):
    monkeypatch.delenv("PIPELINE_LOG_FORMAT", raising=False)
    assert log_format() == "text"
    monkeypatch.setenv("PIPELINE_LOG_FORMAT", " JSON ")
    assert log_format() == "json"
    assert run_loggers("text") is None and job_run_config("text") is None
    assert job_run_config("json") == {"loggers": {"console": {}}}
    assert set(run_loggers("json")) == {"console"}
    job = defs.resolve_job_def("daily_report_job")
    assert job.loggers["console"].description == colored_console_logger.description
    assert job.loggers["console"] is not json_console_logger
    configure_process("text")
    assert not [h for h in logging.getLogger("py.warnings").handlers if h.get_name() == "pipeline_project_json"]


def test_formatter_fields_for_plain_records_exceptions_and_ranges():
    formatter = JsonFormatter()
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.LogRecord("pipeline", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info())
    record.created = dt.datetime(2025, 3, 4, 10, 0, 0, 123000, tzinfo=dt.UTC).timestamp()
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["timestamp"] == "2025-03-04T10:00:00.123Z"
    assert (entry["level"], entry["logger"], entry["message"]) == ("ERROR", "pipeline", "failed x")
    assert entry["exception"].startswith("Traceback") and "ValueError: boom\nsecond line" in entry["exception"]
    assert set(entry) == {"timestamp", "level", "logger", "message", "exception"}

    ranged = logging.LogRecord("dagster", logging.INFO, __file__, 1, "constructed - message", (), None)
    ranged.dagster_meta = {
        "orig_message": "message",
        "run_id": "r1",
        "job_name": "daily_report_job",
        "step_key": None,
        "dagster_event": None,
        "job_tags": {
            "dagster/asset_partition_range_start": "2025-03-01",
            "dagster/asset_partition_range_end": "2025-03-07",
        },
    }
    entry = json.loads(formatter.format(ranged))
    assert entry["message"] == "message"
    assert (entry["run_id"], entry["job"], entry["partition_range"]) == (
        "r1",
        "daily_report_job",
        "2025-03-01...2025-03-07",
    )
    assert "partition" not in entry and "step" not in entry
    ranged.partition = "2025-03-02"  # context.log.info(..., extra={"partition": day})
    assert json.loads(formatter.format(ranged))["partition"] == "2025-03-02"
