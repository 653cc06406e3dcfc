"""Hostile dates and URLs are refused before any I/O; secrets never leak; raw data is never written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from dagster import materialize

from pipeline_project.cli import main
from pipeline_project.daily import _Outputs
from pipeline_project.defs.assets import daily_report, raw_data
from pipeline_project.storage import StorageError, open_storage
from pipeline_project.storage.local import LocalStorage
from pipeline_project.storage.s3 import S3Storage
from pipeline_project_tests.conftest import land, land_sample, make_resources

PACKAGE = Path(__file__).resolve().parents[2] / "pipeline_project"
HOSTILE_DATES = [
    "../2025-01-01",
    "2025-01-01/../../etc",
    "/etc/passwd",
    "s3://evil/2025-01-01",
    "2025-01-01%2F..",
    "2025-01-01;rm -rf /",
    "$(reboot)",
    "`id`",
    "2025-01-01\n",
    " 2025-01-01",
    "２０２５-01-01",
    "2025-1-1",
    "2025-02-29",
    "{0}",
    "%s%n",
    "",
]


@pytest.fixture
def no_io(monkeypatch, tmp_path):
    """Fails the test on any storage access."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("PIPELINE_STORAGE_URL", str(tmp_path / "lake"))

    def forbidden(*args, **kwargs):
        raise AssertionError("storage was touched before the input was validated")

    for cls in (LocalStorage, S3Storage):
        monkeypatch.setattr(cls, "__init__", forbidden)


@pytest.mark.parametrize("bad", HOSTILE_DATES)
@pytest.mark.parametrize("how", ["--date", "--from", "RUN_DATE", "sample-data"])
def test_hostile_dates_are_refused_before_any_io(no_io, monkeypatch, capsys, bad, how):
    monkeypatch.delenv("RUN_DATE", raising=False)
    if how == "--date":
        argv = ["run", "--date", bad]
    elif how == "--from":
        argv = ["run", "--from", bad, "--to", "2025-01-02"]
    elif how == "sample-data":
        argv = ["sample-data", "--from", bad]
    else:
        monkeypatch.setenv("RUN_DATE", bad)
        argv = ["run"]
    code = main(argv)
    err = capsys.readouterr().err
    if bad == "" and how == "RUN_DATE":  # an empty RUN_DATE means unset: yesterday, which has no data
        assert code == 1
        return
    assert code == 2
    assert err.startswith("pipeline-project: ") and err.count("\n") == 1
    assert "Traceback" not in err


# The benchmark starts each engine in its own process (an argv list of internal values, no shell).
SUBPROCESS_ALLOWED = {"bench/runner.py"}


def test_no_code_path_can_reach_a_shell_or_eval():
    """Object keys and input values are data: nothing in the package runs a shell or evaluates text."""
    forbidden = re.compile(r"\b(os\.system|os\.popen|shell=True|eval\(|exec\(|pickle|yaml\.load\()")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
        for path in PACKAGE.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if forbidden.search(line)
        or ("subprocess" in line and path.relative_to(PACKAGE).as_posix() not in SUBPROCESS_ALLOWED)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "key", ["raw-data/2025-01-01/a.csv", "reports/../raw-data/2025-01-01/a.csv", "quarantine/../../etc/x", "x/y"]
)
def test_outputs_refuse_keys_outside_reports_and_quarantine(local_url, key):
    outputs = _Outputs(open_storage(local_url))
    with pytest.raises(PermissionError, match="the pipeline writes only reports/ and quarantine/"):
        outputs.write(key, None, "text/plain")
    with pytest.raises(PermissionError):
        outputs.delete([key])


def test_a_materialization_writes_only_reports_and_quarantine(lake, lake_url, monkeypatch):
    land_sample(lake, "2025-08-20", rows=200)
    land(lake, "2025-08-20", {"bad.txt": b"x", "a b/ü $(x) %s.csv": b"event_id\n1\n"})
    raw_before = {(o.key, o.etag, o.version_id) for o in lake.list_objects("raw-data/")}
    touched: list[tuple[str, str]] = []
    cls = type(lake)
    for name, position in (("write", 0), ("copy", 1), ("delete", 0)):
        original = getattr(cls, name)

        def spy(self, *args, _name=name, _position=position, _original=original):
            keys = args[_position] if _name != "delete" else list(args[0])
            args = (keys, *args[1:]) if _name == "delete" else args
            for key in keys if _name == "delete" else [keys]:
                touched.append((_name, key))
            return _original(self, *args)

        monkeypatch.setattr(cls, name, spy)
    result = materialize(
        [raw_data, daily_report],
        selection=[daily_report],
        partition_key="2025-08-20",
        resources=make_resources(lake_url),
    )
    assert result.success
    assert touched and all(key.startswith(("reports/", "quarantine/")) for _op, key in touched)
    assert {(o.key, o.etag, o.version_id) for o in lake.list_objects("raw-data/")} == raw_before


def test_storage_urls_with_credentials_are_refused_without_echoing_them():
    with pytest.raises(StorageError) as raised:
        open_storage("s3://AKIAEXAMPLE:sup3r-s3cret@bucket/lake")
    assert "sup3r-s3cret" not in str(raised.value) and "AKIAEXAMPLE" not in str(raised.value)
    assert "carries credentials" in str(raised.value)
    with pytest.raises(StorageError) as raised:
        open_storage("https://user:sup3r-s3cret@host/lake")
    assert "sup3r-s3cret" not in str(raised.value)


SECRET = "S3CR3T-do-not-leak-5f1c2a"


def test_secrets_never_appear_in_any_output(tmp_path, s3_endpoint, s3_url):
    lake = open_storage(s3_url)
    land_sample(lake, "2025-08-21", rows=150)
    land(lake, "2025-08-21", {"broken.csv.gz": b"\x1f\x8bnope"})
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": SECRET + "-token",
        "DAGSTER_PG_PASSWORD": SECRET,
        "PIPELINE_STORAGE_URL": s3_url,
        "PIPELINE_LOG_FORMAT": "json",
    }
    outputs = []
    for argv, url in [
        (["run", "--from", "2025-08-21", "--to", "2025-08-22"], s3_url),  # one good day, one without data
        (["run", "--date", "2025-08-21"], "s3://no-such-bucket-anywhere/lake"),  # a permanent error
        (["run", "--date", "2025-08-21"], f"s3://AKIA:{SECRET}@bucket/lake"),  # credentials in the URL
        (["run", "--date", "2025-08-21", "--debug"], "s3://no-such-bucket-anywhere/lake"),  # with a traceback
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "pipeline_project.cli", *argv],
            env={**env, "PIPELINE_STORAGE_URL": url},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode != 0
        outputs += [done.stdout, done.stderr]
    outputs += [path.read_bytes().decode("utf-8", "replace") for path in home.rglob("*") if path.is_file()]
    bucket = boto3.client("s3")
    for obj in lake.list_objects(""):
        outputs.append(
            bucket.get_object(Bucket=lake.bucket, Key=f"{lake.prefix}/{obj.key}")["Body"].read().decode("latin-1")
        )
    assert any("2025-08-21" in text for text in outputs)  # the outputs are really there
    assert [text for text in outputs if SECRET in text] == []
