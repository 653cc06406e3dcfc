"""CloudWatch Embedded Metric Format lines: the exact document, the spec's rules, one line per report."""

from __future__ import annotations

import json
import time

import jsonschema
import pytest
from dagster import DagsterInstance, materialize

from pipeline_project.core.contract import report_key
from pipeline_project.definitions import defs
from pipeline_project.defs.assets import daily_report, raw_data
from pipeline_project.observability.emf import emit, report_metrics
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import land_sample, make_resources

REPORT = {"partition": "2025-03-04", "records": {"read": 8, "valid": 4, "rejected": 3, "duplicates": 1}}

# The CloudWatch units a MetricDefinition may name.
UNITS = {
    *("Seconds", "Microseconds", "Milliseconds", "Percent", "Count", "Count/Second", "None"),
    *(f"{p}{u}" for p in ("", "Kilo", "Mega", "Giga", "Tera") for u in ("Bytes", "Bits")),
    *(f"{p}{u}/Second" for p in ("", "Kilo", "Mega", "Giga", "Tera") for u in ("Bytes", "Bits")),
}

# The structure the EMF specification prescribes (root node, metadata, MetricDirective, MetricDefinition).
EMF_SCHEMA = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "additionalProperties": False,
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 255},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1, "maxLength": 255},
                                        "Unit": {"enum": sorted(UNITS)},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def assert_valid_emf(document: dict) -> None:
    """The schema, plus the rules it cannot express: every referenced member is at the root with the right type."""
    jsonschema.validate(document, EMF_SCHEMA)
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                value = document[name]
                assert isinstance(value, str) and 0 < len(value) <= 1024, name
        for metric in directive["Metrics"]:
            value = document[metric["Name"]]
            assert isinstance(value, int | float) and not isinstance(value, bool), metric["Name"]
    assert len(json.dumps(document)) < 256 * 1024


def _emf_lines(out: str) -> list[dict]:
    documents = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    for document in documents:
        assert_valid_emf(document)
    return documents


def test_document_is_exactly_the_metrics_the_alarms_read():
    document = report_metrics(
        REPORT, environment="dev", run_id="run-1", duration_seconds=12.34567, timestamp_ms=1741082400123
    )
    assert document == {
        "_aws": {
            "Timestamp": 1741082400123,
            "CloudWatchMetrics": [
                {
                    "Namespace": "PipelineProject",
                    "Dimensions": [["Environment"]],
                    "Metrics": [
                        {"Name": "RecordsRead", "Unit": "Count"},
                        {"Name": "RecordsValid", "Unit": "Count"},
                        {"Name": "RecordsRejected", "Unit": "Count"},
                        {"Name": "RecordsDuplicates", "Unit": "Count"},
                        {"Name": "RejectionRate", "Unit": "None"},
                        {"Name": "RunDurationSeconds", "Unit": "Seconds"},
                        {"Name": "ReportsWritten", "Unit": "Count"},
                    ],
                }
            ],
        },
        "Environment": "dev",
        "Partition": "2025-03-04",
        "RunId": "run-1",
        "RecordsRead": 8,
        "RecordsValid": 4,
        "RecordsRejected": 3,
        "RecordsDuplicates": 1,
        "RejectionRate": 0.375,
        "RunDurationSeconds": 12.346,
        "ReportsWritten": 1,
    }
    assert_valid_emf(document)


def test_empty_day_has_a_rejection_rate_of_zero():
    empty = {"partition": "2025-03-05", "records": {"read": 0, "valid": 0, "rejected": 0, "duplicates": 0}}
    document = report_metrics(empty, environment="local", run_id="r", duration_seconds=0.0, timestamp_ms=0)
    assert document["RejectionRate"] == 0.0
    assert_valid_emf(document)


@pytest.mark.parametrize("bad", [{"Namespace": ""}, {"Dimensions": [["Environment"] * 31]}, {"Metrics": [{}]}])
def test_the_validator_rejects_what_the_spec_forbids(bad):
    document = report_metrics(REPORT, environment="dev", run_id="r", duration_seconds=1, timestamp_ms=1)
    document["_aws"]["CloudWatchMetrics"][0].update(bad)
    with pytest.raises(jsonschema.ValidationError):
        assert_valid_emf(document)


def test_emit_writes_one_compact_line_on_stdout(capfd):
    document = report_metrics(REPORT, environment="dev", run_id="r", duration_seconds=1, timestamp_ms=1)
    print("before", end="")  # pending text without a newline is flushed first, never spliced
    emit(document)
    out = capfd.readouterr().out
    assert out == "before" + json.dumps(document, separators=(",", ":")) + "\n"


# Where CloudWatch reads stdout: every ECS task has the metadata URI; JSON logs elsewhere.
CLOUDWATCH = [("ECS_CONTAINER_METADATA_URI_V4", "http://169.254.170.2/v4/task-1"), ("PIPELINE_LOG_FORMAT", "json")]


@pytest.mark.parametrize(("variable", "setting"), CLOUDWATCH)
def test_materialization_prints_one_line_per_partition(local_url, capfd, monkeypatch, variable, setting):
    monkeypatch.setenv("PIPELINE_ENVIRONMENT", "dev")
    monkeypatch.setenv(variable, setting)
    lake = open_storage(local_url)
    days = ["2025-03-01", "2025-03-02", "2025-03-03"]
    for n, day in enumerate(days):
        land_sample(lake, day, rows=40 + n * 10, seed=n)
    before = int(time.time() * 1000)
    result = defs.resolve_job_def("daily_report_job").execute_in_process(
        instance=DagsterInstance.ephemeral(),
        resources=make_resources(local_url),
        tags={"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]},
    )
    assert result.success
    documents = _emf_lines(capfd.readouterr().out)
    assert [d["Partition"] for d in documents] == days
    for document in documents:
        report = json.loads(lake.read_bytes(report_key(document["Partition"])))
        records = report["records"]
        assert document["Environment"] == "dev"
        assert document["RunId"] == result.run_id
        assert (document["RecordsRead"], document["RecordsValid"]) == (records["read"], records["valid"])
        assert (document["RecordsRejected"], document["RecordsDuplicates"]) == (
            records["rejected"],
            records["duplicates"],
        )
        assert document["ReportsWritten"] == 1
        assert document["RunDurationSeconds"] >= 0
        assert before <= document["_aws"]["Timestamp"] <= int(time.time() * 1000)


def test_a_terminal_gets_no_metric_line(local_url, capfd, monkeypatch):
    monkeypatch.delenv("ECS_CONTAINER_METADATA_URI_V4", raising=False)
    monkeypatch.delenv("PIPELINE_LOG_FORMAT", raising=False)
    land_sample(open_storage(local_url), "2025-03-04", rows=20)
    result = materialize(
        [raw_data, daily_report],
        selection=[daily_report],
        partition_key="2025-03-04",
        resources=make_resources(local_url),
    )
    assert result.success
    assert json.loads(open_storage(local_url).read_bytes(report_key("2025-03-04")))["records"]["read"] == 20
    assert "{" not in capfd.readouterr().out


def test_environment_defaults_to_local_and_a_day_without_report_prints_nothing(local_url, capfd, monkeypatch):
    monkeypatch.delenv("PIPELINE_ENVIRONMENT", raising=False)
    monkeypatch.setenv("PIPELINE_LOG_FORMAT", "json")
    land_sample(open_storage(local_url), "2025-03-04", rows=20)
    ok = materialize(
        [raw_data, daily_report],
        selection=[daily_report],
        partition_key="2025-03-04",
        resources=make_resources(local_url),
    )
    assert ok.success
    (document,) = _emf_lines(capfd.readouterr().out)
    assert (document["Environment"], document["Partition"]) == ("local", "2025-03-04")

    failed = materialize(
        [raw_data, daily_report],
        selection=[daily_report],
        partition_key="2025-03-05",
        resources=make_resources(local_url),
        raise_on_error=False,
    )
    assert not failed.success
    assert _emf_lines(capfd.readouterr().out) == []
