"""Sensor decisions for raw data, as pure functions over object listings.

A day's content is fingerprinted by the exact set of objects the contract considers
(key + version id, or ETag when unversioned). The same content never launches twice;
a late or replaced file changes the fingerprint and launches a rerun.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pipeline_project.core.contract import SUCCESS_MARKER, is_ignored, raw_day_prefix


class ListedObject(Protocol):
    key: str
    size: int
    etag: str | None
    version_id: str | None
    last_modified: float


def considered(day: str, objects: Sequence[ListedObject]) -> list[ListedObject]:
    prefix = raw_day_prefix(day)
    return [o for o in objects if not is_ignored(o.key[len(prefix) :])]


def fingerprint(objects: Sequence[ListedObject]) -> str:
    digest = hashlib.sha256()
    for o in sorted(objects, key=lambda o: o.key):
        digest.update(f"{o.key}\0{o.version_id or o.etag or ''}\n".encode())
    return digest.hexdigest()


def is_ready(day: str, objects: Sequence[ListedObject], now: float, quiet_seconds: int) -> bool:
    """Ready when the producer wrote _SUCCESS, or when nothing changed for the quiet period."""
    if not objects:
        return False
    marker = raw_day_prefix(day) + SUCCESS_MARKER
    if any(o.key == marker for o in objects):
        return True
    return now - max(o.last_modified for o in objects) >= quiet_seconds


@dataclass
class DayPlan:
    day: str
    objects: list[ListedObject]  # the considered ones
    fingerprint: str
    changed: bool  # content differs from what the sensor last reported
    launch: bool  # ready, and this content has not been launched yet


@dataclass
class TickPlan:
    days: list[DayPlan] = field(default_factory=list)
    cursor: str = ""


def plan_tick(
    cursor: str | None,
    listings: Mapping[str, Sequence[ListedObject]],
    now: float,
    quiet_seconds: int,
) -> TickPlan:
    """What to report and launch for each listed day, and the cursor to keep.

    The cursor remembers, per day in the window, the fingerprint last reported and the one
    last launched; days that left the window are dropped so it stays small.
    """
    state: dict = json.loads(cursor).get("days", {}) if cursor else {}
    plan = TickPlan()
    kept = {}
    for day in sorted(listings):
        everything = listings[day]
        objects = considered(day, everything)
        if not objects:
            continue
        fp = fingerprint(objects)
        seen = state.get(day, {})
        launch = is_ready(day, everything, now, quiet_seconds) and seen.get("launched") != fp
        plan.days.append(DayPlan(day, objects, fp, seen.get("seen") != fp, launch))
        kept[day] = {"seen": fp, "launched": fp if launch else seen.get("launched")}
    plan.cursor = json.dumps({"days": kept}, sort_keys=True)
    return plan
