"""Structured logs: with PIPELINE_LOG_FORMAT=json every log line a run writes is one JSON object.

Each line holds `timestamp` (ISO 8601, UTC), `level`, `logger` and `message`; when known, `run_id`,
`job`, `step`, `event` (the Dagster event type), `partition` (or `partition_range` for a run over
several days) and `exception` (the traceback or Dagster's error text).

How each process gets there:

- Run workers (an ECS run task, `dagster dev`'s runs, `pipeline-project run`): Dagster's own
  mechanism for run logs, a custom `@logger`. The code location's Definitions register
  `json_console_logger` under the name of Dagster's default logger, `console`, with the same
  config (`log_level`, `name`). Dagster builds a job's loggers only from the run config (with none
  named it falls back to its colored console logger), so `daily_report_job` carries the default
  run config `loggers: {console: {}}`: every run of it (sensor, schedule, job backfill, launchpad)
  logs every Dagster event and every `context.log` call through the JSON logger, in the parent
  process and in each step worker. Run config that sets `loggers.console` (the CLI quiets it)
  still applies. Two lines escape it, because Dagster writes them with its colored console logger
  before a run's loggers exist: a step worker's STEP_WORKER_STARTED (DEBUG), which an instance
  with `python_logs: {python_log_level: INFO}` keeps in the event log and off the console, and
  errors raised while a run initializes. Runs of Dagster's implicit asset job (the asset page's
  Materialize button, asset backfills) carry no default config: add `loggers: {console: {}}` in
  the launchpad, or backfill from the job. The instance's `python_logs.dagster_handler_config`
  was not used: its handlers only add lines beside the colored console logger's text.
- Python warnings raised while the code loads (Dagster's beta notices) go through the same
  formatter (`configure_process`, called when `pipeline_project.defs` is imported).
- Webserver, daemon and code server log through Python's `dagster` logger, which Dagster formats
  itself: start them with `--log-format json` (the webserver also reads
  DAGSTER_WEBSERVER_LOG_FORMAT and the code server DAGSTER_CLI_CODE_SERVER_START_LOG_FORMAT; the
  daemon takes only the flag). Those lines are Dagster's JSON: `event` holds the message.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

from dagster import Field, InitLoggerContext, logger

from pipeline_project.settings import value

FORMATS = ("text", "json")
_HANDLER_NAME = "pipeline_project_json"


def log_format() -> str:
    """PIPELINE_LOG_FORMAT, checked: a typo stops the code location from loading."""
    text = value("PIPELINE_LOG_FORMAT").strip().lower()
    if text not in FORMATS:
        raise ValueError(f"PIPELINE_LOG_FORMAT must be 'text' or 'json', not {text!r}")
    return text


def _timestamp(created: float) -> str:
    moment = dt.datetime.fromtimestamp(created, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error_text(event) -> str | None:
    error = getattr(getattr(event, "event_specific_data", None), "error", None)
    if error is None:
        return None
    return getattr(event.event_specific_data, "error_display_string", None) or error.to_string()


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        entry = {
            "timestamp": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": meta["orig_message"] if "orig_message" in meta else record.getMessage(),
        }
        event = meta.get("dagster_event")
        for key, found in (
            ("run_id", meta.get("run_id")),
            ("job", meta.get("job_name")),
            ("step", meta.get("step_key")),
            ("event", event.event_type.name if event is not None else None),  # RUN_START, STEP_FAILURE...
        ):
            if found:
                entry[key] = found
        entry.update(_partition(record, meta.get("job_tags") or {}))
        exception = self.formatException(record.exc_info) if record.exc_info else None
        if exception is None and event is not None:
            exception = _error_text(event)
        if exception:
            entry["exception"] = exception
        return json.dumps(entry, default=str)


def _partition(record: logging.LogRecord, tags) -> dict[str, str]:
    """`partition` from the log call (extra={"partition": day}) or the run's tags."""
    day = getattr(record, "partition", None) or tags.get("dagster/partition")
    if day:
        return {"partition": str(day)}
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        return {"partition": start} if start == end else {"partition_range": f"{start}...{end}"}
    return {}


def _json_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    return handler


@logger(
    {
        "log_level": Field(str, is_required=False, default_value="DEBUG", description="The logger's threshold."),
        "name": Field(str, is_required=False, default_value="dagster", description="The logger's name."),
    },
    description="Dagster's run logs as one JSON object per line on stderr (PIPELINE_LOG_FORMAT=json).",
)
def json_console_logger(init_context: InitLoggerContext) -> logging.Logger:
    config = init_context.logger_config
    # Not registered with logging.getLogger: nothing propagates to the root logger's handlers.
    log = logging.Logger(config["name"], level=config["log_level"].upper())
    log.addHandler(_json_handler())
    return log


def run_loggers(fmt: str) -> dict | None:
    """The Definitions' loggers: None keeps Dagster's colored console logger."""
    return {"console": json_console_logger} if fmt == "json" else None


def job_run_config(fmt: str) -> dict | None:
    """A job's default run config: in json mode it names `console`, so Dagster builds the JSON logger."""
    return {"loggers": {"console": {}}} if fmt == "json" else None


def configure_process(fmt: str | None = None) -> None:
    """In json mode, Python warnings become JSON lines on stderr too. Idempotent; text mode: no-op."""
    if (fmt or log_format()) != "json":
        return
    logging.captureWarnings(True)
    warnings_log = logging.getLogger("py.warnings")
    if not any(h.get_name() == _HANDLER_NAME for h in warnings_log.handlers):
        handler = _json_handler()
        handler.set_name(_HANDLER_NAME)
        warnings_log.addHandler(handler)
    warnings_log.propagate = False
