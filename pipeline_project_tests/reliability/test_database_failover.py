"""The Dagster instance's database goes away during a run, as in an RDS failover.

A PostgreSQL server of the test's own (never the machine's shared one) holds the instance;
`pipeline-project run` computes a day while the server is restarted under it (every connection
cut, the server back about a second later). The run either completes or fails; no report is
half-written; the instance is usable afterwards, and running the day again reports it exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from pipeline_project.core.contract import report_key
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import OwnPostgres, _pg_bin, land_sample
from pipeline_project_tests.core.reference import reference_day, report_numbers

pytestmark = pytest.mark.orchestration
BIN = Path(sys.executable).parent
DAY = "2025-03-21"


def _home(server: OwnPostgres, root: Path) -> Path:
    server.execute("CREATE DATABASE dagster")
    home = root / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "storage:\n  postgres:\n    postgres_db:\n"
        f"      hostname: {server.host}\n      port: {server.port}\n      db_name: dagster\n"
        "      username: postgres\n      password: ''\n"
        "telemetry:\n  enabled: false\n"
    )
    return home


def _restart(server: OwnPostgres) -> float:
    """Stop fast (connections cut, as a failover does) and start again; seconds the server was away."""
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    started = time.monotonic()
    subprocess.run(
        [*as_postgres, _pg_bin("pg_ctl"), "-D", str(server.data), "-l", str(server.log), "-m", "fast", "-w", "restart"],
        check=True,
        stdout=subprocess.DEVNULL,  # the server would hold a captured pipe open
        stderr=subprocess.DEVNULL,
        timeout=60,
    )
    return time.monotonic() - started


def test_a_database_restart_during_a_run_leaves_no_half_report_and_a_usable_instance(own_postgres, tmp_path):
    home = _home(own_postgres, tmp_path)
    lake_url = str(tmp_path / "lake")
    files = land_sample(open_storage(lake_url), DAY, rows=60_000)
    env = {**os.environ, "DAGSTER_HOME": str(home), "PIPELINE_STORAGE_URL": lake_url}
    env.pop("RUN_DATE", None)

    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_runs() == []  # the schema exists before the run starts
    run = subprocess.Popen(
        [str(BIN / "pipeline-project"), "run", "--date", DAY],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def started() -> bool:
        with DagsterInstance.from_config(str(home)) as instance:
            return any(r.status == DagsterRunStatus.STARTED for r in instance.get_runs())

    deadline = time.monotonic() + 120
    while not started():
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.1)
    away = _restart(own_postgres)
    out, err = run.communicate(timeout=600)

    lake = open_storage(lake_url)
    expected = reference_day(files.items())
    expected.pop("rejected_rows")
    written = lake.read_bytes(report_key(DAY))
    if run.returncode == 0:
        assert report_numbers(json.loads(written)) == expected  # it rode the restart out
    else:
        assert run.returncode == 1, err
        assert written is None or report_numbers(json.loads(written)) == expected  # all or nothing
    # The instance works, and running the day again reports it exactly.
    again = subprocess.run(
        [str(BIN / "pipeline-project"), "run", "--date", DAY], env=env, capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert report_numbers(json.loads(lake.read_bytes(report_key(DAY)))) == expected
    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert runs[0].status == DagsterRunStatus.SUCCESS
        assert json.loads(lake.read_bytes(report_key(DAY)))["run_id"] == runs[0].run_id
        statuses = [r.status.value for r in reversed(runs)]
    print(f"server away {away:.1f} s; exit {run.returncode}; runs {statuses}; {err.strip().splitlines()[-1][:200]!r}")
