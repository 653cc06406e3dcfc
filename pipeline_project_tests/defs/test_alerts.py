"""run_failure_alert_sensor: a failed run becomes one SNS message (moto's SNS and SQS over HTTP)."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
from dagster import DagsterInstance, DefaultSensorStatus, SkipReason, build_run_status_sensor_context

from pipeline_project.definitions import defs
from pipeline_project.defs.alerts import failure_subject, redact, run_failure_alert_sensor
from pipeline_project.defs.resources import AlertResource
from pipeline_project_tests.conftest import make_resources

DAY = "2025-03-04"
SECRET = "Sup3rS3cretValue"


@pytest.fixture
def topic(s3_endpoint):
    """An SNS topic with an SQS queue subscribed to it; returns (topic ARN, queue URL)."""
    name = f"alerts-{uuid.uuid4().hex[:12]}"
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    arn = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    return arn, queue


def _received(queue: str, expect: int) -> list[dict]:
    sqs, bodies, deadline = boto3.client("sqs"), [], time.monotonic() + 10
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        if len(bodies) >= expect:
            break
    return bodies


def _failed_run(lake_url: str, tags: dict):
    """A real failed run of daily_report_job: the day has no raw data."""
    instance = DagsterInstance.ephemeral()
    result = defs.resolve_job_def("daily_report_job").execute_in_process(
        partition_key=DAY, instance=instance, resources=make_resources(lake_url), tags=tags, raise_on_error=False
    )
    assert not result.success
    return instance, result


def _evaluate(instance, result, alerts: AlertResource):
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources={"alerts": alerts},
    )
    return run_failure_alert_sensor(context)


def test_sensor_is_on_by_default_and_watches_this_code_location():
    assert run_failure_alert_sensor.default_status == DefaultSensorStatus.RUNNING
    assert "run_failure_alert_sensor" in {s.name for s in defs.sensors}
    assert defs.resources["alerts"].topic_arn == ""  # PIPELINE_ALERT_TOPIC_ARN is unset in tests


def test_failed_run_publishes_the_exact_message(topic, tmp_path, monkeypatch):
    arn, queue = topic
    lake_url = str(tmp_path / f"lake-{SECRET}")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", SECRET)  # a secret that happens to be in the error text
    instance, result = _failed_run(lake_url, {"pipeline/trigger": "sensor"})

    outcome = _evaluate(instance, result, AlertResource(topic_arn=arn, environment="dev"))
    assert outcome is None

    (body,) = _received(queue, expect=1)
    assert body["Type"] == "Notification" and body["TopicArn"] == arn
    assert body["Subject"] == f"[dev] daily_report_job failed for {DAY}"
    masked = lake_url.replace(SECRET, "***")
    assert body["Message"] == (
        "A Dagster run failed in dev.\n"
        "\n"
        "Environment: dev\n"
        "Job: daily_report_job\n"
        f"Run ID: {result.run_id}\n"
        f"Partition: {DAY}\n"
        "Trigger: sensor\n"
        "\n"
        "Error:\n"
        f"daily_report.plan: no raw data files for {DAY} under {masked}/raw-data/{DAY}/\n"
        "\n"
        "Open the run by its ID under Runs in the Dagster UI. Reprocess the day with a UI backfill "
        "or `pipeline-project run --date YYYY-MM-DD`."
    )
    assert SECRET not in json.dumps(body)
    assert "http" not in body["Message"]


def test_without_a_topic_it_skips_and_sends_nothing(topic, local_url):
    _arn, queue = topic
    instance, result = _failed_run(local_url, {})
    outcome = _evaluate(instance, result, AlertResource(topic_arn="", environment="dev"))
    assert isinstance(outcome, SkipReason)
    assert outcome.skip_message == f"PIPELINE_ALERT_TOPIC_ARN is not set: no alert for failed run {result.run_id}"
    assert _received(queue, expect=0) == []


def test_a_malformed_topic_arn_is_a_clear_error(local_url):
    instance, result = _failed_run(local_url, {})
    with pytest.raises(Exception, match="PIPELINE_ALERT_TOPIC_ARN is not an SNS topic ARN: 'my-topic'"):
        _evaluate(instance, result, AlertResource(topic_arn="my-topic", environment="dev"))


def test_subject_is_short_printable_ascii_on_one_line():
    assert failure_subject("prod", "daily_report_job", "2025-03-01...2025-03-07") == (
        "[prod] daily_report_job failed for 2025-03-01...2025-03-07"
    )
    assert failure_subject("dev", "job", None) == "[dev] job failed"
    long = failure_subject("pipeline-prod-é\n", "j" * 200, "2025-03-04")
    assert len(long) == 100 and long.endswith("...")
    assert long.startswith("[pipeline-prod-? ] ") and long.isascii() and "\n" not in long


def test_redact_masks_secret_values_url_credentials_and_access_keys():
    environ = {"DAGSTER_PG_PASSWORD": "pg-password-1", "AWS_SESSION_TOKEN": "tok" * 10, "SHORT_SECRET": "abc"}
    text = (
        "connect postgresql://dagster:pg-password-1@db:5432/dagster failed; "
        "key AKIAABCDEFGHIJKLMNOP token " + "tok" * 10 + " abc https://user:hunter2@example.com/x"
    )
    assert redact(text, environ) == (
        "connect postgresql://dagster:***@db:5432/dagster failed; key *** token *** abc https://user:***@example.com/x"
    )
