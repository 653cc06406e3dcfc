"""The one trigger policy: which job runs a day, at what ECS size and with which tags.

Every trigger asks it: the raw_data sensor, the schedule, `pipeline-project run` / RUN_DATE, and
runs started from the asset page (through the routing executor in defs/jobs.py). A day above
PIPELINE_SHARD_BYTES runs on daily_report_sharded_job (its shards in parallel); every run is
sized by PIPELINE_ECS_SIZE_TIERS.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from dagster import ConfigurableResource, DagsterRunStatus, RunsFilter

from pipeline_project.core.arrivals import fingerprint, report_fingerprint
from pipeline_project.core.contract import report_key
from pipeline_project.core.dates import days_between
from pipeline_project.daily import day_inputs
from pipeline_project.defs import sizing
from pipeline_project.defs.resources import LakeResource
from pipeline_project.storage import StorageError

TRIGGER_TAG = "pipeline/trigger"
FINGERPRINT_TAG = "pipeline/raw_fingerprint"
STEPS_TAG = "pipeline/steps"  # parallel or in_process: what the by-size executor does
PARTITION_TAG = "dagster/partition"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]
JOB = "daily_report_job"
SHARDED_JOB = "daily_report_sharded_job"


@dataclass(frozen=True)
class DayContent:
    """A day's raw input as listed now: what the contract considers, its size and fingerprint."""

    day: str
    input_bytes: int
    fingerprint: str


@dataclass(frozen=True)
class Launch:
    job_name: str
    tags: dict[str, str]


class RunPolicy(ConfigurableResource):
    """Routing, sizing and tags for a run of one or more days, whatever triggers it."""

    lake: LakeResource
    size_tiers: str

    def tiers(self) -> tuple[sizing.Tier, ...]:
        return sizing.parse_tiers(self.size_tiers)

    def content(self, day: str) -> DayContent:
        """One listing of the day prefix: the same objects the run will consider."""
        objects = day_inputs(self.lake.storage(), day)
        return DayContent(day, sum(o.size for o in objects), fingerprint(objects))

    def reported(self, day: str, fp: str) -> bool:
        """Whether the day's report was computed from exactly this content."""
        data = self.lake.storage().read_bytes(report_key(day))
        return data is not None and report_fingerprint(json.loads(data)) == fp

    def handled(self, instance, day: str, fp: str) -> bool:
        """Whether this content of the day needs no new run: it has a report, or a run for exactly
        this content (any trigger's: the tag says which content it was launched for) is queued or
        running. The schedule asks it, so its safety-net run never repeats the sensor's."""
        if self.reported(day, fp):
            return True
        runs = instance.get_runs(
            RunsFilter(tags={PARTITION_TAG: day, FINGERPRINT_TAG: fp}, statuses=IN_FLIGHT), limit=1
        )
        return bool(runs)

    def launch(self, trigger: str, input_bytes: Iterable[int | None], fingerprint: str | None = None) -> Launch:
        """The job and tags for a run over days of these input sizes (None: could not be measured,
        so the run gets the biggest size and the sharded job: never too small)."""
        sizes = list(input_bytes)
        tiers = self.tiers()
        if any(b is None for b in sizes):
            size, sharded = sizing.largest_tags(tiers), True
        else:
            biggest = max(sizes, default=0)
            size, sharded = sizing.size_tags(biggest, tiers), biggest > self.lake.shard_bytes
        tags = {TRIGGER_TAG: trigger, STEPS_TAG: "parallel" if sharded else "in_process", **size}
        if fingerprint is not None:
            tags[FINGERPRINT_TAG] = fingerprint
        return Launch(SHARDED_JOB if sharded else JOB, tags)

    def parallel(self, tags: Mapping[str, str]) -> bool:
        """Whether a run of daily_report_job or of the asset job runs its shards in parallel: as its
        trigger decided (the steps tag), or, for runs started without it (the asset page, the
        launchpad), decided now from its days' input sizes."""
        if STEPS_TAG in tags:
            return tags[STEPS_TAG] == "parallel"
        return self.launch("", [self._input_bytes(day) for day in run_days(tags)]).tags[STEPS_TAG] == "parallel"

    def _input_bytes(self, day: str) -> int | None:
        try:
            return self.content(day).input_bytes
        except StorageError:
            return None


def run_days(tags: Mapping[str, str]) -> list[str]:
    """The days a run covers, from Dagster's partition tags (one day, or a backfill's range)."""
    if PARTITION_TAG in tags:
        return [tags[PARTITION_TAG]]
    if all(t in tags for t in RANGE_TAGS):
        first, last = (dt.date.fromisoformat(tags[t]) for t in RANGE_TAGS)
        return days_between(first, last)
    return []


@contextmanager
def policy_from_env() -> Iterator[RunPolicy]:
    """The policy as the environment configures it now (for code that gets no resources)."""
    from pipeline_project.defs.resources import resources_from_env

    with resources_from_env()["policy"].process_config_and_initialize_cm() as policy:
        yield policy
