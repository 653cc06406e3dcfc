"""Freshness: yesterday's report must exist by the configured UTC deadline."""

import warnings

from dagster import build_sensor_for_freshness_checks, build_time_partition_freshness_checks

from pipeline_project.settings import value

# Superseded by FreshnessPolicy, whose cron form judges the latest materialization of any
# partition; this check asks exactly our question: is the newest complete day reported?
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    freshness_checks = build_time_partition_freshness_checks(
        assets=["daily_report"],
        deadline_cron=value("PIPELINE_FRESHNESS_DEADLINE_CRON"),
        timezone="UTC",
    )
    freshness_sensor = build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks, name="daily_report_freshness_sensor"
    )
