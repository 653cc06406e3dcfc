"""Daily UTC partitions; a day becomes a partition once it is over."""

import datetime as dt

from dagster import DailyPartitionsDefinition

from pipeline_project.core.dates import check_in_range, parse_day
from pipeline_project.settings import value

daily_partitions = DailyPartitionsDefinition(start_date=value("PIPELINE_START_DATE"), timezone="UTC")


def partition_bounds(now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """First and last existing partition: the start date and yesterday (UTC)."""
    now = now or dt.datetime.now(dt.UTC)
    first = daily_partitions.start.date()
    return first, now.astimezone(dt.UTC).date() - dt.timedelta(days=1)


def checked_day(text: str, what: str = "date", now: dt.datetime | None = None) -> dt.date:
    """A real calendar day inside the partition range, or InvalidDay with a clear message."""
    day = parse_day(text, what)
    check_in_range(day, *partition_bounds(now), what=what)
    return day
