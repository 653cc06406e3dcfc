"""daily_report through Dagster's public materialize()/execute_in_process APIs."""

from __future__ import annotations

import json

import pytest
from dagster import DagsterInstance, materialize

from pipeline_project import daily
from pipeline_project.core.contract import report_key
from pipeline_project.definitions import defs
from pipeline_project.defs.assets import daily_report, raw_data
from pipeline_project_tests.conftest import land, land_sample, make_resources

DAY = "2025-03-04"
CSV = (
    "event_id,event_time,user_id,event_type,amount,currency\n"
    "e1,2025-03-04T10:00:00Z,u1,purchase,10.50,USD\n"
    "e2,2025-03-04T11:30:00+02:00,u2,refund,0.25,USD\n"
    "e3,2025-03-04 23:59:59.123456789,u1,view,,\n"
    "e1,2025-03-04T12:00:00Z,u3,view,,\n"
    "e4,not-a-time,u4,view,,\n"
    "e5,2025-03-04T10:00:00Z,u5,purchase,1e3,USD\n"
)
JSONL = (
    b'{"event_id":"e6","event_time":"2025-03-04T00:00:00-01:00","user_id":"u6",'
    b'"event_type":"purchase","amount":3,"currency":"EUR"}\n'
    b"[1,2]\n"
)


def _events(result, kind):
    return [e for e in result.all_events if e.event_type_value == kind]


def _checks(result):
    return {e.event_specific_data.check_name: e.event_specific_data for e in _events(result, "ASSET_CHECK_EVALUATION")}


def test_materialize_one_day_writes_exact_report_and_metadata(lake, lake_url):
    land(lake, DAY, {"a.csv": CSV.encode(), "b/c.jsonl": JSONL, "notes.txt": b"x", "_SUCCESS": b""})
    result = materialize(
        [raw_data, daily_report], selection=[daily_report], partition_key=DAY, resources=make_resources(lake_url)
    )
    assert result.success
    report = json.loads(lake.read_bytes(report_key(DAY)))
    assert report["partition"] == DAY
    assert report["run_id"] == result.run_id
    assert report["records"] == {"read": 8, "valid": 4, "rejected": 3, "duplicates": 1}
    assert report["rejected_by_reason"]["malformed_row"] == 1
    assert report["rejected_by_reason"]["invalid_timestamp"] == 1
    assert report["rejected_by_reason"]["invalid_amount"] == 1
    assert report["events_by_type"] == {"view": 1, "add_to_cart": 0, "purchase": 2, "refund": 1}
    assert report["unique_users"] == 3  # u1, u2, u6
    hourly = [0] * 24
    hourly[10] += 1  # e1
    hourly[9] += 1  # e2: 11:30+02:00
    hourly[23] += 1  # e3
    hourly[1] += 1  # e6: 00:00-01:00
    assert report["hourly_events"] == hourly
    assert report["revenue"] == {
        "EUR": {"gross": "3.00", "refunds": "0.00", "net": "3.00"},
        "USD": {"gross": "10.50", "refunds": "0.25", "net": "10.25"},
    }
    assert [(i["key"], i["status"], i["reason"]) for i in report["inputs"]] == [
        (f"raw-data/{DAY}/a.csv", "processed", None),
        (f"raw-data/{DAY}/b/c.jsonl", "processed", None),
        (f"raw-data/{DAY}/notes.txt", "quarantined", "unsupported_format"),
    ]

    (materialization,) = result.asset_materializations_for_node("daily_report")
    assert materialization.partition == DAY
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert meta["records_read"] == 8
    assert meta["records_valid"] == 4
    assert meta["records_rejected"] == 3
    assert meta["records_duplicates"] == 1
    assert meta["files_quarantined"] == 1
    assert meta["files_processed"] == 2
    assert meta["unique_users"] == 3
    assert meta["rejection_rate"] == 3 / 8
    assert meta["report"] == lake.location(report_key(DAY))
    assert "**2025-03-04**: 8 read, 4 valid, 3 rejected, 1 duplicates" in meta["preview"]
    assert meta["duration_seconds"] >= 0

    checks = _checks(result)
    assert checks["report_reconciles"].passed
    # 3 of 8 rejected is above the 5% threshold: a warning, not a failure of the run.
    assert not checks["rejection_rate_below_threshold"].passed
    assert checks["rejection_rate_below_threshold"].severity.value == "WARN"
    assert checks["rejection_rate_below_threshold"].metadata["max_rejection_rate"].value == 3 / 8


def test_backfill_range_runs_once_with_metadata_per_day(local_url):
    from pipeline_project.storage import open_storage

    lake = open_storage(local_url)
    days = ["2025-03-01", "2025-03-02", "2025-03-03"]
    for n, day in enumerate(days):
        land_sample(lake, day, rows=100 + n * 50, seed=n)
    job = defs.resolve_job_def("daily_report_job")
    instance = DagsterInstance.ephemeral()
    result = job.execute_in_process(
        instance=instance,
        resources=make_resources(local_url),
        tags={"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]},
    )
    assert result.success
    materializations = result.asset_materializations_for_node("daily_report")
    assert [m.partition for m in materializations] == days
    for materialization, rows in zip(materializations, (100, 150, 200), strict=True):
        assert materialization.metadata["records_read"].value == rows
        report = json.loads(lake.read_bytes(report_key(materialization.partition)))
        assert report["records"]["read"] == rows
        assert report["run_id"] == result.run_id


def test_day_without_data_fails_naming_day_and_location(local_url):
    result = materialize(
        [raw_data, daily_report],
        selection=[daily_report],
        partition_key=DAY,
        resources=make_resources(local_url),
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = _events(result, "STEP_FAILURE")
    description = failure.event_specific_data.user_failure_data.description
    assert description == f"no raw data files for {DAY} under {local_url}/raw-data/{DAY}/"
    assert not (result.asset_materializations_for_node("daily_report"))


def test_report_that_does_not_reconcile_is_never_written(local_url, monkeypatch):
    from pipeline_project.storage import open_storage

    lake = open_storage(local_url)
    land_sample(lake, DAY, rows=50)
    # publish_day holds the guarantee, whoever calls it.
    monkeypatch.setattr(daily, "reconciliation_problems", lambda report: ["records do not add up"])
    result = materialize(
        [raw_data, daily_report],
        selection=[daily_report],
        partition_key=DAY,
        resources=make_resources(local_url),
        raise_on_error=False,
    )
    assert not result.success
    check = _checks(result)["report_reconciles"]
    assert not check.passed
    assert check.metadata["problems"].value == {DAY: ["records do not add up"]}
    assert lake.read_bytes(report_key(DAY)) is None


@pytest.mark.parametrize("bad", ["2025-02-30", "../2025-01-01"])
def test_job_refuses_partition_keys_that_are_not_partitions(local_url, bad):
    job = defs.resolve_job_def("daily_report_job")
    with pytest.raises(Exception, match="partition"):
        job.execute_in_process(partition_key=bad, resources=make_resources(local_url))
