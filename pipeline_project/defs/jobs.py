"""The job every trigger launches: daily_report for one partition (or a range, in backfills)."""

from dagster import AssetSelection, define_asset_job

from pipeline_project.defs.checks import freshness_checks
from pipeline_project.observability.logging import job_run_config, log_format

daily_report_job = define_asset_job(
    "daily_report_job",
    # The freshness check has its own sensor; judging it inside a backfill of old days is noise.
    selection=AssetSelection.assets("daily_report") - AssetSelection.checks(*freshness_checks),
    description="Build reports/YYYY-MM-DD.json and the quarantine for the selected day(s).",
    # PIPELINE_LOG_FORMAT=json: runs log through the JSON console logger (observability/logging.py).
    config=job_run_config(log_format()),
)
