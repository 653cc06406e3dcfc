"""Sensor decisions for raw data, as pure functions over object listings and arrival events.

A day's content is fingerprinted by the exact set of objects the contract considers
(key + version id, or ETag when unversioned). The same content never launches twice;
a late or replaced file changes the fingerprint and launches a rerun. A report names the
objects it was computed from, so the same fingerprint tells whether a report is current.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Protocol

from pipeline_project.core.contract import RAW_PREFIX, SUCCESS_MARKER, is_ignored, raw_day_prefix


class ListedObject(Protocol):
    key: str
    size: int
    etag: str | None
    version_id: str | None
    last_modified: float


def considered(day: str, objects: Sequence[ListedObject]) -> list[ListedObject]:
    prefix = raw_day_prefix(day)
    return [o for o in objects if not is_ignored(o.key[len(prefix) :])]


def _digest(pairs: Iterable[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for key, version in sorted(pairs):
        digest.update(f"{key}\0{version}\n".encode())
    return digest.hexdigest()


def fingerprint(objects: Sequence[ListedObject]) -> str:
    return _digest((o.key, o.version_id or o.etag or "") for o in objects)


def report_fingerprint(report: Mapping) -> str:
    """The fingerprint of the content a report was computed from (its inputs, as listed)."""
    return _digest((i["key"], i.get("version_id") or i.get("etag") or "") for i in report.get("inputs", ()))


def is_ready(day: str, objects: Sequence[ListedObject], now: float, quiet_seconds: int) -> bool:
    """Ready when the producer wrote _SUCCESS, or when nothing changed for the quiet period."""
    if not objects:
        return False
    marker = raw_day_prefix(day) + SUCCESS_MARKER
    if any(o.key == marker for o in objects):
        return True
    return now - max(o.last_modified for o in objects) >= quiet_seconds


# ---------------------------------------------------------------------------------------------
# Arrival events: S3 "Object Created" / "Object Deleted" events, as EventBridge delivers them.
# ---------------------------------------------------------------------------------------------

_DAY_KEY = re.compile(rf"^{RAW_PREFIX}/(\d{{4}}-\d{{2}}-\d{{2}})/.")
EVENT_TYPES = ("Object Created", "Object Deleted")


class EventDropped(ValueError):
    """A message that names no day this lake could ever report; the message says why."""


def event_day(body: str, bucket: str, root: str) -> str:
    """The day (YYYY-MM-DD, a real calendar date) an event's key falls under, or EventDropped.

    root is the lake's prefix inside the bucket ("" or "team/lake/").
    """
    try:
        event = json.loads(body)
        kind, detail = event["detail-type"], event["detail"]
        name, key = detail["bucket"]["name"], detail["object"]["key"]
    except (ValueError, TypeError, KeyError) as exc:
        raise EventDropped(f"not an S3 event ({type(exc).__name__}: {exc})") from None
    if kind not in EVENT_TYPES:
        raise EventDropped(f"event type {kind!r} is not one of {', '.join(EVENT_TYPES)}")
    if name != bucket:
        raise EventDropped(f"bucket {name!r} is not the lake's ({bucket!r})")
    if not isinstance(key, str) or not key.startswith(root):
        raise EventDropped(f"key {key!r} is outside the lake's root {root!r}")
    match = _DAY_KEY.match(key[len(root) :])
    if not match:
        raise EventDropped(f"key {key!r} is not under {RAW_PREFIX}/YYYY-MM-DD/")
    try:
        dt.date.fromisoformat(match[1])
    except ValueError:
        raise EventDropped(f"key {key!r} names an impossible date {match[1]}") from None
    return match[1]


# ---------------------------------------------------------------------------------------------
# One tick: what the sensor remembers, what it reports and what it launches.
# ---------------------------------------------------------------------------------------------


@dataclass
class SensorState:
    """The sensor's cursor.

    days: per day listed last tick, the fingerprint last reported (seen) and last launched;
    a day seen but not launched is pending and is listed again every tick until it is ready.
    later: days that arrived before they became partitions (today's files).
    acks: receipt handles of the messages the last tick consumed. They are deleted by the next
    tick, which only starts once this cursor has been committed: no arrival is lost.
    reconciled_at: when the look-back window was last listed (events mode).
    """

    days: dict[str, dict] = field(default_factory=dict)
    later: list[str] = field(default_factory=list)
    acks: list[str] = field(default_factory=list)
    reconciled_at: float = 0.0

    @classmethod
    def parse(cls, cursor: str | None) -> SensorState:
        data = json.loads(cursor) if cursor else {}
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def encode(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def pending(self) -> list[str]:
        return sorted(d for d, s in self.days.items() if s.get("seen") != s.get("launched"))


@dataclass
class DayArrival:
    """One listed day: its considered objects and what the tick does about them."""

    day: str
    objects: list[ListedObject]
    fingerprint: str
    changed: bool  # content differs from what the sensor last reported
    launch: bool  # ready, not launched yet, and no report exists for this content

    @property
    def input_bytes(self) -> int:
        return sum(o.size for o in self.objects)


@dataclass
class TickPlan:
    days: list[DayArrival]
    state: SensorState


def plan_tick(
    state: SensorState,
    listings: Mapping[str, Sequence[ListedObject]],
    now: float,
    quiet_seconds: int,
    reported: Callable[[str, str], bool] = lambda day, fp: False,
    prior_seen: Callable[[str], str | None] = lambda day: None,
) -> TickPlan:
    """What to report and launch for each listed day, and the state to keep.

    reported(day, fp) says whether a report for exactly this content exists; it is asked once
    per day that would launch.
    prior_seen(day) is the fingerprint last recorded for a day the cursor no longer holds (from
    the instance), so a replayed event reports nothing new.
    State is kept for the listed days only, so it stays as small as what each tick lists.
    """
    days: list[DayArrival] = []
    kept: dict[str, dict] = {}
    for day in sorted(listings):
        everything = listings[day]
        objects = considered(day, everything)
        if not objects:
            continue
        fp = fingerprint(objects)
        seen = state.days.get(day) or {"seen": prior_seen(day)}
        ready = is_ready(day, everything, now, quiet_seconds)
        changed = seen.get("seen") != fp
        # Content that already has a report counts as launched: it is never computed twice.
        done = seen.get("launched") == fp or ((ready or changed) and reported(day, fp))
        launch = ready and not done
        days.append(DayArrival(day, objects, fp, changed, launch))
        kept[day] = {"seen": fp, "launched": fp if launch or done else seen.get("launched")}
    return TickPlan(days, SensorState(kept, list(state.later), list(state.acks), state.reconciled_at))
