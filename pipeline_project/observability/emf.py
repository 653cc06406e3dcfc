"""CloudWatch Embedded Metric Format: one JSON line on stdout per report written, where CloudWatch reads it.

CloudWatch Logs turns a log event that is exactly such a JSON object into metrics (namespace
`PipelineProject`, dimension `Environment`), so the alarms need no agent and no API calls. The
partition and run id are properties: searchable in Logs Insights, not dimensions (which would make
one metric per day). The format's specification:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
import os
import sys
import time

from pipeline_project.core.report import rejection_rate
from pipeline_project.observability.logging import log_format
from pipeline_project.settings import value

NAMESPACE = "PipelineProject"
DIMENSION = "Environment"

# Metric name -> CloudWatch unit, in the order they appear in the line.
METRICS = {
    "RecordsRead": "Count",
    "RecordsValid": "Count",
    "RecordsRejected": "Count",
    "RecordsDuplicates": "Count",
    "RejectionRate": "None",  # a ratio, 0..1
    "RunDurationSeconds": "Seconds",
    "ReportsWritten": "Count",
}


def report_metrics(report: dict, *, environment: str, run_id: str, duration_seconds: float, timestamp_ms: int) -> dict:
    """The EMF document for one written report (pure: everything it needs is an argument)."""
    records = report["records"]
    values = {
        "RecordsRead": records["read"],
        "RecordsValid": records["valid"],
        "RecordsRejected": records["rejected"],
        "RecordsDuplicates": records["duplicates"],
        "RejectionRate": rejection_rate(report),
        "RunDurationSeconds": round(duration_seconds, 3),
        "ReportsWritten": 1,
    }
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": unit} for name, unit in METRICS.items()],
                }
            ],
        },
        DIMENSION: environment,
        "Partition": report["partition"],
        "RunId": run_id,
        **values,
    }


def emit(document: dict, fd: int = 1) -> None:
    """Write the document as one line with a single write(2) on stdout's file descriptor.

    One write keeps the line whole even when other processes (Dagster's step workers, its
    compute-log tee) share the stream; going below sys.stdout keeps it out of whatever text a
    caller prints or captures there, and out of any log formatter: CloudWatch only parses a log
    event that is exactly the JSON object.
    """
    data = (json.dumps(document, separators=(",", ":"), allow_nan=False) + "\n").encode()
    try:
        sys.stdout.flush()  # anything already printed goes first, never mid-line
    except (AttributeError, OSError, ValueError):
        pass
    while data:
        data = data[os.write(fd, data) :]


def cloudwatch_reads_stdout() -> bool:
    """On ECS (which sets ECS_CONTAINER_METADATA_URI_V4 in every task; awslogs ships stdout) or with
    PIPELINE_LOG_FORMAT=json. Elsewhere stdout is a person's terminal, where the line is noise."""
    return bool(os.environ.get("ECS_CONTAINER_METADATA_URI_V4")) or log_format() == "json"


def emit_report_metrics(report: dict, duration_seconds: float, run_id: str) -> dict:
    """Build the document for a report just written and print it where CloudWatch reads stdout."""
    document = report_metrics(
        report,
        environment=value("PIPELINE_ENVIRONMENT"),
        run_id=run_id,
        duration_seconds=duration_seconds,
        timestamp_ms=int(time.time() * 1000),
    )
    if cloudwatch_reads_stdout():
        emit(document)
    return document
