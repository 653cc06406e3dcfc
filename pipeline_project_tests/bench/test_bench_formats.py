"""The benchmark's gzipped and native-typed formats, polars on the contract's corners, and what the
double readers (DuckDB, polars) are compared on when a day holds JSON they cannot read exactly."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline_project import cli
from pipeline_project.bench import runner
from pipeline_project.bench.engines import ENGINES, FORMATS, PY_WHITESPACE, measure
from pipeline_project.bench.generate import generate_day
from pipeline_project.core.contract import ROW_REASONS

DAY = runner.BENCH_DAY
QUIET = {"log": lambda _: None}


def _reports(root: Path, fmt: str) -> dict:
    return {engine: measure(engine, str(root), DAY, fmt)["report"] for engine in ENGINES}


def _write(root: Path, name: str, text: str) -> Path:
    path = root / "raw-data" / DAY / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_polars_strips_what_python_strips():
    assert PY_WHITESPACE == "".join(c for c in map(chr, range(0x110000)) if c.isspace())


def test_the_command_takes_every_format_and_engine(capsys):
    parser = cli._parser()
    assert [parser.parse_args(["bench", "--format", fmt]).format for fmt in FORMATS] == list(FORMATS)
    assert tuple(parser.parse_args(["bench"]).engines.split(",")) == ENGINES
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "--format", "parquet.gz"])
    assert "invalid choice: 'parquet.gz'" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_gzipped_day_is_the_plain_day_gzipped(fmt, tmp_path):
    plain = generate_day(tmp_path / "plain", DAY, fmt, 1 << 19, 4, **QUIET)
    zipped = generate_day(tmp_path / "gz", DAY, f"{fmt}.gz", 1 << 19, 4, **QUIET)
    assert [f["key"] + ".gz" for f in plain] == [f["key"] for f in zipped]
    for p, z in zip(plain, zipped, strict=True):
        text = (tmp_path / "plain" / p["key"]).read_bytes()
        assert gzip.decompress((tmp_path / "gz" / z["key"]).read_bytes()) == text
        assert z["data_bytes"] == p["data_bytes"] == p["bytes"] == len(text)
        assert z["rows"] == p["rows"] and z["bytes"] < z["data_bytes"] // 3
    # Byte for byte the same on every run (gzip's mtime is 0).
    again = generate_day(tmp_path / "again", DAY, f"{fmt}.gz", 1 << 19, 4, **QUIET)
    assert all(
        (tmp_path / "gz" / z["key"]).read_bytes() == (tmp_path / "again" / a["key"]).read_bytes()
        for z, a in zip(zipped, again, strict=True)
    )
    reports = _reports(tmp_path / "gz", f"{fmt}.gz")
    assert all(r == reports["pipeline"] for r in reports.values()), reports
    assert reports["pipeline"] == measure("pipeline", str(tmp_path / "plain"), DAY, fmt)["report"]


def test_a_native_parquet_day_has_native_columns_and_every_reason(tmp_path):
    files = generate_day(tmp_path, DAY, "parquet-native", 1 << 19, 2, **QUIET)
    schema = pq.read_schema(tmp_path / files[0]["key"])
    assert schema.field("event_time").type == pa.timestamp("us", "UTC")
    assert schema.field("user_id").type == pa.int64()
    assert schema.field("amount").type == pa.decimal128(12, 2)
    assert schema.field("event_id").type == schema.field("event_type").type == pa.string()
    # Timestamps written in the wrong unit: past 9999-12-31 (253,402,300,800 s after the epoch).
    moments = pq.read_table(tmp_path / files[0]["key"])["event_time"].cast(pa.int64())
    assert pc.sum(pc.greater_equal(moments, 253_402_300_800 * 10**6)).as_py() > 0
    reports = _reports(tmp_path, "parquet-native")
    assert all(r == reports["pipeline"] for r in reports.values()), reports
    report = reports["pipeline"]
    assert report["records"]["read"] == sum(f["rows"] for f in files)
    assert report["records"]["duplicates"] > 0 and len(report["revenue"]) == 3
    assert all(report["rejected_by_reason"][r] > 0 for r in ROW_REASONS if r != "malformed_row")


def _utc_us(text: str) -> int:
    moment = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def _parquet(root: Path, name: str, columns: dict, types: dict) -> None:
    path = root / "raw-data" / DAY / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({k: pa.array(v, types[k]) for k, v in columns.items()}), path)


def test_the_four_engines_agree_on_native_parquet_corners(tmp_path):
    wrong_unit = _utc_us("2025-06-15T10:00:00") * 1000  # nanoseconds in a microsecond column
    _parquet(
        tmp_path / "a",
        "a.parquet",
        {
            "event_id": ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a2", " a8 ", "a9"],
            "event_time": [
                _utc_us("2025-06-15T23:30:00.5"),
                _utc_us("2025-06-15T01:00:00"),
                wrong_unit,
                *[_utc_us("2025-06-15T02:00:00")] * 4,
                _utc_us("2025-06-15T05:00:00"),
                _utc_us("0001-01-01T00:00:00"),
                _utc_us("9999-12-31T23:59:59.999999"),
            ],
            "user_id": [1, 2, 3, None, 5, 6, 7, 8, 1, 2],
            "event_type": ["view", "purchase", "view", "view", "refund", "purchase", "purchase", "refund"]
            + ["add_to_cart", "view"],
            "amount": [None, Decimal("10.50"), None, None, Decimal("-1.00"), None, Decimal("3.00"), Decimal("1.00")]
            + [None, None],
            "currency": [None, "EUR", None, None, "EUR", "USD", "usd", "EUR", None, None],
        },
        {
            "event_id": pa.string(),
            "event_time": pa.timestamp("us", "UTC"),
            "user_id": pa.int64(),
            "event_type": pa.string(),
            "amount": pa.decimal128(12, 2),
            "currency": pa.string(),
        },
    )
    # Milliseconds without a zone (UTC), a decimal of scale 3 (never a valid amount), text user ids.
    _parquet(
        tmp_path / "b",
        "b.parquet",
        {
            "event_id": ["b1", "b2", "b3"],
            "event_time": [
                _utc_us(t) // 1000 for t in ("2025-06-15T10:00:00.123", "2025-06-15T10:00:00", "2025-06-15T11:00")
            ],
            "user_id": ["u1", "u2", " "],
            "event_type": ["purchase", "view", "view"],
            "amount": [Decimal("10.500"), Decimal("1.000"), None],
            "currency": ["EUR", None, None],
        },
        {
            "event_id": pa.string(),
            "event_time": pa.timestamp("ms"),
            "user_id": pa.string(),
            "event_type": pa.string(),
            "amount": pa.decimal128(10, 3),
            "currency": pa.string(),
        },
    )
    # Nanoseconds in a zone other than UTC (the instant is what counts), integer amounts.
    _parquet(
        tmp_path / "c",
        "c.parquet",
        {
            "event_id": ["c1", "c2", "c3"],
            "event_time": [_utc_us("2025-06-15T00:30:00") * 1000, _utc_us("2025-06-15T12:00:00") * 1000 + 789]
            + [_utc_us("2025-06-15T12:00:00") * 1000],
            "user_id": [7, 8, 9],
            "event_type": ["purchase", "refund", "refund"],
            "amount": [12, 0, -3],
            "currency": ["GBP", "GBP", "GBP"],
        },
        {
            "event_id": pa.string(),
            "event_time": pa.timestamp("ns", "Asia/Kolkata"),
            "user_id": pa.int64(),
            "event_type": pa.string(),
            "amount": pa.int64(),
            "currency": pa.string(),
        },
    )
    reports = {day: _reports(tmp_path / day, "parquet-native") for day in "abc"}
    for day, by_engine in reports.items():
        assert all(r == by_engine["pipeline"] for r in by_engine.values()), (day, by_engine)
    a, b, c = (reports[day]["pipeline"] for day in "abc")
    assert a["records"] == {"read": 10, "valid": 4, "rejected": 5, "duplicates": 1}
    assert a["rejected_by_reason"] == {
        "malformed_row": 0,
        "missing_field": 1,
        "invalid_event_type": 0,
        "invalid_timestamp": 1,
        "invalid_amount": 2,
        "invalid_currency": 1,
    }
    assert a["unique_users"] == 2 and a["hourly_events"] == [1, 1] + [0] * 21 + [2]
    assert a["revenue"] == {"EUR": {"gross": "10.50", "refunds": "0.00", "net": "10.50"}}
    assert b["records"] == {"read": 3, "valid": 1, "rejected": 2, "duplicates": 0}
    assert b["rejected_by_reason"]["invalid_amount"] == b["rejected_by_reason"]["missing_field"] == 1
    assert b["hourly_events"][10] == 1 and b["revenue"] == {}
    assert c["records"] == {"read": 3, "valid": 2, "rejected": 1, "duplicates": 0}
    assert c["revenue"] == {"GBP": {"gross": "12.00", "refunds": "0.00", "net": "12.00"}}
    assert c["hourly_events"][0] == c["hourly_events"][12] == 1


_T = '"event_time": "2025-06-15T10:00:00Z", "event_type": "purchase", "currency": "EUR"'
# JSON lines the double readers read exactly: strings, safe numbers, null, booleans, missing and
# extra keys, whitespace, escapes that are not surrogates, a blank line.
EXACT_JSONL = "\n".join(
    [
        '{"event_id": "j1", "user_id": "u1", "amount": 12.5, ' + _T + ', "country": "DE"}',
        '{"event_id": "j2", "user_id": "u2", "amount": 3, ' + _T + "}",
        '{"event_id": "j3", "user_id": "\\tu3 ", "amount": "7.25", "event_time": "2025-06-15T23:10:00-02:00", '
        '"event_type": "refund", "currency": "GBP"}',
        '{"event_id": "j4", "user_id": null, "event_time": "2025-06-15T10:00:00Z", "event_type": "view"}',
        '{"event_id": "j5", "user_id": "u5", "amount": "1.00", "event_time": "2025-06-15T10:00:00Z", '
        '"event_type": "purchase", "currency": true}',
        '{"event_id": "j6", "user_id": "caf\\u00e9", "event_time": "2025-06-15 04:00:00", "event_type": "view"}',
        "",
        '{"event_id": "j1", "user_id": "u9", "amount": 99.99, ' + _T + "}",
        '{"event_id": "j7", "user_id": "u7", "event_time": 20250615, "event_type": "view"}',
        '{"event_id": "j8", "user_id": "u8", "amount": 0.5, "event_time": "2025-06-15T08:00:00Z", '
        '"event_type": "Purchase", "currency": "EUR"}',
    ]
)


def test_the_four_engines_agree_on_json_lines_they_can_read_exactly(tmp_path):
    path = _write(tmp_path, "a.jsonl", EXACT_JSONL + "\n")
    assert runner.json_hazards([str(path)]) == {
        "numbers": 0,
        "nested": 0,
        "surrogate_escapes": 0,
        "repeated_keys": 0,
        "number_values": 5,
    }
    reports = _reports(tmp_path, "jsonl")
    assert all(r == reports["pipeline"] for r in reports.values()), reports
    report = reports["pipeline"]
    assert report["records"] == {"read": 9, "valid": 4, "rejected": 4, "duplicates": 1}
    assert report["rejected_by_reason"] == {
        "malformed_row": 0,
        "missing_field": 1,
        "invalid_event_type": 1,
        "invalid_timestamp": 1,
        "invalid_amount": 0,
        "invalid_currency": 1,
    }
    assert report["unique_users"] == 4 and report["hourly_events"][1] == 1 and report["hourly_events"][4] == 1
    assert report["revenue"] == {
        "EUR": {"gross": "15.50", "refunds": "0.00", "net": "15.50"},
        "GBP": {"gross": "0.00", "refunds": "7.25", "net": "-7.25"},
    }


# Amounts a double changes: 12.300 (invalid) -> 12.3, 1e3 (invalid) -> 1000, -0 (invalid) -> 0,
# 100000000000000000.01 -> 1e17; 12.30 reads 12.3, the same cents.
HAZARD_JSONL = "\n".join(
    f'{{"event_id": "n{n}", "user_id": "u{n}", "amount": {amount}, {_T}}}'
    for n, amount in enumerate(("12.300", "1e3", "-0", "100000000000000000.01", "12.30"), start=1)
)


def test_json_numbers_a_double_changes_limit_what_duckdb_and_polars_are_compared_on(tmp_path):
    path = _write(tmp_path, "a.jsonl", HAZARD_JSONL + '\n{"event_id": "n6", "user_id": "u6", ' + _T + "}\n")
    hazards = runner.json_hazards([str(path)])
    assert hazards == {"numbers": 5, "nested": 0, "surrogate_escapes": 0, "repeated_keys": 0, "number_values": 5}
    exact = runner.exact_fields(hazards)
    assert exact == (
        "records.read",
        "rejected_by_reason.missing_field",
        "rejected_by_reason.invalid_event_type",
        "rejected_by_reason.invalid_timestamp",
    )
    reports = {e: measure(e, str(tmp_path), DAY, "jsonl")["report"] for e in ("pipeline", "duckdb", "polars")}
    assert reports["pipeline"]["rejected_by_reason"]["invalid_amount"] == 4  # 12.300, 1e3, -0 and n6's missing one
    assert reports["pipeline"]["revenue"]["EUR"]["gross"] == "100000000000000012.31"
    assert reports["polars"]["rejected_by_reason"]["invalid_amount"] == 1
    assert reports["polars"]["revenue"]["EUR"]["gross"] == "100000000000001024.60"  # 12.30 + 1000 + 0 + 1e17 + 12.30
    assert reports["duckdb"]["rejected_by_reason"]["invalid_amount"] == 2  # 1e+17 as well
    assert reports["duckdb"]["revenue"]["EUR"]["gross"] == "1024.60"
    for engine in ("duckdb", "polars"):
        assert runner.differences(reports["pipeline"], reports[engine]) == [
            "records.rejected",
            "records.valid",
            "rejected_by_reason.invalid_amount",
            "events_by_type.purchase",
            "unique_users",
            "hourly_events",
            "revenue.EUR",
        ]
        assert runner.differences(reports["pipeline"], reports[engine], exact) == []


def test_what_each_hazard_leaves_comparable(tmp_path):
    lines = [
        '{"event_id": "r1", "user_id": null, "amount": "1.00", ' + _T + ', "user_id": "u1"}',  # repeated key
        '{"event_id": "s1", "user_id": "u\\ud800", "amount": "1.00", ' + _T + "}",  # lone surrogate
        '{"event_id": "x1", "user_id": [1, "2"], "amount": {"v": 1}, ' + _T + "}",  # nested
    ]
    path = _write(tmp_path, "a.jsonl.gz", "")
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    hazards = runner.json_hazards([str(path)])
    assert hazards == {"numbers": 0, "nested": 2, "surrogate_escapes": 1, "repeated_keys": 1, "number_values": 0}
    assert runner.exact_fields(hazards) == ("records.read",)
    assert runner.exact_fields({**hazards, "repeated_keys": 0}) == runner.exact_fields({"numbers": 1, "nested": 0})
    assert runner.exact_fields({**hazards, "nested": 0, "surrogate_escapes": 0, "repeated_keys": 0}) is None


def _fake_engines(monkeypatch, seconds: dict, reports: dict, hazards: dict | None):
    def run_engine(engine, root, fmt):
        result = {"engine": engine, "seconds": seconds[engine], "cpu_seconds": 1.0, "process_seconds": 9.0}
        return {**result, "files": 1, "peak_rss_bytes": 1 << 20, "report": reports[engine]}

    monkeypatch.setattr(runner, "run_engine", run_engine)
    monkeypatch.setattr(runner, "json_hazards", lambda paths: hazards)
    monkeypatch.setattr(
        runner, "generate_day", lambda *a, **k: [{"key": "k.jsonl.gz", "bytes": 10, "data_bytes": 2 << 20, "rows": 1}]
    )


def test_ratios_and_the_comparison_where_the_double_readers_cannot_be_exact(monkeypatch, capsys):
    base = {"records": {"read": 6, "valid": 3}, "rejected_by_reason": {"missing_field": 1, "invalid_amount": 2}}
    off = {"records": {"read": 6, "valid": 5}, "rejected_by_reason": {"missing_field": 1, "invalid_amount": 0}}
    reports = {"pipeline": base, "duckdb": off, "pandas": base, "polars": off}
    seconds = {"pipeline": 2.0, "duckdb": 4.0, "pandas": 10.0, "polars": 1.0}
    hazards = {"numbers": 3, "nested": 0, "surrogate_escapes": 0, "repeated_keys": 0, "number_values": 7}
    _fake_engines(monkeypatch, seconds, reports, hazards)
    assert runner.run_bench(0.001, "jsonl.gz") == 0
    printed = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(printed[-1])
    assert summary["ratios"] == {
        "pipeline_vs_duckdb": 2.0,
        "pipeline_vs_pandas": 5.0,
        "pipeline_vs_polars": 0.5,
        "pipeline_vs_fastest": 0.5,
    }
    assert summary["reports_equal"] is True
    assert summary["differences"] == {"duckdb": [], "pandas": [], "polars": []}
    exact = list(runner.exact_fields(hazards))
    assert summary["compared_on"] == {"pipeline": "all", "duckdb": exact, "pandas": "all", "polars": exact}
    assert summary["json_hazards"] == hazards
    assert summary["results"]["polars"]["mb_per_s"] == 2.0  # the gunzipped 2 MiB in 1 s
    assert summary["input"]["data_bytes"] == 2 << 20 and summary["input"]["bytes"] == 10
    assert (
        "duckdb, polars: read JSON numbers through a double and take the first of repeated keys; this day has "
        "3 number values a double may change: compared only on " + ", ".join(exact)
    ) in printed

    # Without hazards they are compared on everything; polars' off report fails the command.
    _fake_engines(monkeypatch, seconds, reports, dict.fromkeys(hazards, 0))
    assert runner.run_bench(0.001, "jsonl.gz") == 1
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["differences"]["polars"] == ["records.valid", "rejected_by_reason.invalid_amount"]
    assert summary["compared_on"]["polars"] == "all"

    # What they can read exactly still counts: a different records.read fails it.
    reports["polars"] = {**off, "records": {"read": 5, "valid": 5}}
    _fake_engines(monkeypatch, seconds, reports, hazards)
    assert runner.run_bench(0.001, "jsonl.gz") == 1
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["differences"]["polars"] == ["records.read"]
