"""A big day through daily_report_job (every step in one process) and daily_report_sharded_job
(each step its own process), on the same files: wall time and each step's duration.

Benchmark only (`-m benchmark`): BENCH_SIZE_MB (default 1024) of generated CSV, shards of
BENCH_SHARD_MB (default 256). The reports must agree.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from dagster import DagsterInstance, execute_job, reconstructable

from pipeline_project.bench.generate import generate_day
from pipeline_project.core.contract import report_key
from pipeline_project.storage import open_storage

DAY = "2025-06-15"


def sharded_job():
    from pipeline_project.definitions import defs

    return defs.resolve_job_def("daily_report_sharded_job")


def in_process_job():
    from pipeline_project.definitions import defs

    return defs.resolve_job_def("daily_report_job")


def _run(job_fn, tmp_path, name: str) -> tuple[float, dict, dict]:
    home = tmp_path / f"home-{name}"
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        started = time.perf_counter()
        with execute_job(reconstructable(job_fn), instance=instance, tags={"dagster/partition": DAY}) as result:
            assert result.success
            run_id = result.run_id
        wall = time.perf_counter() - started
        marks: dict[str, dict[str, float]] = {}
        for record in instance.all_logs(run_id):
            event = record.dagster_event
            if event and event.event_type_value in ("STEP_START", "STEP_SUCCESS"):
                marks.setdefault(event.step_key, {})[event.event_type_value] = record.timestamp
    steps = {key: round(m["STEP_SUCCESS"] - m["STEP_START"], 1) for key, m in marks.items()}
    report = json.loads(open_storage(os.environ["PIPELINE_STORAGE_URL"]).read_bytes(report_key(DAY)))
    return wall, steps, report


@pytest.mark.benchmark
def test_a_big_day_in_shards(tmp_path, monkeypatch):
    size_mb = float(os.environ.get("BENCH_SIZE_MB", "1024"))
    shard_mb = float(os.environ.get("BENCH_SHARD_MB", "256"))
    lake = tmp_path / "lake"
    generate_day(lake, DAY, "csv", int(size_mb * 2**20), 0, log=lambda *_: None)
    monkeypatch.setenv("PIPELINE_STORAGE_URL", str(lake))
    monkeypatch.setenv("PIPELINE_SHARD_BYTES", str(int(shard_mb * 2**20)))
    monkeypatch.setenv("PIPELINE_STEP_EXECUTOR", "multiprocess")
    results = {
        name: _run(fn, tmp_path, name) for name, fn in (("in_process", in_process_job), ("sharded", sharded_job))
    }
    reports = [{k: v for k, v in r.items() if k not in ("run_id", "generated_at")} for _, _, r in results.values()]
    assert reports[0] == reports[1]
    for name, (wall, steps, _report) in results.items():
        print(f"{name}: {wall:.1f}s wall; steps: {json.dumps(steps)}")
    print(f"{size_mb:g} MiB CSV in shards of {shard_mb:g} MiB; load average {os.getloadavg()[0]:.1f}")
