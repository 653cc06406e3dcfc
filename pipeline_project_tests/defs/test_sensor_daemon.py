"""raw_data_sensor in events mode under the real Dagster daemon: `dagster-daemon run`, its code server
and its run workers, over moto's S3 → EventBridge → SQS chain on loopback HTTP.

test_sensor_events.py proves the cursor semantics tick by tick with build_sensor_context; these
tests prove them where it matters, in the daemon that commits the cursor (Dagster's instigator
state) and creates the runs, including a SIGKILL of the whole daemon process group (the daemon,
its code server, where the sensor runs, and any run worker) at the two dangerous moments.

Runs go through a QueuedRunCoordinator, as deployed (deploy/dagster.yaml). Locally the
DefaultRunLauncher starts each run in a child process of the code server, so a daemon killed
after it launched a run would kill the run too and leave it STARTED forever (deployed, a run is
its own ECS task and survives). The daemon that test_kill_right_after_committing kills therefore
holds its runs in the queue (max_concurrent_runs: 0); the daemon started after it launches them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse, urlsplit

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.scheduler.instigation import InstigatorType

from pipeline_project.core.arrivals import SensorState
from pipeline_project.core.contract import raw_day_prefix, report_key
from pipeline_project.core.sample_data import sample_day
from pipeline_project.daily import compute_day
from pipeline_project.settings import SETTINGS
from pipeline_project.storage import Storage, open_storage
from pipeline_project_tests.conftest import land, land_sample, queue_depth
from pipeline_project_tests.reliability.fault_proxy import FaultProxy

REPO = Path(__file__).resolve().parents[2]
TODAY = dt.datetime.now(dt.UTC).date()
OLD = (TODAY - dt.timedelta(days=40)).isoformat()  # far outside the 3-day look-back window
START_DATE = (TODAY - dt.timedelta(days=100)).isoformat()
MAX_FILE_BYTES = int(SETTINGS["PIPELINE_MAX_FILE_BYTES"].default)
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
LATE_CSV = (
    "event_id,event_time,user_id,event_type,amount,currency\n"
    "late-1,{day}T05:00:00Z,late-user,purchase,12.50,USD\n"
    "late-2,{day}T06:30:00Z,late-user,view,,\n"
)


def _wait(predicate: Callable, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


# ---------------------------------------------------------------------------------------------
# The daemon, its instance, and an S3 proxy that can hold a tick mid-way.
# ---------------------------------------------------------------------------------------------


class HoldingProxy(FaultProxy):
    """FaultProxy with no faults: forwards every S3 request to moto. Armed with a key prefix, it holds
    the ListObjectVersions requests for exactly that prefix until released; `holding` is set once
    one is held. A held client that was killed meanwhile gets its answer written nowhere."""

    def __init__(self, upstream: str):
        super().__init__(upstream, rate=0.0)
        self.prefix: str | None = None
        self.holding = threading.Event()
        self._released = threading.Event()

    def arm(self, prefix: str) -> None:
        self.prefix = prefix
        self.holding.clear()
        self._released.clear()

    def release(self) -> None:
        self.prefix = None
        self._released.set()

    def _forward(self, handler, body):
        query = parse_qs(urlsplit(handler.path).query, keep_blank_values=True)
        if self.prefix is not None and handler.command == "GET" and "versions" in query:
            if query.get("prefix") == [self.prefix]:
                self.holding.set()
                self._released.wait()
        return super()._forward(handler, body)

    def _handle(self, handler) -> None:
        try:
            super()._handle(handler)
        except OSError:  # the client (a killed code server) is gone
            handler.close_connection = True


class Daemon:
    """`dagster-daemon run` over the code location, in its own process group (the daemon, the code
    server it spawns, where sensors are evaluated, and the run workers the code server spawns).

    Its DAGSTER_HOME holds a sqlite instance with a QueuedRunCoordinator; launch_runs=False holds
    every run in the queue (max_concurrent_runs: 0)."""

    target = ("-m", "pipeline_project.definitions")  # where the daemon loads the code from

    def __init__(self, home: Path, env: dict[str, str], logs: Path):
        self.home = home
        self.env = {**env, "DAGSTER_HOME": str(home)}
        self.logs = logs
        self.process: subprocess.Popen | None = None
        self.starts = 0
        home.mkdir(parents=True, exist_ok=True)
        self._configure(launch_runs=True)
        self.instance = DagsterInstance.from_config(str(home))

    def _configure(self, launch_runs: bool) -> None:
        (self.home / "dagster.yaml").write_text(
            "telemetry:\n  enabled: false\n"
            "run_coordinator:\n  module: dagster\n  class: QueuedRunCoordinator\n  config:\n"
            f"    max_concurrent_runs: {-1 if launch_runs else 0}\n    dequeue_interval_seconds: 1\n"
        )

    def start(self, launch_runs: bool = True) -> Daemon:
        assert self.process is None
        self._configure(launch_runs)
        self.starts += 1
        log = (self.logs / f"dagster-daemon-{self.starts}.log").open("w")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-daemon")), "run", *self.target],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def _group_alive(self) -> bool:
        """Whether any process of the group is still running (zombies awaiting a reaper do not count)."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.process.pid and fields[0] != "Z":
                return True
        return False

    def kill(self) -> None:
        """SIGKILL the whole group at once: nothing gets to clean up or commit."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        _wait(lambda: not self._group_alive(), 30, "the killed daemon's processes to go", interval=0.1)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def check_running(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            log = self.logs / f"dagster-daemon-{self.starts}.log"
            pytest.fail(f"dagster-daemon exited with {self.process.returncode}:\n{log.read_text()[-4000:]}")

    # The instance, as the test sees it.

    def runs(self, day: str):
        return self.instance.get_runs(RunsFilter(tags={"dagster/partition": day}))

    def committed_state(self) -> SensorState | None:
        """The raw_data_sensor cursor the daemon last committed (its instigator state)."""
        for state in self.instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
            if state.instigator_name == "raw_data_sensor" and state.instigator_data is not None:
                return SensorState.parse(state.instigator_data.cursor)
        return None


@pytest.fixture
def daemon_env(s3_url, queue_url) -> dict[str, str]:
    return {
        **os.environ,  # the AWS_* settings s3_endpoint made, pointing at moto
        "PIPELINE_STORAGE_URL": s3_url,
        "PIPELINE_ARRIVALS_QUEUE_URL": queue_url,
        "PIPELINE_START_DATE": START_DATE,
        "PIPELINE_SENSOR_INTERVAL_SECONDS": "2",
        "PIPELINE_ARRIVALS_VISIBILITY_SECONDS": "4",
        "PIPELINE_ARRIVALS_MAX_MESSAGES": "100",
        "PIPELINE_RECONCILE_SECONDS": "3600",
        "PIPELINE_SENSOR_LOOKBACK_DAYS": "3",
        "PIPELINE_SENSOR_QUIET_SECONDS": "600",
        "PIPELINE_LOG_FORMAT": "text",
        "PIPELINE_ALERT_TOPIC_ARN": "",
    }


@pytest.fixture
def daemons(tmp_path) -> Iterator[Callable[[dict[str, str]], Daemon]]:
    """Makes the test's Daemon (one DAGSTER_HOME, restartable); stops whatever is left at the end."""
    made: list[Daemon] = []

    def make(env: dict[str, str]) -> Daemon:
        made.append(Daemon(tmp_path / "home", env, tmp_path))
        return made[-1]

    yield make
    for daemon in made:
        daemon.stop()
        daemon.instance.dispose()


def _comparable(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("run_id", "generated_at")}


def _reference(lake: Storage, day: str) -> dict:
    return _comparable(compute_day(lake, day, "reference", MAX_FILE_BYTES).report)


def _report(lake: Storage, day: str) -> dict | None:
    data = lake.read_bytes(report_key(day))
    return json.loads(data) if data is not None else None


def _wait_report(daemon: Daemon, lake: Storage, day: str, timeout: float, accept=lambda report: True) -> dict:
    def ready():
        daemon.check_running()
        report = _report(lake, day)
        return report if report is not None and accept(report) else None

    return _wait(ready, timeout, f"the report of {day}")


def _wait_finished_runs(daemon: Daemon, day: str, count: int, timeout: float = 90):
    def finished():
        daemon.check_running()
        runs = daemon.runs(day)
        return runs if len(runs) >= count and all(r.status in FINISHED for r in runs) else None

    return _wait(finished, timeout, f"{count} finished run(s) of {day}")


def _wait_queue_empty(daemon: Daemon, url: str, timeout: float = 60) -> None:
    def empty():
        daemon.check_running()
        return queue_depth(url) == 0

    _wait(empty, timeout, "the arrivals queue to be empty (the next tick deletes what a committed tick consumed)")


def _land_day(lake: Storage, day: str) -> int:
    """One CSV file and the _SUCCESS marker: two objects, two events."""
    files = dict(sample_day(dt.date.fromisoformat(day), rows=200, files=1, seed=3))
    land(lake, day, files)
    return len(files)


# ---------------------------------------------------------------------------------------------
# The tests.
# ---------------------------------------------------------------------------------------------


def test_daemon_reports_an_old_day_from_its_events_and_reruns_it_for_a_late_file(
    s3_url, queue_url, daemon_env, daemons, capsys
):
    """Through the daemon, a day 40 days old (outside the look-back window, so only its events can
    bring it in) gets its exact report; a late file for it gets a new report over both contents; each
    tick's messages are deleted by the next tick, so the queue ends empty."""
    lake = open_storage(s3_url)
    daemon = daemons(daemon_env).start()
    # The first tick (the reconciliation of the window) has been committed: the daemon is up.
    _wait(lambda: daemon.check_running() or (daemon.committed_state() or SensorState()).reconciled_at, 180, "a tick")

    landed = land_sample(lake, OLD, rows=300)
    assert "_SUCCESS" in landed
    arrived = time.monotonic()
    report = _wait_report(daemon, lake, OLD, 120)
    first_seconds = time.monotonic() - arrived
    assert _comparable(report) == _reference(lake, OLD)
    assert report["records"]["read"] == 300

    land(lake, OLD, {"late/events-late.csv": LATE_CSV.format(day=OLD).encode()})
    late_arrived = time.monotonic()

    def includes_late(candidate: dict) -> bool:
        return any(i["key"].endswith("late/events-late.csv") for i in candidate["inputs"])

    late = _wait_report(daemon, lake, OLD, 120, accept=includes_late)
    late_seconds = time.monotonic() - late_arrived
    assert _comparable(late) == _reference(lake, OLD)
    assert late["records"]["read"] == 302 and late["run_id"] != report["run_id"]

    runs = _wait_finished_runs(daemon, OLD, 2)
    assert len(runs) == 2 and {r.status for r in runs} == {DagsterRunStatus.SUCCESS}
    assert len({r.tags["dagster/run_key"] for r in runs}) == 2  # one run per distinct content
    assert {r.tags["pipeline/trigger"] for r in runs} == {"sensor"}
    _wait_queue_empty(daemon, queue_url)
    with capsys.disabled():
        print(
            f"\ndaemon, events mode: {OLD} (40 days old) landed -> report in {first_seconds:.1f}s; "
            f"late file -> new report in {late_seconds:.1f}s (sensor interval 2 s; load average "
            f"{os.getloadavg()[0]:.1f})"
        )


def test_kill_between_receiving_and_committing_loses_no_arrival(s3_endpoint, s3_url, queue_url, daemon_env, daemons):
    """The daemon group is SIGKILLed while a tick has received the day's messages and is listing the
    day (held at the S3 proxy), i.e. before the tick returned its cursor: nothing was committed and
    nothing deleted, so the messages come back after the visibility timeout, the next daemon
    launches the day, exactly once, and its report is exact."""
    lake = open_storage(s3_url)
    with HoldingProxy(s3_endpoint) as proxy:
        daemon = daemons({**daemon_env, "AWS_ENDPOINT_URL_S3": proxy.url})
        proxy.arm(f"{urlparse(s3_url).path.strip('/')}/{raw_day_prefix(OLD)}")
        # Landed before the daemon starts: its first tick receives both messages in one batch.
        events = _land_day(lake, OLD)
        assert _wait(lambda: queue_depth(queue_url) == events, 30, "the two events")
        daemon.start()
        _wait(lambda: daemon.check_running() or proxy.holding.is_set(), 180, "the tick's listing of the day")
        before = daemon.committed_state()
        assert before is None or before.acks == []  # the holding tick has committed nothing
        daemon.kill()
        proxy.release()

        assert queue_depth(queue_url) == events  # received, hidden, not deleted
        assert daemon.runs(OLD) == []
        after = daemon.committed_state()
        assert after is None or (after.acks == [] and OLD not in after.days)

        daemon.start()
        report = _wait_report(daemon, lake, OLD, 150)
        (run,) = _wait_finished_runs(daemon, OLD, 1)
        assert run.status == DagsterRunStatus.SUCCESS
        assert _comparable(report) == _reference(lake, OLD)
        _wait_queue_empty(daemon, queue_url)
        assert len(daemon.runs(OLD)) == 1


def test_kill_right_after_committing_deletes_on_the_next_daemons_first_tick(s3_url, queue_url, daemon_env, daemons):
    """The daemon group is SIGKILLed as soon as the tick that requested the day's run has been
    committed (the run exists and the committed cursor holds the tick's receipt handles): the
    messages are still in the queue (the next tick deletes them), the next daemon's first tick
    deletes them and requests nothing new, and the queued run (held by the killed daemon's
    coordinator) runs once: one run for the day, an exact report, an empty queue."""
    lake = open_storage(s3_url)
    # A longer interval leaves the test time to kill between the commit and the next tick's deletes.
    daemon = daemons({**daemon_env, "PIPELINE_SENSOR_INTERVAL_SECONDS": "10"})
    events = _land_day(lake, OLD)
    assert _wait(lambda: queue_depth(queue_url) == events, 30, "the two events")
    daemon.start(launch_runs=False)

    def committed():
        daemon.check_running()
        state = daemon.committed_state()
        if state is None or len(state.acks) != events:
            return None
        return state

    state = _wait(committed, 180, "the committed tick that requested the run", interval=0.05)
    daemon.kill()
    assert OLD in state.days and state.pending() == []  # launched, not pending
    (run,) = daemon.runs(OLD)
    assert run.status == DagsterRunStatus.QUEUED
    assert queue_depth(queue_url) == events  # not deleted yet: that is the next tick's work

    daemon.start(launch_runs=True)
    report = _wait_report(daemon, lake, OLD, 150)
    (finished,) = _wait_finished_runs(daemon, OLD, 1)
    assert finished.run_id == run.run_id and finished.status == DagsterRunStatus.SUCCESS
    assert _comparable(report) == _reference(lake, OLD)
    _wait_queue_empty(daemon, queue_url)
    assert len(daemon.runs(OLD)) == 1
    # The tick that deleted them commits an empty acknowledgement list (nothing received since).
    _wait(lambda: daemon.committed_state().acks == [], 30, "a committed cursor with nothing left to delete")
