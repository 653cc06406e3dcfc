"""raw_data (made by producers, reported by the sensor) and daily_report (computed here)."""

import time

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipeline_project.core.report import markdown_preview, reconciliation_problems, rejection_rate
from pipeline_project.daily import NoDataError, compute_day, publish_day
from pipeline_project.defs.partitions import checked_day, daily_partitions
from pipeline_project.defs.resources import LakeResource, QualityResource
from pipeline_project.observability.emf import emit_report_metrics
from pipeline_project.settings import value

RECONCILES = "report_reconciles"
REJECTION_RATE = "rejection_rate_below_threshold"

raw_data = AssetSpec(
    "raw_data",
    partitions_def=daily_partitions,
    group_name="lake",
    kinds={"s3"},
    description="Files producers land under raw-data/YYYY-MM-DD/. Not computed here: "
    "the raw_data sensor reports each day's objects (keys, sizes, versions) as they arrive.",
)


@asset(
    partitions_def=daily_partitions,
    deps=[raw_data],
    group_name="lake",
    kinds={"python", "json"},
    backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=int(value("PIPELINE_BACKFILL_BATCH_DAYS"))),
    check_specs=[
        AssetCheckSpec(
            RECONCILES,
            asset="daily_report",
            blocking=True,
            description="read == valid + rejected + duplicates, and per-file totals add up. "
            "A report that does not reconcile is never written.",
        ),
        AssetCheckSpec(REJECTION_RATE, asset="daily_report", description="Warns when rejected/read is too high."),
    ],
    description="reports/YYYY-MM-DD.json: the day's validated, de-duplicated totals. "
    "Bad rows and unreadable files go to quarantine/YYYY-MM-DD/ with a reason.",
)
def daily_report(context: AssetExecutionContext, lake: LakeResource, quality: QualityResource):
    storage = lake.storage()
    unbalanced: dict[str, list[str]] = {}
    rates: dict[str, float] = {}
    missing: list[str] = []
    for day in context.partition_keys:
        checked_day(day, "partition")
        started = time.monotonic()
        try:
            outcome = compute_day(
                storage,
                day,
                context.run.run_id,
                lake.max_file_bytes,
                on_file=lambda e, day=day: context.log.info(
                    f"{e.key}: {e.status}{' (' + e.reason + ')' if e.reason else ''}, "
                    f"{e.records_read} read, {e.records_rejected} rejected",
                    extra={"partition": day},
                ),
            )
        except NoDataError as exc:
            context.log.error(str(exc), extra={"partition": day})
            missing.append(str(exc))
            continue
        report = outcome.report
        problems = reconciliation_problems(report)
        if problems:
            unbalanced[day] = problems
            continue
        key = publish_day(storage, outcome)
        seconds = time.monotonic() - started
        rates[day] = rejection_rate(report)
        context.add_asset_metadata(_report_metadata(report, storage.location(key), seconds), partition_key=day)
        # The report is written: one CloudWatch EMF line on stdout, and a log line saying where.
        emit_report_metrics(report, seconds, context.run.run_id)
        context.log.info(f"report written: {storage.location(key)}", extra={"partition": day})
    yield AssetCheckResult(
        check_name=RECONCILES,
        passed=not unbalanced,
        metadata={"days_checked": len(rates) + len(unbalanced), "problems": MetadataValue.json(unbalanced)},
    )
    worst = max(rates.values(), default=0.0)
    yield AssetCheckResult(
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
    yield MaterializeResult()


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
