"""The day's report: building it, checking that it reconciles, and a short preview."""

from __future__ import annotations

import json

from pipeline_project.core.aggregation import InputFile
from pipeline_project.core.contract import REPORT_VERSION, ROW_REASONS

_INPUT_FIELDS = (
    "key",
    "format",
    "size_bytes",
    "etag",
    "version_id",
    "status",
    "reason",
    "detail",
    "records_read",
    "records_valid",
    "records_rejected",
    "records_duplicates",
    "quarantine_key",
)
_RECORD_COUNTS = ("read", "valid", "rejected", "duplicates")


def build_report(
    partition: str,
    run_id: str,
    generated_at: str,
    source: str,
    inputs: list[InputFile],
    summary: dict,
    quarantine: dict,
) -> dict:
    inputs = [{name: getattr(entry, name) for name in _INPUT_FIELDS} for entry in inputs]
    files = {
        "considered": len(inputs),
        "processed": sum(1 for i in inputs if i["status"] == "processed"),
        "quarantined": sum(1 for i in inputs if i["status"] == "quarantined"),
    }
    return {
        "report_version": REPORT_VERSION,
        "partition": partition,
        "generated_at": generated_at,
        "run_id": run_id,
        "source": source,
        "inputs": inputs,
        "files": files,
        **summary,
        "quarantine": quarantine,
    }


def reconciliation_problems(report: dict) -> list[str]:
    """Every way the report fails to add up; empty when it reconciles."""
    problems = []
    records = report["records"]
    if records["read"] != records["valid"] + records["rejected"] + records["duplicates"]:
        problems.append(f"records: read {records['read']} != valid + rejected + duplicates")
    for name in _RECORD_COUNTS:
        per_file = sum(entry[f"records_{name}"] for entry in report["inputs"])
        if per_file != records[name]:
            problems.append(f"records.{name} is {records[name]} but the files add up to {per_file}")
    for entry in report["inputs"]:
        if entry["records_read"] != entry["records_valid"] + entry["records_rejected"] + entry["records_duplicates"]:
            problems.append(f"{entry['key']}: read != valid + rejected + duplicates")
        if entry["status"] == "quarantined" and entry["records_read"]:
            problems.append(f"{entry['key']}: quarantined yet contributes records")
    if sum(report["rejected_by_reason"].values()) != records["rejected"]:
        problems.append("rejected_by_reason does not add up to records.rejected")
    if set(report["rejected_by_reason"]) != set(ROW_REASONS):
        problems.append("rejected_by_reason does not list exactly the row reasons")
    if sum(report["events_by_type"].values()) != records["valid"]:
        problems.append("events_by_type does not add up to records.valid")
    if len(report["hourly_events"]) != 24 or sum(report["hourly_events"]) != records["valid"]:
        problems.append("hourly_events is not 24 counts adding up to records.valid")
    if report["unique_users"] > records["valid"]:
        problems.append("more unique users than valid records")
    return problems


def rejection_rate(report: dict) -> float:
    read = report["records"]["read"]
    return report["records"]["rejected"] / read if read else 0.0


def markdown_preview(report: dict) -> str:
    """A few lines for the Dagster UI: the headline counts and revenue."""
    r = report["records"]
    lines = [
        f"**{report['partition']}**: {r['read']} read, {r['valid']} valid, "
        f"{r['rejected']} rejected, {r['duplicates']} duplicates; "
        f"{report['files']['processed']} files processed, {report['files']['quarantined']} quarantined.",
        "",
        "| type | events |",
        "|---|---:|",
        *(f"| {kind} | {count} |" for kind, count in report["events_by_type"].items()),
    ]
    if report["revenue"]:
        lines += ["", "| currency | gross | refunds | net |", "|---|---:|---:|---:|"]
        lines += [f"| {c} | {v['gross']} | {v['refunds']} | {v['net']} |" for c, v in report["revenue"].items()]
    reasons = {k: v for k, v in report["rejected_by_reason"].items() if v}
    if reasons:
        lines += ["", "Rejected: " + ", ".join(f"{k} {v}" for k, v in reasons.items())]
    return "\n".join(lines)


def encode_report(report: dict) -> bytes:
    return (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode()
