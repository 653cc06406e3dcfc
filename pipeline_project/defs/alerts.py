"""Run-failure alerts: every failed run of this code location becomes one SNS message.

The sensor runs where sensors run (the code server, driven by the daemon), so that process needs
PIPELINE_ALERT_TOPIC_ARN and `sns:Publish` on the topic. Without a topic it skips, saying why.
The message is plain text without links; secret-looking environment values and credentials in URLs
are masked before anything leaves the process.
"""

import os
import re

from dagster import (
    DefaultSensorStatus,
    RunFailureSensorContext,
    SkipReason,
    run_failure_sensor,
)

from pipeline_project.defs.resources import AlertResource

SUBJECT_LIMIT = 100  # SNS: at most 100 printable ASCII characters, no line breaks
ERROR_LIMIT = 600  # characters per failed step in the message
MAX_STEPS = 5
MASK = "***"

# Environment variables whose values must never appear in an alert, and shapes that are secrets anywhere.
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE|ACCESS_KEY", re.IGNORECASE)
_MIN_SECRET_LENGTH = 8  # shorter values are too likely to be ordinary words
_URL_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@")
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")


def redact(text: str, environ: dict[str, str] | None = None) -> str:
    """text with secret environment values, URL passwords and AWS access key ids masked."""
    environ = os.environ if environ is None else environ
    secrets = sorted(
        (v for k, v in environ.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LENGTH),
        key=len,
        reverse=True,
    )
    for secret in secrets:
        text = text.replace(secret, MASK)
    text = _URL_CREDENTIALS.sub(lambda m: m["head"] + MASK + "@", text)
    return _AWS_KEY_ID.sub(MASK, text)


def run_partition(tags: dict[str, str]) -> str | None:
    if tags.get("dagster/partition"):
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        return start if start == end else f"{start}...{end}"
    return None


def run_trigger(tags: dict[str, str]) -> str:
    if tags.get("pipeline/trigger"):
        return tags["pipeline/trigger"]
    if tags.get("dagster/backfill"):
        return "backfill"
    return "manual"


def _shorten(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _error_line(data) -> str:
    """A Failure's description, else the innermost exception's last line."""
    user = getattr(data, "user_failure_data", None)
    if user is not None and user.description:
        return user.description
    error = getattr(data, "error", None)
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return ""
    lines = error.message.strip().splitlines()
    return lines[-1] if lines else error.cls_name or ""


def error_summary(context: RunFailureSensorContext) -> list[str]:
    """One line per failed step (at most MAX_STEPS), or the run's own failure when no step failed."""
    lines = []
    steps = context.get_step_failure_events()
    for event in steps[:MAX_STEPS]:
        lines.append(f"{event.step_key}: {_shorten(_error_line(event.event_specific_data), ERROR_LIMIT)}")
    if len(steps) > MAX_STEPS:
        lines.append(f"... and {len(steps) - MAX_STEPS} more failed steps")
    if not lines:
        run_error = _error_line(context.failure_event.event_specific_data)
        lines.append(_shorten(run_error or context.failure_event.message or "the run failed", ERROR_LIMIT))
    return lines


def failure_subject(environment: str, job: str, partition: str | None) -> str:
    text = f"[{environment}] {job} failed" + (f" for {partition}" if partition else "")
    text = re.sub(r"[^\x20-\x7e]", "?", " ".join(text.split()))  # printable ASCII on one line
    return _shorten(text, SUBJECT_LIMIT)


def failure_message(
    environment: str, job: str, run_id: str, partition: str | None, trigger: str, errors: list[str]
) -> str:
    return "\n".join(
        [
            f"A Dagster run failed in {environment}.",
            "",
            f"Environment: {environment}",
            f"Job: {job}",
            f"Run ID: {run_id}",
            f"Partition: {partition or 'none'}",
            f"Trigger: {trigger}",
            "",
            "Error:",
            *errors,
            "",
            "Open the run by its ID under Runs in the Dagster UI. Reprocess the day with a UI backfill "
            "or `pipeline-project run --date YYYY-MM-DD`.",
        ]
    )


@run_failure_sensor(
    name="run_failure_alert_sensor",
    monitor_all_code_locations=False,
    default_status=DefaultSensorStatus.RUNNING,
    description="Publishes each failed run of this code location (job, run id, partition, error) "
    "to the SNS topic in PIPELINE_ALERT_TOPIC_ARN; skips when it is not set.",
)
def run_failure_alert_sensor(context: RunFailureSensorContext, alerts: AlertResource):
    run = context.dagster_run
    if not alerts.topic_arn:
        message = f"PIPELINE_ALERT_TOPIC_ARN is not set: no alert for failed run {run.run_id}"
        context.log.info(message)
        return SkipReason(message)
    tags = dict(run.tags)
    partition = run_partition(tags)
    subject = redact(failure_subject(alerts.environment, run.job_name, partition))
    body = redact(
        failure_message(
            alerts.environment, run.job_name, run.run_id, partition, run_trigger(tags), error_summary(context)
        )
    )
    message_id = alerts.publish(subject, body)
    context.log.info(f"alerted {alerts.topic_arn} about failed run {run.run_id} (SNS message {message_id})")
    return None
