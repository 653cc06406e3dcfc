"""`pipeline-project`: reprocess days through Dagster, or write sample raw data.

Errors are one sentence on stderr and a non-zero exit; --debug (or PIPELINE_DEBUG=1) shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sys
import time
import uuid
import warnings

from pipeline_project.bench.engines import ENGINES, FORMATS
from pipeline_project.core.contract import raw_day_prefix, report_key
from pipeline_project.core.dates import InvalidDay, days_between, parse_day
from pipeline_project.storage import StorageError

QUIET_LOGGERS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pipeline-project", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run",
        help="materialize daily_report for a day or a range, recorded in the instance at DAGSTER_HOME",
        description="Days default to $RUN_DATE, then to yesterday (UTC). One run per day.",
    )
    run.add_argument("--date", help="one day, YYYY-MM-DD")
    run.add_argument("--from", dest="first", help="first day of a range, YYYY-MM-DD")
    run.add_argument("--to", dest="last", help="last day of a range, YYYY-MM-DD (inclusive)")

    sample = commands.add_parser("sample-data", help="write realistic raw files into the configured storage")
    sample.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
    sample.add_argument("--to", dest="last", help="last day, YYYY-MM-DD (default: --from)")
    sample.add_argument("--rows", type=int, default=1000, help="rows per day (default 1000)")
    sample.add_argument("--files", type=int, default=3, help="files per day (default 3)")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default 0)")

    commands.add_parser(
        "db-setup",
        help="create or correct the least-privilege database user Dagster logs in as (run as the master user)",
        description="Idempotent. Reads DAGSTER_PG_HOST, DAGSTER_PG_PORT, DAGSTER_PG_DB, DAGSTER_PG_USERNAME (the user "
        "to set up) and the master user's DAGSTER_PG_ADMIN_USERNAME and DAGSTER_PG_ADMIN_PASSWORD.",
    )

    bench = commands.add_parser(
        "bench",
        help="generate one day of raw data locally; time the pipeline, DuckDB, pandas and polars; compare the reports",
        description="Prints a table, the throughput ratios and, as the last line, one JSON object. "
        "Exits non-zero when the reports disagree.",
    )
    bench.add_argument("--size-mb", type=float, default=256, help="MiB of raw data to generate (default 256)")
    bench.add_argument(
        "--format",
        choices=tuple(FORMATS),
        default="csv",
        help="file format (default csv); parquet-native: timestamp, decimal and integer columns",
    )
    bench.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    bench.add_argument(
        "--workdir", help="keep (and reuse) the data in this folder; default: a temporary folder, removed afterwards"
    )
    bench.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help=f"comma-separated subset (default {','.join(ENGINES)})",
    )
    return parser


def _run_days(args: argparse.Namespace) -> list[str]:
    from pipeline_project.defs.partitions import checked_day

    ranged = args.first is not None or args.last is not None
    if args.date is not None and ranged:
        raise UsageError("use either --date or --from/--to, not both")
    if ranged:
        if args.first is None or args.last is None:
            raise UsageError("--from and --to go together")
        return days_between(checked_day(args.first, "--from"), checked_day(args.last, "--to"))
    if args.date is not None:
        return [checked_day(args.date, "--date").isoformat()]
    if os.environ.get("RUN_DATE"):
        return [checked_day(os.environ["RUN_DATE"], "RUN_DATE").isoformat()]
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    return [checked_day(yesterday.isoformat(), "yesterday").isoformat()]


def _resources_and_storage():
    """Resources from the environment as it is now, and the lake they point at."""
    from pipeline_project.defs.resources import resources_from_env

    resources = resources_from_env()
    return resources, resources["lake"].process_config_and_initialize().storage()


def _failure_message(result) -> str:
    for event in result.all_events:
        if event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE"):
            data = event.event_specific_data
            user = getattr(data, "user_failure_data", None)
            if user is not None and user.description:
                return user.description
            error = getattr(data, "error", None)
            if error is not None:
                cause = error.cause or error
                return cause.message.strip().splitlines()[-1]
    return "the run failed"


def _execute(job_name: str, day: str, tags: dict, instance, resources, storage) -> tuple[bool, str, str]:
    """One day's run, recorded in the instance: in this process, or with its shards in parallel
    processes when the policy routed it to the sharded job. Returns success, run id, failure.

    Either way the run holds the day's lease while it works (the sharded job's executor takes it)."""
    from dagster import build_reconstructable_job, execute_job

    from pipeline_project.day_lease import holding
    from pipeline_project.definitions import defs
    from pipeline_project.defs.jobs import run_finished
    from pipeline_project.defs.policy import JOB

    if job_name == JOB:
        run_id = str(uuid.uuid4())  # known before the run starts: the lease names it

        def on_wait(day: str, holder: str) -> None:
            print(f"    waiting for run {holder}, which is working on {day}")

        with holding(storage, [day], run_id, run_finished(instance), on_wait):
            result = defs.resolve_job_def(job_name).execute_in_process(
                partition_key=day,
                instance=instance,
                run_config=QUIET_LOGGERS,
                resources=resources,
                tags=tags,
                run_id=run_id,
                raise_on_error=False,
            )
        return result.success, result.run_id, "" if result.success else _failure_message(result)
    job = build_reconstructable_job("pipeline_project.definitions", "job_named", reconstructable_args=(job_name,))
    with execute_job(job, instance, run_config=QUIET_LOGGERS, tags={**tags, "dagster/partition": day}) as result:
        return result.success, result.run_id, "" if result.success else _failure_message(result)


def cmd_run(args: argparse.Namespace) -> int:
    days = _run_days(args)
    if not os.environ.get("DAGSTER_HOME"):
        raise UsageError(
            "DAGSTER_HOME is not set: point it at your Dagster instance folder (make demo uses .dagster_home)"
        )
    # A CLI run executes here (a RUN_DATE task included): a big day's shards run as processes of
    # this machine, not as tasks of their own, whatever the deployment's services use.
    os.environ["PIPELINE_STEP_EXECUTOR"] = "multiprocess"
    from dagster import DagsterInstance

    resources, storage = _resources_and_storage()
    failed = 0
    started_all = time.monotonic()
    with DagsterInstance.get() as instance, resources["policy"].process_config_and_initialize_cm() as policy:
        for n, day in enumerate(days, start=1):
            started = time.monotonic()
            content = policy.content(day)
            launch = policy.launch("cli", [content.input_bytes], content.fingerprint)
            success, run_id, failure = _execute(launch.job_name, day, launch.tags, instance, resources, storage)
            seconds = time.monotonic() - started
            prefix = f"[{n}/{len(days)}] {day}"
            if not success:
                failed += 1
                print(f"{prefix} FAILED in {seconds:.1f}s (run {run_id}): {failure}")
                continue
            report = json.loads(storage.read_bytes(report_key(day)))
            r = report["records"]
            print(
                f"{prefix} ok in {seconds:.1f}s (run {run_id}, {launch.job_name}): {r['read']} read, "
                f"{r['valid']} valid, {r['rejected']} rejected, {r['duplicates']} duplicates "
                f"-> {storage.location(report_key(day))}"
            )
            for entry in report["inputs"]:
                name = entry["key"][len(raw_day_prefix(day)) :]
                if entry["status"] == "quarantined":
                    print(f"    {name}: quarantined ({entry['reason']})")
                else:
                    print(f"    {name}: {entry['records_read']} read, {entry['records_rejected']} rejected")
    total = time.monotonic() - started_all
    print(f"{len(days) - failed} of {len(days)} days reported, {failed} failed, in {total:.1f}s")
    return 1 if failed else 0


def cmd_sample_data(args: argparse.Namespace) -> int:
    from pipeline_project.core.sample_data import sample_day

    if args.rows < 0 or args.files < 1:
        raise UsageError("--rows must be at least 0 and --files at least 1")
    first = parse_day(args.first, "--from")
    days = days_between(first, parse_day(args.last, "--to") if args.last else first)
    _resources, storage = _resources_and_storage()
    written = 0
    for n, day in enumerate(days, start=1):
        print(f"[{n}/{len(days)}] {day}")
        for name, data in sample_day(dt.date.fromisoformat(day), rows=args.rows, files=args.files, seed=args.seed):
            key = raw_day_prefix(day) + name
            storage.write(key, io.BytesIO(data), "application/octet-stream")
            written += len(data)
            print(f"    {storage.location(key)} ({len(data)} bytes)")
    print(f"wrote {len(days)} days, {args.rows} rows each, {written} bytes under {storage.location('raw-data/')}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from pipeline_project.bench.runner import run_bench

    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    if args.size_mb <= 0:
        raise UsageError("--size-mb must be more than 0")
    if not engines or any(e not in ENGINES for e in engines):
        raise UsageError(f"--engines takes a comma-separated subset of {','.join(ENGINES)}")
    return run_bench(args.size_mb, args.format, args.seed, args.workdir, engines)


def cmd_db_setup(args: argparse.Namespace) -> int:
    from pipeline_project import db_setup

    try:
        return db_setup.main()
    except db_setup.SetupRefused as exc:
        raise UsageError(str(exc)) from exc


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from dagster import BetaWarning, PreviewWarning

    # Dagster flags the backfill policy as beta on every import; that is noise at a terminal.
    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=PreviewWarning)
    debug = args.debug or os.environ.get("PIPELINE_DEBUG") == "1"
    try:
        commands = {"run": cmd_run, "sample-data": cmd_sample_data, "db-setup": cmd_db_setup, "bench": cmd_bench}
        return commands[args.command](args)
    except (UsageError, InvalidDay) as exc:
        print(f"pipeline-project: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if debug:
            raise
        # A StorageError is already a sentence naming the location; its class name is noise.
        what = str(exc) if isinstance(exc, StorageError) else f"{type(exc).__name__}: {exc}"
        print(f"pipeline-project: {what} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
