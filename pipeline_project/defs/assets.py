"""raw_data (made by producers, reported by the sensor) and daily_report (computed here).

daily_report is a graph of three steps: plan (list each day's files, cut big days into shards),
scan_shard (one per shard, mapped dynamically) and publish (merge the shards exactly, check
the report reconciles, write it). The job's executor decides where the steps run: all in the
run worker (daily_report_job), or in parallel processes or ECS tasks (daily_report_sharded_job).
"""

import os
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetSpec,
    BackfillPolicy,
    DynamicOut,
    DynamicOutput,
    Failure,
    In,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    RetryPolicy,
    graph_asset,
    op,
)

from pipeline_project.core.report import markdown_preview, rejection_rate
from pipeline_project.daily import (
    DayPlan,
    NoDataError,
    ShardScan,
    UnbalancedReport,
    clear_work,
    merge_day,
    plan_day,
    publish_day,
    scan_shard,
    work_prefix,
)
from pipeline_project.defs.partitions import checked_day, daily_partitions
from pipeline_project.defs.resources import LakeResource, QualityResource
from pipeline_project.observability.emf import emit_report_metrics
from pipeline_project.settings import value

RECONCILES = "report_reconciles"
REJECTION_RATE = "rejection_rate_below_threshold"
CHECK_SPECS = [
    AssetCheckSpec(
        RECONCILES,
        asset="daily_report",
        blocking=True,
        description="read == valid + rejected + duplicates, and per-file totals add up. "
        "A report that does not reconcile is never written.",
    ),
    AssetCheckSpec(REJECTION_RATE, asset="daily_report", description="Warns when rejected/read is too high."),
]
_CHECK_OUTPUTS = {spec.name: spec.get_python_identifier() for spec in CHECK_SPECS}

raw_data = AssetSpec(
    "raw_data",
    partitions_def=daily_partitions,
    group_name="lake",
    kinds={"s3"},
    description="Files producers land under raw-data/YYYY-MM-DD/. Not computed here: "
    "the raw_data sensor reports each day's objects (keys, sizes, versions) as they arrive.",
)


@dataclass(frozen=True)
class ShardTask:
    plan: DayPlan
    shard: int
    spill_directory: str  # on the machine that runs the step
    work: str | None  # storage prefix the shard's files move to, when steps run on separate machines


def _spill_directory(run_id: str) -> str:
    """One folder per run on local disk (an ECS task's ephemeral storage); publish removes it."""
    return os.path.join(tempfile.gettempdir(), f"pipeline-spill-{run_id}")


@op(
    ins={"raw_data": In(Nothing)},
    out={"tasks": DynamicOut(ShardTask), "plans": Out(dict)},
    description="Lists each day's files and cuts them into shards of about PIPELINE_SHARD_BYTES.",
)
def plan(context: OpExecutionContext, lake: LakeResource):
    storage = lake.storage()
    run_id = context.run.run_id
    plans: dict[str, DayPlan | str] = {}
    for day in context.partition_keys:
        checked_day(day, "partition")
        try:
            day_plan = plan_day(storage, day, lake.shard_bytes)
        except NoDataError as exc:
            context.log.error(str(exc), extra={"partition": day})
            plans[day] = str(exc)
            continue
        plans[day] = day_plan
        context.log.info(
            f"{len(day_plan.objects)} files, {sum(o.size for o in day_plan.objects)} bytes: "
            f"{len(day_plan.shards)} shard(s), {day_plan.partitions} spill partition(s)",
            extra={"partition": day},
        )
        for shard in range(len(day_plan.shards)):
            work = work_prefix(day, run_id) if lake.spill_via_storage else None
            task = ShardTask(day_plan, shard, os.path.join(_spill_directory(run_id), day), work)
            yield DynamicOutput(task, mapping_key=f"d{day.replace('-', '')}_{shard:04d}", output_name="tasks")
    if all(isinstance(p, str) for p in plans.values()):
        raise Failure(description="; ".join(plans.values()))  # nothing to scan: no step below would run
    yield Output(plans, "plans")


@op(
    retry_policy=RetryPolicy(max_retries=1),
    description="Reads one shard's files: counts, rejected rows and spilled valid rows.",
)
def scan_shard_files(context: OpExecutionContext, lake: LakeResource, task: ShardTask) -> ShardScan:
    day = task.plan.day

    def on_file(e):
        context.log.info(
            f"{e.key}: {e.status}{' (' + e.reason + ')' if e.reason else ''}, "
            f"{e.records_read} read, {e.records_rejected} rejected",
            extra={"partition": day},
        )

    return scan_shard(
        lake.storage(),
        task.plan,
        task.shard,
        lake.max_file_bytes,
        task.spill_directory,
        on_file=on_file,
        move_to=task.work,
    )


@op(
    out={"result": Out(Nothing), **{name: Out(Nothing, is_required=False) for name in _CHECK_OUTPUTS.values()}},
    description="Merges each day's shards exactly, checks the report reconciles, then writes the "
    "quarantine and the report.",
)
def publish(context: AssetExecutionContext, lake: LakeResource, quality: QualityResource, plans: dict, scans: list):
    storage = lake.storage()
    run_id = context.run.run_id
    by_day: dict[str, list[ShardScan]] = defaultdict(list)
    for scan in scans:
        by_day[scan.day].append(scan)
    unbalanced: dict[str, list[str]] = {}
    rates: dict[str, float] = {}
    missing = [p for p in plans.values() if isinstance(p, str)]
    spill = _spill_directory(run_id)
    try:
        for day, day_plan in plans.items():
            if isinstance(day_plan, str):
                continue
            started = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="pipeline-merge-") as merge_directory:
                outcome = merge_day(storage, day_plan, by_day[day], run_id, merge_directory)
                report = outcome.report
                try:
                    key = publish_day(storage, outcome, run_id)
                except UnbalancedReport as exc:
                    unbalanced[day] = exc.problems
                    continue
            if any(s.work_prefix for s in by_day[day]):
                clear_work(storage, work_prefix(day, run_id))
            seconds = time.monotonic() - started
            rates[day] = rejection_rate(report)
            context.add_asset_metadata(
                _report_metadata(report, storage.location(key), seconds), asset_key="daily_report", partition_key=day
            )
            # The report is written: its CloudWatch EMF line (where CloudWatch reads stdout), and where.
            emit_report_metrics(report, seconds, run_id)
            context.log.info(f"report written: {storage.location(key)}", extra={"partition": day})
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    yield AssetCheckResult(
        asset_key="daily_report",
        check_name=RECONCILES,
        passed=not unbalanced,
        metadata={"days_checked": len(rates) + len(unbalanced), "problems": MetadataValue.json(unbalanced)},
    )
    worst = max(rates.values(), default=0.0)
    yield AssetCheckResult(
        asset_key="daily_report",
        check_name=REJECTION_RATE,
        passed=worst <= quality.rejection_rate_warn,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "threshold": quality.rejection_rate_warn,
            "max_rejection_rate": worst,
            "rates": MetadataValue.json({d: round(r, 6) for d, r in rates.items()}),
        },
    )
    if missing or unbalanced:
        lines = missing + [f"report for {d} does not reconcile: {'; '.join(p)}" for d, p in unbalanced.items()]
        raise Failure(description="; ".join(lines))
    yield Output(None, "result")


@graph_asset(
    partitions_def=daily_partitions,
    ins={"raw_data": AssetIn("raw_data", dagster_type=Nothing)},
    group_name="lake",
    kinds={"python", "json"},
    backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=int(value("PIPELINE_BACKFILL_BATCH_DAYS"))),
    check_specs=CHECK_SPECS,
    description="reports/YYYY-MM-DD.json: the day's validated, de-duplicated totals. "
    "Bad rows and unreadable files go to quarantine/YYYY-MM-DD/ with a reason.",
)
def daily_report(raw_data):
    tasks, plans = plan(raw_data)
    outputs = publish(plans, tasks.map(scan_shard_files).collect())
    return {"result": outputs.result, **{name: getattr(outputs, name) for name in _CHECK_OUTPUTS.values()}}


def _report_metadata(report: dict, location: str, seconds: float) -> dict:
    records = report["records"]
    return {
        "records_read": records["read"],
        "records_valid": records["valid"],
        "records_rejected": records["rejected"],
        "records_duplicates": records["duplicates"],
        "files_processed": report["files"]["processed"],
        "files_quarantined": report["files"]["quarantined"],
        "unique_users": report["unique_users"],
        "rejection_rate": rejection_rate(report),
        "duration_seconds": round(seconds, 3),
        "report": MetadataValue.path(location),
        "preview": MetadataValue.md(markdown_preview(report)),
    }
