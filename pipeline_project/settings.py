"""Every environment variable the pipeline reads, its default and its meaning, in one place.

Runtime values reach the code through Dagster resources (EnvVar, resolved in the process that
runs: the code server, a run worker or an ECS task). Values that shape the definitions
themselves (partition start, cron strings, batch size) are read here when the code loads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dagster import EnvVar

# A git-ignored folder inside the project checkout.
DEFAULT_LAKE = str(Path(__file__).resolve().parent.parent / ".lake")


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    meaning: str


SETTINGS = {
    s.name: s
    for s in (
        Setting("PIPELINE_STORAGE_URL", DEFAULT_LAKE, "Root of the lake: a local folder path or s3://bucket[/prefix]."),
        Setting("PIPELINE_START_DATE", "2025-01-01", "First daily partition (UTC)."),
        Setting("PIPELINE_MAX_FILE_BYTES", str(20 << 30), "Largest file content (after decompression) read."),
        Setting(
            "PIPELINE_SHARD_BYTES",
            str(2 << 30),
            "A day's files are cut into shards of about this many raw bytes, scanned as parallel steps.",
        ),
        Setting(
            "PIPELINE_STEP_EXECUTOR",
            "multiprocess",
            "How daily_report_sharded_job runs its steps: multiprocess (local) or ecs (one Fargate task each).",
        ),
        Setting(
            "PIPELINE_SHARD_TASK_SIZE", "2048/8192", "CPU/MEMORY of each step's Fargate task when the executor is ecs."
        ),
        Setting("PIPELINE_REJECTION_RATE_WARN", "0.05", "Rejected/read share above which the rate check warns."),
        Setting("PIPELINE_SCHEDULE_CRON", "0 1 * * *", "When the daily schedule runs yesterday's partition (UTC)."),
        Setting("PIPELINE_FRESHNESS_DEADLINE_CRON", "0 6 * * *", "Yesterday's report must exist by this tick (UTC)."),
        Setting("PIPELINE_BACKFILL_BATCH_DAYS", "7", "Days per run when a backfill covers many partitions."),
        Setting("PIPELINE_SENSOR_INTERVAL_SECONDS", "60", "Seconds between raw-data sensor ticks."),
        Setting("PIPELINE_SENSOR_LOOKBACK_DAYS", "3", "Day prefixes (yesterday backwards) the sensor lists."),
        Setting("PIPELINE_SENSOR_QUIET_SECONDS", "600", "A day without _SUCCESS is ready once unchanged this long."),
        Setting(
            "PIPELINE_ARRIVALS_QUEUE_URL",
            "",
            "SQS queue of S3 arrival events (EventBridge); set: the sensor consumes events, empty: it lists.",
        ),
        Setting(
            "PIPELINE_ARRIVALS_MAX_MESSAGES", "100", "Most arrival messages one sensor tick receives (events mode)."
        ),
        Setting(
            "PIPELINE_ARRIVALS_VISIBILITY_SECONDS",
            "600",
            "A received message is hidden this long; not deleted by then (daemon down), it comes back.",
        ),
        Setting(
            "PIPELINE_RECONCILE_SECONDS",
            "3600",
            "Events mode: the look-back window is also listed this often, for anything an event missed.",
        ),
        Setting(
            "PIPELINE_ECS_SIZE_TIERS",
            "0:1024/4096,5GiB:2048/8192,20GiB:4096/16384",
            "Per-run ECS size by the day's raw input: MIN_SIZE:CPU/MEMORY tiers (see defs/sizing.py).",
        ),
        Setting("PIPELINE_ENVIRONMENT", "local", "Names the environment in metrics (Environment) and alerts."),
        Setting("PIPELINE_LOG_FORMAT", "text", "Run logs: text (Dagster's console) or json (one object per line)."),
        Setting("PIPELINE_ALERT_TOPIC_ARN", "", "SNS topic the run-failure sensor publishes to; empty: no alerts."),
    )
}


def value(name: str) -> str:
    """A definition-time setting: the environment's value, else the default."""
    return os.environ.get(name, SETTINGS[name].default)


def env_str(name: str) -> str:
    """A runtime string setting for a resource field."""
    return EnvVar(name) if name in os.environ else SETTINGS[name].default


def env_int(name: str) -> int:
    """A runtime integer setting for a resource field."""
    return EnvVar.int(name) if name in os.environ else int(SETTINGS[name].default)


def env_float(name: str) -> float:
    """A float setting, read at load time: Dagster's EnvVar has no float form."""
    return float(value(name))
