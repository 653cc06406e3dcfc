"""Run sizes come from the deployment: each environment's values, through PIPELINE_ECS_SIZE_TIERS,
the trigger policy's tags, and the ECS run launcher that applies them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline_project.defs.policy import RunPolicy
from pipeline_project.defs.resources import LakeResource
from pipeline_project_tests.deploy.test_terraform import default_of, module, render_size_tiers, tfvars

ROOT = Path(__file__).resolve().parents[2]
GIB = 1 << 30


def _policy(environment: str) -> RunPolicy:
    """The policy as the code server of that environment builds it from its task environment."""
    shard_bytes = default_of(module("modules/pipeline").variables["shard_bytes"])  # no environment sets it
    tiers = render_size_tiers(tfvars(environment)["run_size_tiers"])
    lake = LakeResource(storage_url="s3://bucket", max_file_bytes=20 * GIB, shard_bytes=shard_bytes)
    return RunPolicy(lake=lake, size_tiers=tiers)


@pytest.mark.parametrize(
    ("environment", "input_bytes", "steps", "cpu", "memory"),
    [
        ("prod", GIB, "in_process", "2048", "8192"),  # the prod task size, not the pipeline's default tier
        ("prod", 6 * GIB, "parallel", "4096", "16384"),
        ("dev", GIB, "in_process", "1024", "4096"),
        ("dev", 21 * GIB, "parallel", "4096", "16384"),
    ],
)
def test_a_sensor_run_gets_its_environments_size(environment, input_bytes, steps, cpu, memory):
    launch = _policy(environment).launch("sensor", [input_bytes], "f" * 64)
    assert launch.job_name == ("daily_report_sharded_job" if steps == "parallel" else "daily_report_job")
    assert launch.tags == {
        "pipeline/trigger": "sensor",
        "pipeline/steps": steps,
        "pipeline/raw_fingerprint": "f" * 64,
        "ecs/cpu": cpu,
        "ecs/memory": memory,
        "pipeline/input_bytes": str(input_bytes),
    }


def test_the_launcher_takes_sizes_from_tags_or_the_task_definition_only():
    config = yaml.safe_load((ROOT / "deploy/dagster.yaml").read_text())["run_launcher"]["config"]
    assert "run_resources" not in config  # no size of its own that would override the tfvars
    # The run task definition's size is the first tier's, so an untagged run is sized like a small day.
    tasks = module("modules/ecs").locals["tasks"]
    assert module("modules/ecs").locals["first_size_tier"] == "${var.run_size_tiers[0]}"
    assert tasks["run"]["cpu"] == "${local.first_size_tier.cpu}"
    assert tasks["run"]["memory"] == "${local.first_size_tier.memory}"
