"""raw_data sensor: list only the look-back window's day prefixes, report what arrived, launch ready days."""

import datetime as dt

from dagster import (
    AssetMaterialization,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from pipeline_project.core.arrivals import plan_tick
from pipeline_project.core.contract import raw_day_prefix
from pipeline_project.defs import sizing
from pipeline_project.defs.jobs import daily_report_job, daily_report_sharded_job
from pipeline_project.defs.partitions import partition_bounds
from pipeline_project.defs.resources import ArrivalResource, LakeResource
from pipeline_project.settings import value

KEYS_IN_METADATA = 200


def window_days(now: dt.datetime, lookback_days: int) -> list[str]:
    """The last `lookback_days` partitions (yesterday backwards), never before the first one."""
    first, last = partition_bounds(now)
    days = [last - dt.timedelta(days=n) for n in range(max(lookback_days, 0))]
    return [d.isoformat() for d in days if d >= first]


@sensor(
    jobs=[daily_report_job, daily_report_sharded_job],
    minimum_interval_seconds=int(value("PIPELINE_SENSOR_INTERVAL_SECONDS")),
    default_status=DefaultSensorStatus.RUNNING,
    description="Watches raw-data/YYYY-MM-DD/ for the look-back window; reports raw_data and runs "
    "daily_report once per distinct content of a ready day (_SUCCESS marker or quiet period), "
    "sized (ecs/cpu, ecs/memory) by the day's input bytes; a day above PIPELINE_SHARD_BYTES goes to "
    "daily_report_sharded_job, its shards scanned in parallel.",
)
def raw_data_sensor(context: SensorEvaluationContext, lake: LakeResource, arrival: ArrivalResource):
    now = dt.datetime.now(dt.UTC)
    storage = lake.storage()
    listings = {day: storage.list_objects(raw_day_prefix(day)) for day in window_days(now, arrival.lookback_days)}
    plan = plan_tick(context.cursor, listings, now.timestamp(), arrival.quiet_seconds)
    events, runs = [], []
    for day in plan.days:
        input_bytes = sum(o.size for o in day.objects)
        if day.changed:
            events.append(
                AssetMaterialization(
                    asset_key="raw_data",
                    partition=day.day,
                    metadata={
                        "file_count": len(day.objects),
                        "bytes": input_bytes,
                        "fingerprint": day.fingerprint,
                        "objects": MetadataValue.json(
                            {o.key: o.version_id or o.etag for o in day.objects[:KEYS_IN_METADATA]}
                        ),
                        "location": MetadataValue.path(storage.location(raw_day_prefix(day.day))),
                    },
                )
            )
        if day.launch:
            runs.append(
                RunRequest(
                    run_key=f"{day.day}:{day.fingerprint[:16]}",
                    partition_key=day.day,
                    job_name=(daily_report_sharded_job if input_bytes > lake.shard_bytes else daily_report_job).name,
                    tags={
                        "pipeline/trigger": "sensor",
                        "pipeline/raw_fingerprint": day.fingerprint,
                        # Sized from the listing above: no second listing.
                        **sizing.size_tags(input_bytes, sizing.SIZE_TIERS),
                    },
                )
            )
    context.log.info(f"listed {sum(len(v) for v in listings.values())} objects in {len(listings)} day prefixes")
    return SensorResult(run_requests=runs, asset_events=events, cursor=plan.cursor)
