"""Configuration the assets, sensors and checks receive as Dagster resources."""

import re
from urllib.parse import urlparse

import boto3
from dagster import ConfigurableResource

from pipeline_project.core.contract import WORK_PREFIX
from pipeline_project.settings import env_float, env_int, env_str, value
from pipeline_project.storage import Storage, open_storage
from pipeline_project.storage.arrivals_queue import ArrivalsQueue


class LakeResource(ConfigurableResource):
    """Where raw data, reports and the quarantine live, and how a big day is cut into shards."""

    storage_url: str
    max_file_bytes: int
    shard_bytes: int = 2 << 30
    # Steps in separate machines (ECS tasks) pass spilled rows through storage (work/); steps
    # on one machine leave them on its disk.
    spill_via_storage: bool = False

    def storage(self) -> Storage:
        return open_storage(self.storage_url)

    def event_scope(self) -> tuple[str, str]:
        """The bucket and the key prefix of the lake's root ("" or "team/lake/"), as S3 events name them."""
        parsed = urlparse(self.storage_url)
        if parsed.scheme != "s3":
            raise ValueError("PIPELINE_ARRIVALS_QUEUE_URL needs an s3:// PIPELINE_STORAGE_URL: events name a bucket")
        root = parsed.path.strip("/")
        return parsed.netloc, f"{root}/" if root else ""


class QualityResource(ConfigurableResource):
    """Thresholds for the report's asset checks."""

    rejection_rate_warn: float


class ArrivalResource(ConfigurableResource):
    """How the sensor learns of arrivals, which days it looks at and when a day is complete.

    With a queue URL the sensor consumes S3 events (events mode) and lists the look-back window
    every reconcile_seconds; without one it lists the window every tick (listing mode).
    """

    lookback_days: int
    quiet_seconds: int
    queue_url: str = ""
    max_messages: int = 100
    visibility_seconds: int = 600
    reconcile_seconds: int = 3600

    def queue(self) -> ArrivalsQueue | None:
        return ArrivalsQueue(self.queue_url, self.visibility_seconds) if self.queue_url else None


_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:(?P<region>[a-z0-9-]+):\d{12}:[A-Za-z0-9_.-]{1,256}$")


class AlertResource(ConfigurableResource):
    """Where run-failure alerts go (an empty topic ARN turns them off), and the environment they name."""

    topic_arn: str
    environment: str

    def publish(self, subject: str, message: str) -> str:
        """Publish to the topic in the topic's own region; returns SNS's message id."""
        match = _SNS_ARN.match(self.topic_arn)
        if not match:
            raise ValueError(f"PIPELINE_ALERT_TOPIC_ARN is not an SNS topic ARN: {self.topic_arn!r}")
        client = boto3.client("sns", region_name=match["region"])
        return client.publish(TopicArn=self.topic_arn, Subject=subject, Message=message)["MessageId"]


def step_io_manager(executor: str, storage_url: str) -> dict:
    """Where steps leave their outputs (shard plans and scans: a few KB each) for the next step.

    Dagster's default keeps them on the local disk, which steps in separate ECS tasks do not
    share; with the ecs executor they go to the lake bucket under work/dagster-io/ instead.
    """
    if executor != "ecs":
        return {}
    parsed = urlparse(storage_url)
    if parsed.scheme != "s3":
        raise ValueError(
            "PIPELINE_STEP_EXECUTOR=ecs needs an s3:// PIPELINE_STORAGE_URL: steps in separate tasks "
            "pass their outputs through the bucket"
        )
    prefix = "/".join(part for part in (parsed.path.strip("/"), WORK_PREFIX, "dagster-io") if part)
    from dagster_aws.s3 import S3PickleIOManager, S3Resource  # only deployed: it adds ~0.5 s to every load

    return {"io_manager": S3PickleIOManager(s3_resource=S3Resource(), s3_bucket=parsed.netloc, s3_prefix=prefix)}


def resources_from_env() -> dict:
    from pipeline_project.defs.policy import RunPolicy

    lake = LakeResource(
        storage_url=env_str("PIPELINE_STORAGE_URL"),
        max_file_bytes=env_int("PIPELINE_MAX_FILE_BYTES"),
        shard_bytes=env_int("PIPELINE_SHARD_BYTES"),
        spill_via_storage=value("PIPELINE_STEP_EXECUTOR") == "ecs",
    )
    return {
        **step_io_manager(value("PIPELINE_STEP_EXECUTOR"), value("PIPELINE_STORAGE_URL")),
        "lake": lake,
        "policy": RunPolicy(lake=lake, size_tiers=env_str("PIPELINE_ECS_SIZE_TIERS")),
        "quality": QualityResource(rejection_rate_warn=env_float("PIPELINE_REJECTION_RATE_WARN")),
        "arrival": ArrivalResource(
            lookback_days=env_int("PIPELINE_SENSOR_LOOKBACK_DAYS"),
            quiet_seconds=env_int("PIPELINE_SENSOR_QUIET_SECONDS"),
            queue_url=env_str("PIPELINE_ARRIVALS_QUEUE_URL"),
            max_messages=env_int("PIPELINE_ARRIVALS_MAX_MESSAGES"),
            visibility_seconds=env_int("PIPELINE_ARRIVALS_VISIBILITY_SECONDS"),
            reconcile_seconds=env_int("PIPELINE_RECONCILE_SECONDS"),
        ),
        "alerts": AlertResource(
            topic_arn=env_str("PIPELINE_ALERT_TOPIC_ARN"),
            environment=env_str("PIPELINE_ENVIRONMENT"),
        ),
    }
