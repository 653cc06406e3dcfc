"""The pipeline-project console script: runs recorded in DAGSTER_HOME, clear errors, exit codes."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from pipeline_project.cli import main
from pipeline_project.core.contract import report_key
from pipeline_project.storage import open_storage


@pytest.fixture
def env(tmp_path, local_url, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("PIPELINE_STORAGE_URL", local_url)
    monkeypatch.delenv("RUN_DATE", raising=False)
    return home


def test_sample_data_then_run_a_range(env, local_url, capfd, monkeypatch):
    # A terminal (not ECS, text logs): the file descriptor gets human lines only, no CloudWatch JSON.
    monkeypatch.delenv("ECS_CONTAINER_METADATA_URI_V4", raising=False)
    monkeypatch.delenv("PIPELINE_LOG_FORMAT", raising=False)
    assert main(["sample-data", "--from", "2025-04-01", "--to", "2025-04-02", "--rows", "90"]) == 0
    out = capfd.readouterr().out.splitlines()
    assert out[0] == "[1/2] 2025-04-01"
    assert out[-1].startswith("wrote 2 days, 90 rows each, ") and out[-1].endswith(f"under {local_url}/raw-data/")
    lake = open_storage(local_url)
    assert [o.key.split("/", 2)[2] for o in lake.list_objects("raw-data/2025-04-01/")] == [
        "_SUCCESS",
        "app/events-0001.jsonl.gz",
        "partner/events-0002.parquet",
        "web/events-0000.csv",
    ]

    assert main(["run", "--from", "2025-04-01", "--to", "2025-04-03"]) == 1
    out = capfd.readouterr().out.splitlines()
    assert len(out) == 10 and not [line for line in out if "{" in line]  # 2 days x (1 + 3 files), 1 failed, summary
    assert out[0].startswith("[1/3] 2025-04-01 ok in ")
    assert "90 read" in out[0] and out[0].endswith(f"-> {local_url}/reports/2025-04-01.json")
    assert out[1] == "    app/events-0001.jsonl.gz: 30 read, " + out[1].split(", ")[1]
    failed = next(line for line in out if line.startswith("[3/3]"))
    assert failed.endswith(f"no raw data files for 2025-04-03 under {local_url}/raw-data/2025-04-03/")
    assert out[-1].startswith("2 of 3 days reported, 1 failed, in ")

    with DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert sorted((r.tags["dagster/partition"], r.status) for r in runs) == [
            ("2025-04-01", DagsterRunStatus.SUCCESS),
            ("2025-04-02", DagsterRunStatus.SUCCESS),
            ("2025-04-03", DagsterRunStatus.FAILURE),
        ]
        assert {r.tags["pipeline/trigger"] for r in runs} == {"cli"}
    report = json.loads(lake.read_bytes(report_key("2025-04-02")))
    assert report["records"]["read"] == 90


def test_run_date_defaults_to_run_date_env_then_yesterday(env, monkeypatch, capsys):
    monkeypatch.setenv("RUN_DATE", "2025-04-05")
    assert main(["run"]) == 1
    assert "2025-04-05" in capsys.readouterr().out
    monkeypatch.delenv("RUN_DATE")
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    assert main(["run"]) == 1
    assert f"[1/1] {yesterday} FAILED" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--date", "2025-02-30"], "--date '2025-02-30' is not a real calendar date"),
        (["run", "--date", "../../etc"], "--date '../../etc' is not a date in the form YYYY-MM-DD"),
        (["run", "--date", "2024-12-31"], "--date 2024-12-31 is outside the partitions, which run from 2025-01-01"),
        (["run", "--date", "2025-01-01; rm -rf /"], "is not a date in the form YYYY-MM-DD"),
        (["run", "--from", "2025-01-05", "--to", "2025-01-01"], "the range ends (2025-01-01) before it starts"),
        (["run", "--from", "2025-01-05"], "--from and --to go together"),
        (["run", "--date", "2025-01-05", "--from", "2025-01-05"], "use either --date or --from/--to"),
    ],
)
def test_bad_dates_are_one_clear_sentence(env, argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("pipeline-project: ") and message in err
    assert "Traceback" not in err
    with DagsterInstance.get() as instance:
        assert instance.get_runs() == []


def test_run_without_dagster_home_says_so(env, monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME")
    assert main(["run", "--date", "2025-01-02"]) == 2
    assert "DAGSTER_HOME is not set" in capsys.readouterr().err


def test_reprocess_script_wraps_the_cli(env, local_url):
    main(["sample-data", "--from", "2025-04-07", "--rows", "10"])
    script = os.path.join(os.path.dirname(__file__), "..", "scripts", "reprocess.sh")
    path = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    done = subprocess.run(
        ["bash", script, "2025-04-07"], env={**os.environ, "PATH": path}, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("1 of 1 days reported, 0 failed")
    bad = subprocess.run(["bash", script, "x"], env={**os.environ, "PATH": path}, capture_output=True, text=True)
    assert bad.returncode == 2 and "pipeline-project: --date 'x' is not a date" in bad.stderr


def test_reprocess_script_in_a_fresh_shell_uses_the_checkouts_venv(env, local_url, tmp_path, monkeypatch):
    """After make demo, without an activated venv or DAGSTER_HOME: the checkout's .venv and .dagster_home."""
    main(["sample-data", "--from", "2025-04-07", "--rows", "10"])
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".dagster_home").mkdir()  # as make demo leaves it
    (checkout / ".dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    source = os.path.join(os.path.dirname(__file__), "..", "scripts", "reprocess.sh")
    (checkout / "scripts" / "reprocess.sh").write_bytes(open(source, "rb").read())
    (checkout / ".venv" / "bin" / "pipeline-project").symlink_to(
        os.path.join(os.path.dirname(sys.executable), "pipeline-project")
    )
    bin_dir = os.path.dirname(sys.executable)
    path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if os.path.realpath(p) != os.path.realpath(bin_dir)
    )
    shell = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "VIRTUAL_ENV")} | {"PATH": path}
    done = subprocess.run(
        ["bash", str(checkout / "scripts" / "reprocess.sh"), "2025-04-07"],
        env=shell,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("1 of 1 days reported, 0 failed")
    with DagsterInstance.from_config(str(checkout / ".dagster_home")) as instance:
        assert [r.tags["dagster/partition"] for r in instance.get_runs()] == ["2025-04-07"]

    (checkout / ".venv" / "bin" / "pipeline-project").unlink()
    missing = subprocess.run(
        ["bash", str(checkout / "scripts" / "reprocess.sh")], env=shell, capture_output=True, text=True
    )
    assert missing.returncode == 2
    assert missing.stderr.endswith("/.venv/bin/pipeline-project does not exist: run make install first\n")


def test_a_storage_error_is_its_own_sentence(env, s3_endpoint, monkeypatch, capsys):
    monkeypatch.setenv("PIPELINE_STORAGE_URL", "s3://no-such-lake")
    assert main(["run", "--date", "2025-04-01"]) == 1
    assert capsys.readouterr().err == (
        "pipeline-project: cannot list s3://no-such-lake/raw-data/2025-04-01/ (NoSuchBucket: The specified bucket "
        "does not exist) (rerun with --debug for the traceback)\n"
    )
