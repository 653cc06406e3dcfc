"""raw_data sensor: learn of arrivals (S3 events from SQS, or a listing), report raw_data, launch ready days.

Events mode (PIPELINE_ARRIVALS_QUEUE_URL set): each tick deletes the messages the previous,
committed tick consumed, receives a bounded batch, maps keys to days (any day of the partition
range), and lists only those days, the pending ones, and, every PIPELINE_RECONCILE_SECONDS, the
look-back window. Listing mode (the default, for a local lake): the window every tick.
"""

import datetime as dt

from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetRecordsFilter,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from pipeline_project.core.arrivals import EventDropped, SensorState, event_day, plan_tick
from pipeline_project.core.contract import raw_day_prefix
from pipeline_project.defs.jobs import daily_report_job, daily_report_sharded_job
from pipeline_project.defs.partitions import partition_bounds
from pipeline_project.defs.policy import RunPolicy
from pipeline_project.defs.resources import ArrivalResource, LakeResource
from pipeline_project.settings import value

KEYS_IN_METADATA = 200
# Producers ahead of UTC may land tomorrow's folder early: held until it is a partition.
EARLY_DAYS = 2


def window_days(now: dt.datetime, lookback_days: int) -> list[str]:
    """The last `lookback_days` partitions (yesterday backwards), never before the first one."""
    first, last = partition_bounds(now)
    days = [last - dt.timedelta(days=n) for n in range(max(lookback_days, 0))]
    return [d.isoformat() for d in days if d >= first]


def _last_reported_fingerprint(context: SensorEvaluationContext, day: str) -> str | None:
    """The fingerprint of the last raw_data materialization of a day the cursor no longer holds."""
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("raw_data"), asset_partitions=[day]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    entry = records[0].asset_materialization.metadata.get("fingerprint")
    return entry.value if entry is not None else None


def _arrived_days(context, state: SensorState, lake: LakeResource, arrival: ArrivalResource, now: dt.datetime):
    """Events mode: acknowledge the last tick's messages, receive new ones, and map them to days."""
    queue = arrival.queue()
    for problem in queue.delete(state.acks):
        context.log.warning(f"could not delete an arrival message (it will come back): {problem}")
    messages = queue.receive(arrival.max_messages)
    bucket, root = lake.event_scope()
    first, last = partition_bounds(now)
    touched, later = set(), set(state.later)
    for message in messages:
        try:
            day = event_day(message.body, bucket, root)
            if day < first.isoformat():
                raise EventDropped(f"{day} is before the first partition ({first})")
            if day > (last + dt.timedelta(days=EARLY_DAYS)).isoformat():
                raise EventDropped(f"{day} is in the future")
        except EventDropped as exc:
            context.log.warning(f"dropped arrival message {message.message_id}: {exc}")
            continue
        (touched if day <= last.isoformat() else later).add(day)
    ripe = {d for d in later if d <= last.isoformat()}
    state.later = sorted(later - ripe)
    state.acks = [m.receipt_handle for m in messages]
    return touched | ripe, len(messages)


@sensor(
    jobs=[daily_report_job, daily_report_sharded_job],
    minimum_interval_seconds=int(value("PIPELINE_SENSOR_INTERVAL_SECONDS")),
    default_status=DefaultSensorStatus.RUNNING,
    description="Learns of arrivals under raw-data/YYYY-MM-DD/ from S3 events (PIPELINE_ARRIVALS_QUEUE_URL) "
    "or by listing the look-back window; reports raw_data and runs daily_report once per distinct "
    "content of a ready day (_SUCCESS marker or quiet period) that has no report yet, routed and "
    "sized by the trigger policy.",
)
def raw_data_sensor(context: SensorEvaluationContext, lake: LakeResource, arrival: ArrivalResource, policy: RunPolicy):
    now = dt.datetime.now(dt.UTC)
    storage = lake.storage()
    state = SensorState.parse(context.cursor)
    window = window_days(now, arrival.lookback_days)
    received = 0
    if arrival.queue_url:
        touched, received = _arrived_days(context, state, lake, arrival, now)
        if now.timestamp() - state.reconciled_at >= arrival.reconcile_seconds:
            touched |= set(window)
            state.reconciled_at = now.timestamp()
    else:
        touched = set(window)
    touched |= set(state.pending())
    listings = {day: storage.list_objects(raw_day_prefix(day)) for day in sorted(touched)}
    plan = plan_tick(
        state,
        listings,
        now.timestamp(),
        arrival.quiet_seconds,
        # A report, not a run under way: a run left STARTED by a killed local process would
        # otherwise hold its day back for good (the sensor's run keys de-duplicate its own runs).
        reported=policy.reported,
        prior_seen=lambda day: _last_reported_fingerprint(context, day),
    )
    events, runs = [], []
    for day in plan.days:
        if day.changed:
            events.append(
                AssetMaterialization(
                    asset_key="raw_data",
                    partition=day.day,
                    metadata={
                        "file_count": len(day.objects),
                        "bytes": day.input_bytes,
                        "fingerprint": day.fingerprint,
                        "objects": MetadataValue.json(
                            {o.key: o.version_id or o.etag for o in day.objects[:KEYS_IN_METADATA]}
                        ),
                        "location": MetadataValue.path(storage.location(raw_day_prefix(day.day))),
                    },
                )
            )
        if day.launch:
            launch = policy.launch("sensor", [day.input_bytes], day.fingerprint)
            runs.append(
                RunRequest(
                    run_key=f"{day.day}:{day.fingerprint[:16]}",
                    partition_key=day.day,
                    job_name=launch.job_name,
                    tags=launch.tags,
                )
            )
    source = f"{received} arrival messages, " if arrival.queue_url else ""
    context.log.info(f"{source}listed {sum(len(v) for v in listings.values())} objects in {len(listings)} day prefixes")
    return SensorResult(run_requests=runs, asset_events=events, cursor=plan.state.encode())
