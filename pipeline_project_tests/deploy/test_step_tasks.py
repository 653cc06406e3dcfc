"""A sharded day on the deployed stack: the run worker starts one ECS task per step, without AWS.

The stack is test_run_launcher's (deploy/dagster.yaml on PostgreSQL, a real code server through
deploy/workspace.yaml, moto's ECS/S3/Secrets Manager over HTTP), with the environment Terraform's
ecs module gives every container (PIPELINE_STEP_EXECUTOR=ecs, a PIPELINE_SHARD_BYTES small enough
that each landed file is a shard of its own, the launcher's DAGSTER_RUN_* settings, ...). A
daily_report_sharded_job run is launched through the EcsRunLauncher; then the test plays Fargate:
it runs the run worker's command (through the image's entrypoint) with the task's environment and a
task-metadata endpoint, and while that runs it starts each step task the run worker's ecs_executor
asks ECS for (plan, one scan per shard, publish) the same way, each on its own "machine" (its own
DAGSTER_HOME and temporary folder), and stops each ECS task with its command's exit code.

The report must equal the oracle's, the shards' spilled files must have gone through work/ and be
gone, and every AWS call the run worker and the step tasks made must be one the Terraform
run-worker role grants (its `run` and `step_launcher` policy documents, evaluated with their
resources and conditions).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import dataclasses
import fnmatch
import http.server
import io
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import zlib
from pathlib import Path

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterRunStatus
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import deserialize_value
from dagster_aws.ecs.utils import sanitize_tag
from moto.ecs.models import ecs_backends

from pipeline_project.core.contract import REQUIRED_COLUMNS, report_key
from pipeline_project.settings import SETTINGS
from pipeline_project.storage import open_storage
from pipeline_project_tests.conftest import free_port, land, land_sample
from pipeline_project_tests.core.reference import check, quarantined_rows, read_csv, reference_day, report_numbers
from pipeline_project_tests.deploy import test_run_launcher as launcher_tests
from pipeline_project_tests.deploy.test_run_launcher import (  # noqa: F401  (fixtures)
    ACCOUNT,
    BIN,
    DEPLOY,
    LAUNCHER_ACTIONS,
    LOCATION,
    REGION,
    REPO,
    Cloud,
    Stack,
    _aws,
    _describe_task,
    _fargate_environment,
    _run_task_calls,
    db_name,
    postgres_home,
    stack,
    tasks_stay_running,
)
from pipeline_project_tests.deploy.test_terraform import PLAIN_ENVIRONMENT, module, role_statements

JOB = "daily_report_sharded_job"
DAY = "2025-03-04"
ROWS = 240
SAMPLE_FILES = 3
SHARD_BYTES = "1"  # every file is a shard of its own
REPLAYED = 3  # rows of one file landed again, later, in a file of another shard
STEP_TIMEOUT = 180  # seconds; a hung process fails the test instead of hanging it

# Loaded in every Python process of a task (PYTHONPATH): appends each AWS call the process makes to
# a JSON-lines file. It only observes; the calls still go to moto unchanged.
RECORDER = """
import json, os
_target = os.environ.get("PIPELINE_TEST_AWS_CALLS")
if _target:
    import botocore.client

    _make_api_call = botocore.client.BaseClient._make_api_call
    _S3_FIELDS = ("Bucket", "Key", "Prefix", "VersionId", "Delete", "CopySource", "UploadId")

    def _recording(self, operation_name, api_params):
        service = self.meta.service_model.endpoint_prefix
        if service == "s3":
            params = {k: api_params[k] for k in _S3_FIELDS if k in api_params}
        else:
            params = api_params
        line = json.dumps([service, operation_name, params], default=str)
        with open(f"{_target}.{os.getpid()}.jsonl", "a") as out:
            out.write(line + "\\n")
        return _make_api_call(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = _recording
"""


# --- What Terraform creates, with the environment every container gets -------------------------


def _container_environment(cloud: Cloud, database: str) -> dict[str, str]:
    """modules/ecs `local.environment`: the same plain environment in every container."""
    return {
        "PIPELINE_STORAGE_URL": f"s3://{cloud.bucket}",
        "PIPELINE_LOG_FORMAT": "json",
        "PIPELINE_ENVIRONMENT": "test",
        "PIPELINE_ALERT_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{cloud.name}-alerts",
        "PIPELINE_STEP_EXECUTOR": "ecs",
        "PIPELINE_SHARD_BYTES": SHARD_BYTES,
        "PIPELINE_ARRIVALS_QUEUE_URL": "",  # the run needs no queue; empty keeps the sensor listing
        "PIPELINE_ECS_SIZE_TIERS": "0:1024/4096,5368709120:2048/8192,21474836480:4096/16384",
        "DAGSTER_PG_HOST": launcher_tests.PG["host"],
        "DAGSTER_PG_PORT": str(launcher_tests.PG["port"]),
        "DAGSTER_PG_DB": database,
        "DAGSTER_PG_USERNAME": launcher_tests.PG["user"],
        "DAGSTER_COMPUTE_LOG_BUCKET": cloud.bucket,
        "DAGSTER_RUN_TASK_DEFINITION": cloud.family,
        "DAGSTER_ECS_CLUSTER": cloud.name,
        "DAGSTER_RUN_SUBNETS": ",".join(cloud.subnets),
        "DAGSTER_RUN_SECURITY_GROUP": cloud.security_group,
        "AWS_REGION": REGION,
        "PGSSLMODE": "prefer",  # "require" deployed; the test server has no TLS
    }


@pytest.fixture
def cloud(s3_endpoint, tasks_stay_running, db_name, monkeypatch) -> Cloud:  # noqa: F811
    """test_run_launcher's cloud, whose run-worker task definition then gets a new revision with
    the whole Terraform environment (the first one has only what a daily_report_job run needs).
    The `stack` fixture is made to use this cloud, and this process (the daemon) gets the same
    environment."""
    monkeypatch.setenv("AWS_REGION", REGION)
    made = launcher_tests._create_cloud(db_name)
    environment = _container_environment(made, db_name)
    assert set(environment) == PLAIN_ENVIRONMENT  # test_terraform's binding list

    ecs = _aws("ecs")
    first = ecs.describe_task_definition(taskDefinition=made.task_definition_arn)["taskDefinition"]
    (container,) = first["containerDefinitions"]
    container = {**container, "environment": [{"name": k, "value": v} for k, v in environment.items()]}
    fields = ("family", "networkMode", "requiresCompatibilities", "cpu", "memory", "executionRoleArn", "taskRoleArn")
    arn = ecs.register_task_definition(**{f: first[f] for f in fields}, containerDefinitions=[container])[
        "taskDefinition"
    ]["taskDefinitionArn"]
    ecs.deregister_task_definition(taskDefinition=made.task_definition_arn)
    made = dataclasses.replace(made, task_definition_arn=arn)

    monkeypatch.setattr(launcher_tests, "_create_cloud", lambda _db_name: made)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    return made


@pytest.fixture
def code_server(cloud: Cloud, db_name, tmp_path):  # noqa: F811
    """The code-server service's command (as in test_run_launcher) with the containers' environment:
    the definitions it serves are the ecs ones (the sharded job's executor, the S3 step outputs)."""
    home = tmp_path / "code_server_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = free_port()
    log = (home / "code-server.log").open("w")
    process = subprocess.Popen(
        [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(port)]
        + ["-m", "pipeline_project.definitions", "--location-name", LOCATION],
        cwd=REPO,
        env={**os.environ, **_container_environment(cloud, db_name), "DAGSTER_HOME": str(home)},
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
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- Fargate, for the run's tasks ----------------------------------------------------------------


class _Metadata(http.server.ThreadingHTTPServer):
    """The ECS task metadata endpoint (v4): ${ECS_CONTAINER_METADATA_URI_V4} is /v4/<task id>,
    answering the container's metadata there and the task's under /task."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _MetadataHandler)
        self.tasks: dict[str, dict] = {}
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _MetadataHandler(http.server.BaseHTTPRequestHandler):
    server: _Metadata

    def do_GET(self):  # noqa: N802
        self.server.requests.append(self.path)
        match = re.fullmatch(r"/v4/([0-9a-f-]+)(/task)?", self.path)
        task = self.server.tasks.get(match[1]) if match else None
        if task is None:
            self.send_error(404)
            return
        container = {
            "DockerId": f"{match[1]}-0",
            "Name": "run",
            "Image": task["containers"][0].get("image"),
            "Labels": {
                "com.amazonaws.ecs.cluster": task["clusterArn"],
                "com.amazonaws.ecs.container-name": "run",
                "com.amazonaws.ecs.task-arn": task["taskArn"],
            },
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING",
        }
        family, revision = task["taskDefinitionArn"].rsplit("/", 1)[1].split(":")
        body = container
        if match[2]:
            body = {
                "Cluster": task["clusterArn"],
                "TaskARN": task["taskArn"],
                "Family": family,
                "Revision": revision,
                "DesiredStatus": "RUNNING",
                "KnownStatus": "RUNNING",
                "LaunchType": "FARGATE",
                "Containers": [container],
            }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@dataclasses.dataclass
class _Task:
    arn: str
    description: dict
    directory: Path
    process: subprocess.Popen
    log: io.TextIOWrapper
    exit_code: int | None = None

    @property
    def step_key(self) -> str:
        return {t["key"]: t["value"] for t in self.description.get("tags", [])}.get("dagster/step-key", "")

    @property
    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return (self.directory / "output.log").read_text(errors="replace")


class Fargate:
    """Runs an ECS task's container like Fargate would: the image's entrypoint with the overridden
    command, the task definition's environment and resolved secrets plus the overrides' environment
    (test_run_launcher._fargate_environment), the metadata endpoint, and its own DAGSTER_HOME and
    temporary folder (a task's ephemeral storage). When the command exits, the ECS task stops with
    the container's exit code."""

    def __init__(self, deployed: Stack, root: Path, metadata: _Metadata):
        self.stack, self.root, self.metadata = deployed, root, metadata
        (root / "recorder").mkdir(parents=True)
        (root / "recorder" / "sitecustomize.py").write_text(RECORDER)
        (root / "calls").mkdir()
        self.tasks: dict[str, _Task] = {}
        self.most_scans_at_once = 0

    def start(self, task: dict) -> _Task:
        task_id = task["taskArn"].rsplit("/", 1)[1]
        directory = self.root / "tasks" / task_id
        home, tmp = directory / "dagster_home", directory / "tmp"
        home.mkdir(parents=True)
        tmp.mkdir()
        shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
        shutil.copy(DEPLOY / "workspace.yaml", home / "workspace.yaml")
        self.metadata.tasks[task_id] = task
        env = {
            **_fargate_environment(self.stack, task),
            "DAGSTER_HOME": str(home),
            "TMPDIR": str(tmp),
            "ECS_CONTAINER_METADATA_URI_V4": f"{self.metadata.url}/v4/{task_id}",
            "PYTHONPATH": str(self.root / "recorder"),
            "PIPELINE_TEST_AWS_CALLS": str(self.root / "calls" / task_id),
        }
        (override,) = task["overrides"]["containerOverrides"]
        log = (directory / "output.log").open("w")
        process = subprocess.Popen(
            ["bash", str(DEPLOY / "entrypoint.sh"), *override["command"]],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.tasks[task["taskArn"]] = started = _Task(task["taskArn"], task, directory, process, log)
        return started

    def poll(self) -> None:
        """Start the cluster's new tasks; stop the tasks whose command has exited."""
        ecs = _aws("ecs")
        cluster = self.stack.cloud.name
        new = [a for a in ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"] if a not in self.tasks]
        if new:
            for task in ecs.describe_tasks(cluster=cluster, tasks=new, include=["TAGS"])["tasks"]:
                self.start(task)
        scans = [t for t in self.tasks.values() if t.exit_code is None and "scan_shard_files" in t.step_key]
        self.most_scans_at_once = max(self.most_scans_at_once, len(scans))
        for task in list(self.tasks.values()):
            if task.exit_code is None and task.process.poll() is not None:
                self.stop(task, task.process.returncode)

    def stop(self, task: _Task, exit_code: int) -> None:
        # What the ECS agent reports when the task's only (essential) container exits: the
        # container's exit code, then the task STOPPED. Clients cannot set an exit code through the
        # ECS API, so it goes into moto's model directly (the server runs in this process).
        task.exit_code = exit_code
        task.log.close()
        modelled = ecs_backends[ACCOUNT][REGION].tasks[self.stack.cloud.name][task.arn]
        for container in modelled.containers:
            container.exitCode = exit_code
            container.last_status = "STOPPED"
        _aws("ecs").stop_task(cluster=self.stack.cloud.name, task=task.arn, reason="Essential container in task exited")
        shutil.rmtree(task.directory / "tmp", ignore_errors=True)  # ephemeral storage goes with the task

    def kill_all(self) -> None:
        for task in self.tasks.values():
            _stop(task.process)
            if not task.log.closed:
                task.log.close()

    def calls(self) -> list[tuple[str, str, str, dict]]:
        """(task id, service, operation, params) of every AWS call the tasks' processes made."""
        found = []
        for path in sorted((self.root / "calls").glob("*.jsonl")):
            task_id = path.name.split(".")[0]
            for line in path.read_text().splitlines():
                service, operation, params = json.loads(line)
                found.append((task_id, service, operation, params))
        return found


# --- The run-worker role, evaluated -------------------------------------------------------------


class Role:
    """The statements of aws_iam_role.<name>'s inline policies (test_terraform.role_statements),
    with the IAM module's locals, variables and role ARNs resolved for this cloud. A request is
    allowed when an Allow statement has its action, matches its resource (IAM wildcards) and all
    of its conditions hold, and no Deny statement matches it. Anything that cannot be resolved
    grants nothing."""

    def __init__(self, name: str, cloud: Cloud, definition: dict):
        iam = module("modules/iam")
        self.statements = role_statements(iam, name)
        self.locals = iam.locals
        self.values = {
            "data.aws_caller_identity.current.account_id": ACCOUNT,
            "data.aws_partition.current.partition": "aws",
            "data.aws_region.current.region": REGION,
            "var.cluster_name": cloud.name,
            "var.run_task_family": cloud.family,
            "var.data_bucket_arn": f"arn:aws:s3:::{cloud.bucket}",
            "var.log_group_arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/{cloud.name}",
            # The task definition's roles stand for the roles Terraform creates.
            "aws_iam_role.run.arn": definition["taskRoleArn"],
            "aws_iam_role.execution.arn": definition["executionRoleArn"],
        }

    def resolve(self, text: str) -> str | None:
        def reference(match: re.Match) -> str:
            name = match[1]
            if name.startswith("local.") and isinstance(self.locals.get(name[6:]), str):
                value = self.resolve(self.locals[name[6:]])
            else:
                value = self.values.get(name)
            if value is None:
                raise LookupError(name)
            return value

        try:
            resolved = re.sub(r"\$\{([\w.]+)\}", reference, text)
        except LookupError:
            return None
        return None if "${" in resolved else resolved

    def _holds(self, condition: dict, context: dict) -> bool:
        values = [self.resolve(v) for v in condition["values"]] if isinstance(condition["values"], list) else [None]
        actual = context.get(condition["variable"])
        if condition["test"] == "Null":  # "false": the key must be present
            return values in (["true"], ["false"]) and (actual is None) == (values == ["true"])
        if actual is None or None in values:
            return False
        if condition["test"] == "StringEquals":
            return actual in values
        if condition["test"] in ("StringLike", "ArnLike", "ArnEquals"):
            return any(fnmatch.fnmatchcase(actual, v) for v in values)
        return False

    def _matches(self, statement: dict, action: str, resource: str, context: dict) -> bool:
        if action not in statement.get("actions", []):
            return False
        patterns = [self.resolve(r) for r in statement.get("resources", [])]
        if not any(p is not None and fnmatch.fnmatchcase(resource, p) for p in patterns):
            return False
        return all(self._holds(c, context) for c in statement.get("condition", []))

    def allows(self, action: str, resource: str, context: dict) -> bool:
        matching = [s for s in self.statements if self._matches(s, action, resource, context)]
        return any(s["effect"] == "Allow" for s in matching) and not any(s["effect"] == "Deny" for s in matching)


def _authorizations(
    cloud: Cloud, service: str, operation: str, params: dict, kms_key: str | None = None
) -> list[tuple[str, str, dict]]:
    """(action, resource, condition keys) IAM evaluates for one API call. kms_key: the key of the
    queues and topics (deployed, all are encrypted with the environment key), for the KMS calls
    SQS and SNS make on the caller's behalf."""
    ecs_arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}"
    via = {"kms:ViaService": f"{service}.{REGION}.amazonaws.com"}
    if service == "sqs":
        queue = params["QueueUrl"].rstrip("/").rsplit("/", 1)[1]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"
        action = {"DeleteMessageBatch": "DeleteMessage", "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}
        found = [(f"sqs:{action.get(operation, operation)}", arn, {})]
        if operation == "ReceiveMessage" and kms_key:
            found.append(("kms:Decrypt", kms_key, via))
        return found
    if service == "sns" and operation == "Publish":
        found = [("sns:Publish", params["TopicArn"], {})]
        if kms_key:
            found += [("kms:GenerateDataKey", kms_key, via), ("kms:Decrypt", kms_key, via)]
        return found
    if service == "s3":
        bucket = f"arn:aws:s3:::{params['Bucket']}"
        version = "Version" if params.get("VersionId") else ""
        listing = {"s3:prefix": params["Prefix"]} if "Prefix" in params else {}
        if operation in ("GetObject", "HeadObject"):
            return [(f"s3:GetObject{version}", f"{bucket}/{params['Key']}", {})]
        if operation in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
            return [("s3:PutObject", f"{bucket}/{params['Key']}", {})]
        if operation == "DeleteObject":
            return [(f"s3:DeleteObject{version}", f"{bucket}/{params['Key']}", {})]
        if operation == "DeleteObjects":
            return [
                ("s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject", f"{bucket}/{o['Key']}", {})
                for o in params["Delete"]["Objects"]
            ]
        if operation in ("ListObjectsV2", "ListObjects", "HeadBucket"):
            return [("s3:ListBucket", bucket, listing)]
        if operation == "ListObjectVersions":
            return [("s3:ListBucketVersions", bucket, listing)]
        if operation == "CopyObject":
            source = params["CopySource"]
            source_key = f"{source['Bucket']}/{source['Key']}" if isinstance(source, dict) else source.lstrip("/")
            return [
                ("s3:GetObject", f"arn:aws:s3:::{source_key}", {}),
                ("s3:PutObject", f"{bucket}/{params['Key']}", {}),
            ]
        resource = f"{bucket}/{params['Key']}" if "Key" in params else bucket
        return [(f"s3:{operation}", resource, {})]
    if service == "ecs":
        cluster = params.get("cluster", "default")
        cluster_name = cluster.rsplit("/", 1)[-1]
        on_cluster = {"ecs:cluster": f"{ecs_arn}:cluster/{cluster_name}"}

        def task_arn(task: str) -> str:
            return task if task.startswith("arn:") else f"{ecs_arn}:task/{cluster_name}/{task}"

        if operation == "RunTask":
            definition = _aws("ecs").describe_task_definition(taskDefinition=params["taskDefinition"])["taskDefinition"]
            overrides = params.get("overrides", {})
            roles = {
                overrides.get("taskRoleArn", definition.get("taskRoleArn")),
                overrides.get("executionRoleArn", definition.get("executionRoleArn")),
            } - {None}
            found = [("ecs:RunTask", definition["taskDefinitionArn"], on_cluster)]
            if params.get("tags"):
                found.append(("ecs:TagResource", task_arn("new-task"), {"ecs:CreateAction": "RunTask", **on_cluster}))
            found += [("iam:PassRole", r, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}) for r in sorted(roles)]
            return found
        if operation == "DescribeTasks":
            return [("ecs:DescribeTasks", task_arn(t), on_cluster) for t in params["tasks"]]
        if operation == "StopTask":
            # IAM sees the task's tags (aws:ResourceTag/<key>) as well as its cluster.
            (task,) = _aws("ecs").describe_tasks(cluster=cluster, tasks=[params["task"]], include=["TAGS"])["tasks"]
            tags = {f"aws:ResourceTag/{t['key']}": t["value"] for t in task.get("tags", [])}
            return [("ecs:StopTask", task_arn(params["task"]), {**on_cluster, **tags})]
        if operation == "DescribeTaskDefinition":
            definition = params["taskDefinition"]
            resource = definition if definition.startswith("arn:") else f"{ecs_arn}:task-definition/{definition}"
            return [("ecs:DescribeTaskDefinition", resource, {})]
    if (service, operation) == ("logs", "GetLogEvents"):
        group, stream = params["logGroupName"], params["logStreamName"]
        return [("logs:GetLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:{stream}", {})]
    return [(f"{service}:{operation}", "*", {})]


# --- The day -------------------------------------------------------------------------------------


def _land_day(lake) -> dict[str, bytes]:
    """land_sample's files, then a later file (another shard) replaying some of the first CSV's
    valid rows under other users: duplicates across shards, never counted, their users neither."""
    files = land_sample(lake, DAY, rows=ROWS)
    sample = files["web/events-0000.csv"]
    valid = [row for _, row in read_csv(sample) if row is not None and isinstance(check(row), dict)]
    assert len(valid) >= REPLAYED
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(REQUIRED_COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for n, row in enumerate(valid[:REPLAYED]):
        writer.writerow({**row, "user_id": f"replayed-{n}"})
    replay = {"zz/replay.csv": out.getvalue().encode()}
    land(lake, DAY, replay)
    return {**files, **replay}


def _create_sensor_run(deployed: Stack, day: str):
    """test_run_launcher._create_run for the sharded job, with the run config the raw_data sensor's
    RunRequest gets: it names no config, so Dagster resolves the job's config for the partition in
    the code server (RunRequest.with_resolved_tags_and_config), the executor's size included."""
    request = deployed.workspace.create_request_context()
    location = request.get_code_location(LOCATION)
    (repository,) = location.get_repositories().values()
    remote_job = repository.get_full_job(JOB)
    run_config = location.get_partition_config(repository.handle, JOB, day, deployed.instance).run_config
    plan = location.get_execution_plan(remote_job, run_config, step_keys_to_execute=None, known_state=None)
    return deployed.instance.create_run(
        job_name=JOB,
        run_id=None,
        run_config=run_config,
        status=DagsterRunStatus.NOT_STARTED,
        tags={**(remote_job.run_tags or {}), "dagster/partition": day, "pipeline/trigger": "sensor"},
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


def _step_args(request: dict) -> ExecuteStepArgs:
    (override,) = request["overrides"]["containerOverrides"]
    (compressed,) = [e["value"] for e in override["environment"] if e["name"] == "DAGSTER_COMPRESSED_EXECUTE_STEP_ARGS"]
    return deserialize_value(zlib.decompress(base64.b64decode(compressed)).decode(), ExecuteStepArgs)


def test_sharded_run_starts_one_ecs_task_per_step(stack: Stack, tmp_path):  # noqa: F811
    cloud, instance = stack.cloud, stack.instance
    lake = open_storage(f"s3://{cloud.bucket}")
    files = _land_day(lake)
    shards = [f"d{DAY.replace('-', '')}_{n:04d}" for n in range(len(files) - 1)]  # all but _SUCCESS
    assert len(shards) == SAMPLE_FILES + 1

    # The sensor's run of the sharded job, launched through the EcsRunLauncher.
    cpu, memory = SETTINGS["PIPELINE_SHARD_TASK_SIZE"].default.split("/")
    run = _create_sensor_run(stack, DAY)
    # The step size is the sharded job's executor's own (configured) config, not run config: every
    # step's RunTask below asks for it.
    assert "execution" not in run.run_config
    assert instance.run_launcher.task_definition == cloud.task_definition_arn  # the new revision
    instance.launch_run(run.run_id, stack.workspace.create_request_context())
    (launch,) = _run_task_calls(stack)
    assert launch["taskDefinition"] == cloud.task_definition_arn
    daemon_actions = {f"{service}:{operation}" for service, operation, _ in stack.calls if service != "s3"}
    assert daemon_actions <= LAUNCHER_ACTIONS, daemon_actions - LAUNCHER_ACTIONS
    run = instance.get_run_by_id(run.run_id)
    run_task = _describe_task(cloud, run.tags["ecs/task_arn"])
    assert run_task["overrides"]["containerOverrides"][0]["command"][:3] == ["dagster", "api", "execute_run"]

    # Fargate: the run worker, and each step task it starts, until the run worker exits.
    metadata = _Metadata()
    threading.Thread(target=metadata.serve_forever, daemon=True).start()
    fargate = Fargate(stack, tmp_path / "fargate", metadata)
    try:
        worker = fargate.start(run_task)
        deadline = time.monotonic() + STEP_TIMEOUT
        while worker.exit_code is None or any(t.exit_code is None for t in fargate.tasks.values()):
            fargate.poll()
            if time.monotonic() > deadline:
                stuck = [t for t in fargate.tasks.values() if t.exit_code is None]
                pytest.fail("tasks still running:\n" + "\n".join(f"{t.arn}\n{t.output[-3000:]}" for t in stuck))
            time.sleep(0.2)
    finally:
        fargate.kill_all()
        metadata.shutdown()
        metadata.server_close()

    step_tasks = [t for t in fargate.tasks.values() if t is not worker]
    logs = "\n".join(f"--- {t.arn}\n{t.output[-4000:]}" for t in fargate.tasks.values())
    run = instance.get_run_by_id(run.run_id)
    assert (worker.exit_code, run.status) == (0, DagsterRunStatus.SUCCESS), logs
    assert all(t.exit_code == 0 for t in step_tasks), logs

    # The executor found its own task through the metadata endpoint and ECS.
    worker_id = worker.arn.rsplit("/", 1)[1]
    assert f"/v4/{worker_id}/task" in metadata.requests
    calls = fargate.calls()
    worker_calls = [(op, params) for task_id, service, op, params in calls if task_id == worker_id and service == "ecs"]
    assert ("DescribeTasks", {"tasks": [worker.arn], "cluster": cloud.cluster_arn}) in worker_calls

    # One RunTask per step, from the run worker, on the run-worker task definition.
    requests = [params for op, params in worker_calls if op == "RunTask"]
    expected_steps = [
        "daily_report.plan",
        *(f"daily_report.scan_shard_files[{k}]" for k in shards),
        "daily_report.publish",
    ]
    by_step = {}
    for request in requests:
        (step,) = _step_args(request).step_keys_to_execute
        by_step.setdefault(step, []).append(request)
    assert sorted(by_step) == sorted(expected_steps)
    assert all(len(r) == 1 for r in by_step.values()), {s: len(r) for s, r in by_step.items()}
    for step, (request,) in by_step.items():
        args = _step_args(request)
        assert args.run_id == run.run_id
        assert request["taskDefinition"] == cloud.task_definition_arn
        assert request["cluster"] == cloud.name
        assert request["networkConfiguration"]["awsvpcConfiguration"] == {
            "subnets": cloud.subnets,
            "securityGroups": [cloud.security_group],
            "assignPublicIp": "DISABLED",
        }
        assert (request["overrides"]["cpu"], request["overrides"]["memory"]) == (cpu, memory)
        (override,) = request["overrides"]["containerOverrides"]
        assert override["name"] == "run" and override["command"] == ["dagster", "api", "execute_step"]
        assert [e["name"] for e in override["environment"]] == ["DAGSTER_COMPRESSED_EXECUTE_STEP_ARGS"]
        tags = {t["key"]: t["value"] for t in request["tags"]}
        assert tags["dagster/step-key"] == sanitize_tag(step)
        assert tags["dagster/run_id"] == run.run_id and tags["dagster/job_name"] == JOB
        assert tags["dagster/partition"] == DAY
        assert len(json.dumps(request["overrides"])) < 8192, step  # the RunTask limit on overrides
    # Each was a task of the cluster, run, then stopped with its container's exit code.
    assert sorted(t.description["taskDefinitionArn"] for t in step_tasks) == [cloud.task_definition_arn] * len(
        expected_steps
    )
    stopped = _aws("ecs").describe_tasks(cluster=cloud.name, tasks=[t.arn for t in step_tasks])["tasks"]
    assert {t["lastStatus"] for t in stopped} == {"STOPPED"}
    assert {c.get("exitCode") for t in stopped for c in t["containers"]} == {0}
    # The scans ran side by side: the executor started all of them before the first one stopped.
    assert fargate.most_scans_at_once == len(shards), fargate.most_scans_at_once

    # The report: the oracle's numbers, cross-shard duplicates and users included.
    (record,) = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("daily_report"), asset_partitions=[DAY]), limit=10
    ).records
    assert record.run_id == run.run_id
    report = json.loads(lake.read_bytes(report_key(DAY)))
    assert report["run_id"] == run.run_id
    expected = reference_day(files.items())
    expected_rows = expected.pop("rejected_rows")
    assert report_numbers(report) == expected
    without_replay = reference_day({k: v for k, v in files.items() if k != "zz/replay.csv"})
    assert expected["records"]["duplicates"] == without_replay["records"]["duplicates"] + REPLAYED
    assert expected["unique_users"] == without_replay["unique_users"]
    assert quarantined_rows(lake.read_bytes(f"quarantine/{DAY}/rejected_rows.jsonl"), DAY) == expected_rows

    # The shards' spilled files went through work/<day>/<run id>/ (each scan wrote its own, the
    # publish task read them) and none is left; the steps' outputs went through work/dagster-io/.
    s3 = _aws("s3")
    work = f"work/{DAY}/{run.run_id}/"
    task_of_step = {}
    for t in step_tasks:
        (step,) = _step_args(t.description).step_keys_to_execute
        task_of_step[step] = t.arn.rsplit("/", 1)[1]
    for n, key in enumerate(shards):
        written = {
            p["Key"]
            for task_id, service, op, p in calls
            if task_id == task_of_step[f"daily_report.scan_shard_files[{key}]"]
            and op in ("PutObject", "CreateMultipartUpload")
        }
        assert any(k.startswith(f"{work}shard-{n:04d}/") for k in written), (key, written)
    read_back = {
        p["Key"] for task_id, _, op, p in calls if task_id == task_of_step["daily_report.publish"] and op == "GetObject"
    }
    assert {k.split("/")[3] for k in read_back if k.startswith(work)} == {f"shard-{n:04d}" for n in range(len(shards))}
    assert s3.list_objects_v2(Bucket=cloud.bucket, Prefix=f"work/{DAY}/").get("KeyCount", 0) == 0
    assert (
        s3.list_objects_v2(Bucket=cloud.bucket, Prefix=f"work/dagster-io/storage/{run.run_id}/").get("KeyCount", 0) > 0
    )

    # Every AWS call of the run worker and the step tasks is one the run-worker role grants.
    definition = _aws("ecs").describe_task_definition(taskDefinition=cloud.task_definition_arn)["taskDefinition"]
    role = Role("run", cloud, definition)
    # The evaluation itself: it grants what the role grants and nothing else.
    bucket_arn = f"arn:aws:s3:::{cloud.bucket}"
    on_cluster = {"ecs:cluster": cloud.cluster_arn}
    assert role.allows("s3:GetObject", f"{bucket_arn}/raw-data/{DAY}/a.csv", {})
    assert not role.allows("s3:PutObject", f"{bucket_arn}/raw-data/{DAY}/a.csv", {})
    assert role.allows("s3:ListBucket", bucket_arn, {"s3:prefix": "work/x/"})
    assert not role.allows("s3:ListBucket", bucket_arn, {"s3:prefix": "reports/"})
    assert not role.allows("s3:ListBucket", bucket_arn, {})
    assert role.allows("ecs:RunTask", cloud.task_definition_arn, on_cluster)
    assert not role.allows("ecs:RunTask", cloud.task_definition_arn.replace("-run:", "-other:"), on_cluster)
    assert not role.allows("ecs:RunTask", cloud.task_definition_arn, {"ecs:cluster": f"{cloud.cluster_arn}-other"})
    assert {op for op, _ in worker_calls} == {"DescribeTaskDefinition", "DescribeTasks", "RunTask"}
    process = {worker_id: "run worker", **{task_id: step for step, task_id in task_of_step.items()}}
    denied = sorted(
        {
            f"{process[task_id]}: {service}.{op} needs {action} on {resource} {context}"
            for task_id, service, op, params in calls
            for action, resource, context in _authorizations(cloud, service, op, params)
            if not role.allows(action, resource, context)
        }
    )
    assert not denied, "the run-worker role does not allow:\n" + "\n".join(denied)
    # ... and each action the role holds is one these calls need, or one named here with the reason
    # this run does not need it. Every process also logs into PostgreSQL (an IAM token).
    needed = {"rds-db:connect"} | {
        action for _, service, op, params in calls for action, _, _ in _authorizations(cloud, service, op, params)
    }
    held = {a for s in role.statements if s.get("sid") != "DataBucketKmsKey" for a in s["actions"]}
    unexercised = {
        # boto3's transfer manager aborts a multipart upload that failed; these uploads succeed.
        "s3:AbortMultipartUpload",
        # The step executor stops its step tasks when the run is terminated; this one is not.
        "ecs:StopTask",
    }
    assert held - needed == unexercised, held - needed
    assert needed <= held


@pytest.mark.security
def test_the_step_executor_refuses_step_tasks_for_tags_that_would_escalate(stack: Stack, tmp_path):  # noqa: F811
    """The launcher checked the run's tags when it started the run worker; tags can still be added
    to a run afterwards (they are the instance's), so the step executor checks them, and each
    step's own tags, again before it asks ECS for any step task."""
    cloud, instance = stack.cloud, stack.instance
    land_sample(open_storage(f"s3://{cloud.bucket}"), DAY, rows=40)
    run = _create_sensor_run(stack, DAY)
    instance.launch_run(run.run_id, stack.workspace.create_request_context())
    run = instance.get_run_by_id(run.run_id)
    override = json.dumps({"command": ["sh", "-c", "exfiltrate"]})
    instance.add_run_tags(run.run_id, {"ecs/container_overrides": override})

    metadata = _Metadata()
    threading.Thread(target=metadata.serve_forever, daemon=True).start()
    fargate = Fargate(stack, tmp_path / "fargate", metadata)
    try:
        worker = fargate.start(_describe_task(cloud, run.tags["ecs/task_arn"]))
        deadline = time.monotonic() + STEP_TIMEOUT
        while worker.exit_code is None:
            fargate.poll()
            assert time.monotonic() < deadline, worker.output[-3000:]
            time.sleep(0.2)
    finally:
        fargate.kill_all()
        metadata.shutdown()
        metadata.server_close()

    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE, worker.output[-3000:]
    assert list(fargate.tasks) == [worker.arn]  # no step task was started
    assert [op for _, service, op, _ in fargate.calls() if op == "RunTask"] == []
    messages = [
        f"{e.message} {e.dagster_event.event_specific_data}" if e.dagster_event else e.message
        for e in instance.all_logs(run.run_id)
    ]
    refusal = "run refused: its tag ecs/container_overrides could change the ECS task's command, role, network"
    assert any(refusal in m for m in messages), messages[-5:]
