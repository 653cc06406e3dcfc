"""Tiny-day overhead: 1,000 rows through `pipeline-project run`, interpreter start included,
and what the time goes to (imports, Dagster's run machinery, the day's compute)."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline_project.daily import compute_day, publish_day
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land_sample

DAY = "2025-06-01"
PIPELINE_PROJECT = str(Path(sys.executable).with_name("pipeline-project"))


def _env(tmp_path, lake_url: str) -> dict:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {**os.environ, "DAGSTER_HOME": str(home), "PIPELINE_STORAGE_URL": lake_url}


def _seconds(command: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of a command; the CPU seconds it used (user + system) go on the result as .cpu."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    done.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, done


def import_time_by_package(stderr: str, count: int = 10) -> list[tuple[str, float]]:
    """`python -X importtime` self times summed by top-level package, largest first."""
    found: dict[str, float] = {}
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match:
            package = match.group(2).split(".")[0]
            found[package] = found.get(package, 0) + int(match.group(1)) / 1e6
    return sorted(found.items(), key=lambda kv: -kv[1])[:count]


# What `pipeline-project run --date D` does, step by step, with a clock around each step.
STAGES = """
import time, json, sys
marks = [("start", time.perf_counter())]
import pipeline_project.cli as cli
from dagster import DagsterInstance
marks.append(("import dagster + cli", time.perf_counter()))
from pipeline_project.definitions import defs
marks.append(("import definitions", time.perf_counter()))
job = defs.resolve_job_def("daily_report_job")
resources, storage = cli._resources_and_storage()
marks.append(("resolve job + resources", time.perf_counter()))
with DagsterInstance.get() as instance:
    marks.append(("open instance", time.perf_counter()))
    result = job.execute_in_process(partition_key=sys.argv[1], instance=instance, run_config=cli.QUIET_LOGGERS,
                                    resources=resources, raise_on_error=False)
    marks.append(("execute_in_process", time.perf_counter()))
assert result.success
print(json.dumps([(b[0], b[1] - a[1]) for a, b in zip(marks, marks[1:])]))
"""


@pytest.mark.benchmark
def test_benchmark_tiny_day_through_pipeline_project_run(tmp_path, local_url, capsys):
    lake = open_storage(local_url)
    land_sample(lake, DAY, rows=1000)
    env = _env(tmp_path, local_url)

    first, done = _seconds([PIPELINE_PROJECT, "run", "--date", DAY], env)  # fresh DAGSTER_HOME
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1000 read" in done.stdout
    wall, done = _seconds([PIPELINE_PROJECT, "run", "--date", DAY], env)  # the instance exists now
    assert done.returncode == 0, done.stdout + done.stderr
    in_process = float(re.search(r"ok in ([\d.]+)s", done.stdout).group(1))

    interpreter, _ = _seconds([sys.executable, "-c", "pass"], env)
    _, staged = _seconds([sys.executable, "-c", STAGES, DAY], env)
    assert staged.returncode == 0, staged.stderr
    stages = json.loads(staged.stdout.strip().splitlines()[-1])
    _, profiled = _seconds([sys.executable, "-X", "importtime", "-c", "import pipeline_project.definitions"], env)

    started = time.perf_counter()
    outcome = compute_day(lake, DAY, "overhead", max_file_bytes=1 << 30)
    publish_day(lake, outcome)
    compute = time.perf_counter() - started
    assert outcome.report["records"]["read"] == 1000

    with capsys.disabled():
        verdict = "met" if wall < 5 else "MISSED"
        print(
            f"\ntiny day (1,000 rows) through `pipeline-project run`: {wall:.2f}s wall, {done.cpu:.2f}s CPU "
            f"(target < 5 s: {verdict}); {first:.2f}s on a fresh DAGSTER_HOME; load average {os.getloadavg()[0]:.1f}"
        )
        print(f"  interpreter start (python -c pass)   {interpreter:6.2f}s")
        for name, seconds in stages:
            print(f"  {name:<36} {seconds:6.2f}s")
        print(
            f"  (execute_in_process as the CLI reports it: {in_process:.1f}s; compute_day + publish_day alone: "
            f"{compute:.3f}s)"
        )
        print("  import self time by package (python -X importtime of pipeline_project.definitions):")
        for name, seconds in import_time_by_package(profiled.stderr):
            print(f"    {name:<34} {seconds:6.2f}s")
