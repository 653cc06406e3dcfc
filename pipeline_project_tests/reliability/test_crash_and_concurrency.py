"""SIGKILL at any point leaves the previous complete report or none; concurrent runs do not interfere."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from pipeline_project.core.contract import report_key
from pipeline_project.core.report import reconciliation_problems
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land, land_sample
from pipeline_project_tests.core.reference import quarantined_rows, reference_day, report_numbers

DAY = "2025-08-01"

# Runs `pipeline-project run --date DAY` and SIGKILLs itself at storage operation number N
# (writes, copies, deletes), either just before it or half-way through writing its bytes.
KILLER = textwrap.dedent(
    """
    import os, shutil, signal, sys
    from pipeline_project.cli import main
    from pipeline_project.storage import local

    target, mode, calls = int(sys.argv[1]), sys.argv[2], [0]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def half_then_die(source, target_file, length=0):
        data = source.read()
        target_file.write(data[: len(data) // 2])
        target_file.flush()
        os.fsync(target_file.fileno())
        die()

    def counted(method):
        def wrapper(self, *args):
            calls[0] += 1
            if calls[0] == target:
                if mode == "before":
                    die()
                local.shutil.copyfileobj = half_then_die
            return method(self, *args)
        return wrapper

    for name in ("write", "delete"):
        setattr(local.LocalStorage, name, counted(getattr(local.LocalStorage, name)))
    code = main(["run", "--date", sys.argv[3]])
    print("operations", calls[0])
    sys.exit(code)
    """
)


@pytest.fixture
def run_env(tmp_path, local_url):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {**os.environ, "DAGSTER_HOME": str(home), "PIPELINE_STORAGE_URL": local_url}


def _day_files(lake) -> dict[str, bytes]:
    files = land_sample(lake, DAY, rows=3000, seed=3)
    bad = {"notes.txt": b"x", "broken.csv.gz": b"\x1f\x8bnot gzip", "nested/other.md": b"y"}
    land(lake, DAY, bad)
    return {**files, **bad}


def _kill_at(env, target: int, mode: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", KILLER, str(target), mode, DAY], env=env, capture_output=True, text=True, timeout=300
    )


def _assert_exact(lake, files):
    expected = reference_day(files)
    expected_rows = expected.pop("rejected_rows")
    report = json.loads(lake.read_bytes(report_key(DAY)))
    assert report_numbers(report) == expected
    assert quarantined_rows(lake.read_bytes(f"quarantine/{DAY}/rejected_rows.jsonl"), DAY) == expected_rows
    copies = sorted(o.key for o in lake.list_objects(f"quarantine/{DAY}/files/"))
    assert copies == [f"quarantine/{DAY}/files/{name}" for name in ("broken.csv.gz", "nested/other.md", "notes.txt")]
    return report


def test_sigkill_at_every_storage_operation(run_env, local_url):
    lake = open_storage(local_url)
    files = _day_files(lake)
    clean = _kill_at(run_env, 0, "before")  # target 0 never fires: a full run, counting operations
    assert clean.returncode == 0, clean.stderr
    operations = int(clean.stdout.split("operations ")[1])
    # The day's lease taken, 3 quarantine copies, stale-copy delete, manifest, rows, report (see
    # publish_day), the lease released: a kill at each leaves the day to the next run at once.
    assert operations == 9
    previous = _assert_exact(lake, files)
    lake.delete([report_key(DAY)])
    killed = 0
    for target in range(1, operations + 1):
        for mode in ("before", "halfway"):
            done = _kill_at(run_env, target, mode)
            if done.returncode == -signal.SIGKILL:
                killed += 1
            data = lake.read_bytes(report_key(DAY))
            if data is not None:  # never partial: a complete report that reconciles
                report = json.loads(data)
                assert reconciliation_problems(report) == []
                assert report_numbers(report) == report_numbers(previous)
    assert killed >= operations  # the kills really happened
    rerun = _kill_at(run_env, 0, "before")
    assert rerun.returncode == 0, rerun.stderr
    _assert_exact(lake, files)


@pytest.mark.parametrize("delay", [1.0, 2.0, 3.0])
def test_sigkill_of_the_cli_at_arbitrary_moments(run_env, local_url, delay):
    lake = open_storage(local_url)
    files = _day_files(lake)
    first = _kill_at(run_env, 0, "before")
    assert first.returncode == 0, first.stderr
    before = report_numbers(json.loads(lake.read_bytes(report_key(DAY))))
    process = subprocess.Popen([sys.executable, "-m", "pipeline_project.cli", "run", "--date", DAY], env=run_env)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert report_numbers(json.loads(lake.read_bytes(report_key(DAY)))) == before
    assert _kill_at(run_env, 0, "before").returncode == 0
    _assert_exact(lake, files)


WORKER = textwrap.dedent(
    """
    import sys
    from pipeline_project.daily import compute_day, publish_day
    from pipeline_project.storage import open_storage
    storage = open_storage(sys.argv[1])
    for day in sys.argv[2:]:
        publish_day(storage, compute_day(storage, day, "run-" + day, 1 << 30))
    """
)


def _workers(lake_url: str, env: dict, assignments: list[list[str]]) -> None:
    processes = [
        subprocess.Popen([sys.executable, "-c", WORKER, lake_url, *days], env=env, stderr=subprocess.PIPE, text=True)
        for days in assignments
    ]
    for process in processes:
        _out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err


def test_two_runs_of_the_same_partition_at_once_end_with_one_correct_report(lake, lake_url):
    files = _day_files(lake)
    for _round in range(3):
        _workers(lake_url, dict(os.environ), [[DAY], [DAY]])
        _assert_exact(lake, files)


def test_many_partitions_in_parallel_do_not_interfere(lake, lake_url):
    days = [f"2025-08-{n:02d}" for n in range(10, 16)]
    files = {day: land_sample(lake, day, rows=400 + n * 37, seed=n) for n, day in enumerate(days)}
    # Three processes, overlapping day lists, so some days are also written twice at once.
    _workers(lake_url, dict(os.environ), [days[0:3] + days[3:4], days[2:5], days[3:6] + days[0:1]])
    for day in days:
        expected = reference_day(files[day])
        expected.pop("rejected_rows")
        assert report_numbers(json.loads(lake.read_bytes(report_key(day)))) == expected
