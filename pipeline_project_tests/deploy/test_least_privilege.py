"""Each service role holds exactly what its code calls.

Every AWS call this process makes is recorded (moto over HTTP). The daemon, on test_run_launcher's
stack (deploy/dagster.yaml, a real code server), does everything it does to runs: construct the
launcher, dequeue and launch a run, watch it, see its task die (reading the task's logs for the
reason), stop a runaway run. The webserver loads the same instance, terminates a run and reads a
step's logs. The code server's sensors drain the arrivals queue, list a day, read its report and
publish a run-failure alert. The RUN_DATE entry reprocesses a day, twice. Then, per role, each
recorded call must be allowed by the Terraform role (actions, resources and conditions,
test_step_tasks.Role) and each action the role holds must be needed by a recorded call, or be
named with the reason this test cannot make that call; the run worker's role is checked the same
way in test_step_tasks.py. Actions no API call shows are derived from the calls that need them
(test_step_tasks._authorizations: RunTask with tags needs ecs:TagResource and iam:PassRole, a
receive from an encrypted queue kms:Decrypt) or from the process itself (every one logs into
PostgreSQL: rds-db:connect).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import boto3
import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.storage.compute_log_manager import ComputeIOType
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from pipeline_project.storage import open_storage
from pipeline_project_tests.deploy.test_run_launcher import (  # noqa: F401  (fixtures)
    ACCOUNT,
    LAUNCHER_ACTIONS,
    REGION,
    Cloud,
    Stack,
    _aws,
    _create_run,
    _describe_task,
    _die,
    code_server,
    db_name,
    postgres_home,
    stack,
    tasks_stay_running,
)
from pipeline_project_tests.deploy.test_step_tasks import Role, _authorizations
from pipeline_project_tests.deploy.test_terraform import module, role_statements

pytestmark = pytest.mark.security

# Implied by the process, not by an AWS API call: it logs into PostgreSQL with an IAM token.
LOGIN = {"rds-db:connect"}


def _held(role: str) -> set[str]:
    # The bucket key's statement exists only with a customer-managed bucket key (the test bucket,
    # like the default, uses SSE-S3); its S3 calls are the same.
    statements = role_statements(module("modules/iam"), role)
    return {a for s in statements if s.get("sid") != "DataBucketKmsKey" for a in s["actions"]}


def _needed(calls, cloud: Cloud, role: Role, kms_key: str | None = None) -> tuple[set[str], list[str]]:
    """The actions the recorded calls need, and the calls the role would deny."""
    needed, denied = set(LOGIN), []
    for service, operation, params in calls:
        for action, resource, context in _authorizations(cloud, service, operation, params, kms_key=kms_key):
            needed.add(action)
            if not role.allows(action, resource, context):
                denied.append(f"{service}.{operation} needs {action} on {resource} {context}")
    return needed, denied


@contextlib.contextmanager
def _recording() -> Iterator[list[tuple[str, str, dict]]]:
    """Every AWS call of this process's default boto3 session, with what names its resource."""
    calls: list[tuple[str, str, dict]] = []
    keep = ("Bucket", "Key", "Prefix", "VersionId", "CopySource", "Delete", "QueueUrl", "TopicArn")

    def record(params, model, **_):
        calls.append((model.service_model.endpoint_prefix, model.name, {k: params[k] for k in keep if k in params}))

    events = boto3._get_default_session().events
    events.register("before-parameter-build", record, unique_id="test-least-privilege")
    try:
        yield calls
    finally:
        events.unregister("before-parameter-build", unique_id="test-least-privilege")


def _bucket(prefix: str) -> str:
    bucket = f"{prefix}-{uuid.uuid4().hex[:10]}"
    _aws("s3").create_bucket(Bucket=bucket)
    _aws("s3").put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def _role_for_bucket(name: str, bucket: str) -> tuple[Cloud, Role]:
    cluster = "pipeline-test"
    cloud = Cloud(cluster, bucket, f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}", [], "sg-1", "unused")
    return cloud, Role(name, cloud, {"taskRoleArn": "unused", "executionRoleArn": "unused"})


def test_the_daemon_role_is_exactly_what_the_daemon_calls(stack: Stack):  # noqa: F811
    cloud, instance = stack.cloud, stack.instance
    definition = _aws("ecs").describe_task_definition(taskDefinition=cloud.task_definition_arn)["taskDefinition"]
    assert instance.run_launcher.task_definition == cloud.task_definition_arn  # built: DescribeTaskDefinition

    # Dequeue and launch two runs, watch them.
    runs = [_create_run(stack, day) for day in ("2025-03-10", "2025-03-11")]
    for run in runs:
        instance.submit_run(run.run_id, stack.workspace.create_request_context())
    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(stack.workspace))
    died, runaway = (instance.get_run_by_id(r.run_id) for r in runs)
    assert {died.status, runaway.status} == {DagsterRunStatus.STARTING}
    assert instance.run_launcher.check_run_worker_health(died).status.value == "RUNNING"

    # One task dies: run monitoring sees it, with the container's logs as the reason.
    _die(stack, died.tags["ecs/task_arn"], 137)
    health = instance.run_launcher.check_run_worker_health(died)
    assert health.status.value == "FAILED" and "exit code 137" in health.msg, health.msg
    # The other outlives max_runtime_seconds: run monitoring stops its task.
    assert instance.run_launcher.terminate(runaway.run_id) is True
    assert _describe_task(cloud, runaway.tags["ecs/task_arn"])["desiredStatus"] == "STOPPED"

    role = Role("daemon", cloud, definition)
    needed, denied = _needed(stack.calls, cloud, role)
    assert not denied, "the daemon role does not allow:\n" + "\n".join(denied)
    assert needed == _held("daemon") == LAUNCHER_ACTIONS | {"iam:PassRole"} | LOGIN


def test_the_webserver_role_is_exactly_what_the_webserver_calls(stack: Stack):  # noqa: F811
    cloud = stack.cloud
    definition = _aws("ecs").describe_task_definition(taskDefinition=cloud.task_definition_arn)["taskDefinition"]
    run = _create_run(stack, "2025-03-12")
    stack.instance.submit_run(run.run_id, stack.workspace.create_request_context())
    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(stack.workspace))
    run = stack.instance.get_run_by_id(run.run_id)
    # A step's captured stdout, where the run worker's S3ComputeLogManager leaves it.
    log_key = [run.run_id, "compute_logs", "daily_report"]
    stored = f"compute-logs/storage/{run.run_id}/compute_logs/daily_report.out"
    _aws("s3").put_object(Bucket=cloud.bucket, Key=stored, Body=b"read 240 rows\n")
    stack.calls.clear()  # what the daemon did so far is the daemon's

    # The webserver: the same instance file; a user terminates the run and reads the step's logs.
    with DagsterInstance.from_config(str(stack.home)) as webserver:
        assert webserver.run_launcher.terminate(run.run_id) is True
        logs = webserver.compute_log_manager
        assert logs.get_log_keys_for_log_key_prefix([run.run_id, "compute_logs"], ComputeIOType.STDOUT) == [log_key]
        assert logs.get_log_data(log_key).stdout == b"read 240 rows\n"
    assert _describe_task(cloud, run.tags["ecs/task_arn"])["desiredStatus"] == "STOPPED"

    role = Role("webserver", cloud, definition)
    needed, denied = _needed(stack.calls, cloud, role)
    assert not denied, "the webserver role does not allow:\n" + "\n".join(denied)
    ecs = {"ecs:DescribeTaskDefinition", "ecs:DescribeTasks", "ecs:StopTask"}
    assert needed == _held("webserver") == ecs | {"s3:ListBucket", "s3:GetObject"} | LOGIN


def test_stop_task_is_held_for_run_and_step_tasks_only():
    """A service task (no dagster/run_id tag) cannot be stopped by any role that stops runs, even
    when a forged ecs/task_arn run tag points at it."""
    task_arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/pipeline-test/0123456789abcdef"
    for role_name in ("daemon", "webserver", "run"):
        cloud, role = _role_for_bucket(role_name, "pipeline-test-data")
        on_cluster = {"ecs:cluster": cloud.cluster_arn}
        assert role.allows("ecs:StopTask", task_arn, {**on_cluster, "aws:ResourceTag/dagster/run_id": "r1"}), role_name
        assert not role.allows("ecs:StopTask", task_arn, {**on_cluster, "aws:ResourceTag/aws:ecs:serviceName": "web"})
        assert not role.allows("ecs:StopTask", task_arn, {"aws:ResourceTag/dagster/run_id": "r1"}), role_name
        other = task_arn.replace("pipeline-test/", "pipeline-other/")
        assert not role.allows("ecs:StopTask", other, on_cluster), role_name


def test_the_code_server_role_is_exactly_what_its_sensors_call(s3_endpoint, tmp_path):  # noqa: F811
    """The code server evaluates the sensors: raw_data_sensor in events mode (drain the arrivals
    queue, list the touched days, read their reports) and run_failure_alert_sensor (publish)."""
    from pipeline_project.defs.resources import AlertResource
    from pipeline_project_tests.conftest import arrivals_chain, land
    from pipeline_project_tests.defs.test_alerts import _evaluate, _failed_run
    from pipeline_project_tests.defs.test_sensor_events import OLD, Sensor, _csv

    bucket = _bucket("pipeline-cs")
    lake_url = f"s3://{bucket}"  # deployed, the lake is the bucket's root
    topic = _aws("sns").create_topic(Name=f"{bucket}-alerts")["TopicArn"]
    failed_instance, failed = _failed_run(str(tmp_path / "lake"), {"pipeline/trigger": "sensor"})

    with arrivals_chain(lake_url) as queue_url:
        sensor = Sensor(lake_url, queue_url)
        land(open_storage(lake_url), OLD, {"a.csv": _csv(OLD, 1), "_SUCCESS": b""})
        with _recording() as calls:
            launched = sensor.tick().launched  # receive; list the day; read its report
            sensor.tick()  # deletes what the previous tick received
            assert _evaluate(failed_instance, failed, AlertResource(topic_arn=topic, environment="dev")) is None
        queue_arn = _aws("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    assert [r.partition_key for r in launched] == [OLD]
    assert {(s, op) for s, op, _ in calls} >= {("sqs", "ReceiveMessage"), ("sqs", "DeleteMessageBatch")}

    cloud, role = _role_for_bucket("code_server", bucket)
    kms_key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
    role.values.update({"var.arrivals_queue_arn": queue_arn, "var.alert_topic_arn": topic, "var.kms_key_arn": kms_key})
    needed, denied = _needed(calls, cloud, role, kms_key=kms_key)
    assert not denied, "the code server role does not allow:\n" + "\n".join(denied)
    # Tick logs: Dagster's captured-log manager uploads a tick's log lines to compute-logs/ in the
    # code server (aborting a failed multipart upload); ticks evaluated here capture nothing.
    unexercised = {"s3:PutObject", "s3:AbortMultipartUpload"}
    assert _held("code_server") - needed == unexercised
    assert needed <= _held("code_server")


def test_the_reprocess_role_is_exactly_what_pipeline_project_run_calls(s3_endpoint, tmp_path, monkeypatch):  # noqa: F811
    """The RUN_DATE entry (`pipeline-project run`): the day's steps in its own process."""
    from pipeline_project.cli import main
    from pipeline_project_tests.conftest import land_sample

    bucket = _bucket("pipeline-rp")
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("PIPELINE_STORAGE_URL", f"s3://{bucket}")
    monkeypatch.delenv("RUN_DATE", raising=False)
    day = "2025-03-14"
    land_sample(open_storage(f"s3://{bucket}"), day, rows=120)

    with _recording() as calls:
        assert main(["run", "--date", day]) == 0
        assert main(["run", "--date", day]) == 0  # again: the quarantine's entries are replaced

    cloud, role = _role_for_bucket("reprocess", bucket)
    needed, denied = _needed(calls, cloud, role)
    assert not denied, "the reprocess role does not allow:\n" + "\n".join(denied)
    unexercised = {
        # A failed multipart upload is aborted by boto3's transfer manager; these succeed.
        "s3:AbortMultipartUpload",
        # A big day's steps exchange their outputs under work/dagster-io/ (listed by the S3 IO
        # manager); here they run in child processes (test_step_tasks.py records them there).
        "s3:ListBucket",
    }
    assert _held("reprocess") - needed == unexercised
    assert needed <= _held("reprocess")
