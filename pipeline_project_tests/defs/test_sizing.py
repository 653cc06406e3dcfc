"""Per-run ECS sizing: PIPELINE_ECS_SIZE_TIERS parsing, Fargate validation, tier choice at the boundaries."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from pipeline_project.defs.sizing import SizeTiersError, Tier, parse_tiers, size_tags, tier_for
from pipeline_project.settings import SETTINGS

GIB = 1 << 30
DEFAULT = parse_tiers(SETTINGS["PIPELINE_ECS_SIZE_TIERS"].default)


def test_default_tiers_are_the_documented_ones():
    assert SETTINGS["PIPELINE_ECS_SIZE_TIERS"].default == "0:1024/4096,5GiB:2048/8192,20GiB:4096/16384"
    assert DEFAULT == (Tier(0, 1024, 4096), Tier(5 * GIB, 2048, 8192), Tier(20 * GIB, 4096, 16384))


@pytest.mark.parametrize(
    ("input_bytes", "cpu", "memory"),
    [
        (0, "1024", "4096"),
        (1, "1024", "4096"),
        (5 * GIB - 1, "1024", "4096"),
        (5 * GIB, "2048", "8192"),
        (5 * GIB + 1, "2048", "8192"),
        (20 * GIB - 1, "2048", "8192"),
        (20 * GIB, "4096", "16384"),
        (20 * GIB + 1, "4096", "16384"),
        (1 << 40, "4096", "16384"),
    ],
)
def test_default_tags_around_each_boundary(input_bytes, cpu, memory):
    assert size_tags(input_bytes, DEFAULT) == {
        "ecs/cpu": cpu,
        "ecs/memory": memory,
        "pipeline/input_bytes": str(input_bytes),
    }


def test_units_spaces_and_plain_bytes():
    tiers = parse_tiers(" 0 : 256/512 , 10:256/1024, 2KiB:512/1024,3MiB:1024/2048, 1GiB:2048/4096, 1TiB:16384/122880 ")
    assert [t.min_bytes for t in tiers] == [0, 10, 2 << 10, 3 << 20, 1 << 30, 1 << 40]
    assert tier_for(9, tiers) == Tier(0, 256, 512)
    assert tier_for(10, tiers) == Tier(10, 256, 1024)
    assert tier_for((3 << 20) - 1, tiers).min_bytes == 2 << 10
    assert tier_for(3 << 20, tiers).min_bytes == 3 << 20
    assert tier_for(5 << 40, tiers) == Tier(1 << 40, 16384, 122880)


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [(256, 512), (256, 2048), (512, 4096), (1024, 8192), (2048, 16384), (4096, 30720), (8192, 20480), (16384, 122880)],
)
def test_every_kind_of_valid_fargate_size_is_accepted(cpu, memory):
    assert parse_tiers(f"0:{cpu}/{memory}") == (Tier(0, cpu, memory),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must be comma-separated MIN_SIZE:CPU/MEMORY tiers"),
        ("0:1024/4096,", "must be comma-separated MIN_SIZE:CPU/MEMORY tiers"),
        ("big:1024/4096", "tier 1 ('big:1024/4096') is not MIN_SIZE:CPU/MEMORY"),
        ("0:1024x4096", "is not MIN_SIZE:CPU/MEMORY"),
        ("0:1024/4096,5GB:2048/8192", "tier 2 ('5GB:2048/8192'): unknown size unit 'GB'; use bytes or KiB"),
        ("1:1024/4096", "tier 1 ('1:1024/4096'): the first tier must start at 0"),
        ("0:1024/4096,5GiB:2048/8192,5GiB:4096/16384", "tier 3 ('5GiB:4096/16384'): MIN_SIZE must be larger"),
        ("0:2048/4096,1GiB:1024/8192", "tier 2 ('1GiB:1024/8192'): a bigger day must not get less CPU or memory"),
        ("0:1000/4096", "CPU must be one of 256, 512, 1024, 2048, 4096, 8192, 16384 (CPU units, 1024 = 1 vCPU)"),
        ("0:1024/1024", "Fargate with 1024 CPU units takes 2048 to 8192 in steps of 1024 MiB of memory, not 1024"),
        ("0:256/4096", "Fargate with 256 CPU units takes 512, 1024, 2048 MiB of memory, not 4096"),
        ("0:8192/18432", "Fargate with 8192 CPU units takes 16384 to 61440 in steps of 4096 MiB of memory, not 18432"),
        ("0:4096/32768", "Fargate with 4096 CPU units takes 8192 to 30720 in steps of 1024 MiB"),
    ],
)
def test_invalid_tiers_say_what_is_wrong(text, message):
    with pytest.raises(SizeTiersError) as raised:
        parse_tiers(text)
    assert str(raised.value).startswith("PIPELINE_ECS_SIZE_TIERS")
    assert message in str(raised.value)


def test_a_bad_value_fails_the_tick_that_reads_it_with_its_message(local_url):
    """Sizes are read through the policy resource when a tick or run needs them, not at import."""
    from dagster import build_schedule_context

    from pipeline_project.defs.schedules import daily_report_schedule
    from pipeline_project_tests.conftest import make_resources

    resources = make_resources(local_url, size_tiers="0:1024/4096,5GiB:3000/8192")
    with build_schedule_context(
        scheduled_execution_time=dt.datetime(2025, 3, 1, 1, tzinfo=dt.UTC), resources=resources
    ) as context:
        with pytest.raises(SizeTiersError) as raised:
            daily_report_schedule(context)
    assert str(raised.value).startswith("PIPELINE_ECS_SIZE_TIERS: tier 2 ('5GiB:3000/8192'): CPU must be one of")


def test_the_code_location_loads_whatever_the_value():
    env = {**os.environ, "PIPELINE_ECS_SIZE_TIERS": "0:1024/4096,5GiB:3000/8192"}
    done = subprocess.run(
        [sys.executable, "-c", "import pipeline_project.definitions"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
