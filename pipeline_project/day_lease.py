"""At most one run works on a day at a time: a lease per day in the lake, work/leases/D.json.

The run's orchestrating process (the run worker, or `pipeline-project run` itself) takes the
lease of each of its days, in day order so two ranged runs never wait on each other, before any
step starts; it renews them while the run executes and deletes them when it ends. publish_day
writes nothing for a day another run holds. A lease is free when it was released, when its
holder stopped renewing it (LEASE_SECONDS), when its holder's process is gone from this machine,
or when the instance says the holder's run has finished.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from pipeline_project.core.contract import WORK_PREFIX
from pipeline_project.storage import Storage

LEASE_SECONDS = 120.0
RENEW_SECONDS = 30.0
POLL_SECONDS = 5.0


class DayBusy(Exception):
    """Another run holds the day's lease: this run may not write the day."""


def lease_key(day: str) -> str:
    return f"{WORK_PREFIX}/leases/{day}.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_free(holder: dict, finished: Callable[[str], bool]) -> bool:
    if holder["expires_at"] <= time.time():
        return True
    if holder["host"] == socket.gethostname() and not _alive(holder["pid"]):
        return True  # killed on this machine: nothing will renew it
    return finished(holder["run_id"])


def claim(storage: Storage, day: str, run_id: str, finished: Callable[[str], bool]) -> str | None:
    """Take or renew the day's lease for run_id: None when this run holds it now, else the
    id of the run that does."""
    key = lease_key(day)
    while True:
        current = storage.read_bytes(key)
        if current is not None:
            holder = json.loads(current)
            if holder["run_id"] != run_id and not _is_free(holder, finished):
                return holder["run_id"]
        record = {
            "run_id": run_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "expires_at": time.time() + LEASE_SECONDS,
        }
        if storage.swap(key, current, json.dumps(record).encode()):
            return None  # else another run wrote the lease between the read and the write: look again


def release(storage: Storage, day: str, run_id: str) -> None:
    current = storage.read_bytes(lease_key(day))
    if current is not None and json.loads(current)["run_id"] == run_id:
        storage.delete([lease_key(day)])


def check_held(storage: Storage, day: str, run_id: str) -> None:
    """DayBusy unless no other run holds the day's lease now (its holder renewed it in time)."""
    current = storage.read_bytes(lease_key(day))
    if current is None:
        return
    holder = json.loads(current)
    if holder["run_id"] != run_id and holder["expires_at"] > time.time():
        raise DayBusy(f"{day} is held by run {holder['run_id']}; run {run_id} writes nothing")


@contextmanager
def holding(
    storage: Storage,
    days: Sequence[str],
    run_id: str,
    finished: Callable[[str], bool],
    on_wait: Callable[[str, str], None] = lambda day, holder: None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Holds every day's lease for the body: waits for each, renews them, deletes them at the end."""
    held: list[str] = []
    stop = threading.Event()
    renewer = None
    try:
        for day in sorted(set(days)):
            waited_for = None
            while (holder := claim(storage, day, run_id, finished)) is not None:
                if holder != waited_for:
                    on_wait(day, holder)
                    waited_for = holder
                sleep(POLL_SECONDS)
            held.append(day)

        def renew() -> None:
            while not stop.wait(RENEW_SECONDS):
                for day in held:
                    try:
                        claim(storage, day, run_id, finished)
                    except Exception:  # noqa: BLE001  a missed renewal is retried; publish checks the lease
                        pass

        renewer = threading.Thread(target=renew, name="day-leases", daemon=True)
        renewer.start()
        yield
    finally:
        stop.set()
        if renewer is not None:
            renewer.join()
        for day in held:
            release(storage, day, run_id)
