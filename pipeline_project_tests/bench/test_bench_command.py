"""`pipeline-project bench` end to end on a tiny day, and its four engines on the contract's corners."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline_project.bench import runner
from pipeline_project.bench.engines import ENGINES, measure
from pipeline_project.bench.generate import generate_day
from pipeline_project.core.contract import ROW_REASONS

PIPELINE_PROJECT = str(Path(sys.executable).with_name("pipeline-project"))
DAY = runner.BENCH_DAY


def _require_duckdb():
    try:
        import duckdb  # noqa: F401
    except ImportError:
        pytest.fail("duckdb is not installed: run `make install` (the dev extra includes the bench extra)")


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_bench_command_reports_agree_and_last_line_is_json(fmt, tmp_path):
    _require_duckdb()
    done = subprocess.run(
        [PIPELINE_PROJECT, "bench", "--size-mb", "2", "--format", fmt, "--seed", "3", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["reports_equal"] is True
    assert summary["format"] == fmt
    assert set(summary["results"]) == set(ENGINES)
    reference = summary["results"]["pipeline"]["report"]
    for engine, result in summary["results"].items():
        assert "error" not in result, (engine, result)
        assert result["report"] == reference, engine
        assert result["seconds"] > 0 and result["mb_per_s"] > 0 and result["rows_per_s"] > 0
        assert result["peak_rss_bytes"] > 0 and result["process_seconds"] >= result["seconds"]
        assert result["files"] == summary["input"]["files"] >= 4
    assert set(summary["ratios"]) == {"pipeline_vs_duckdb", "pipeline_vs_pandas", "pipeline_vs_polars"} | {
        "pipeline_vs_fastest"
    }
    peers = [r["seconds"] for e, r in summary["results"].items() if e != "pipeline"]
    assert summary["ratios"]["pipeline_vs_fastest"] == round(min(peers) / summary["results"]["pipeline"]["seconds"], 4)
    assert summary["compared_on"] == dict.fromkeys(ENGINES, "all")
    assert summary["input"]["bytes"] >= 2 << 20
    assert summary["machine"]["cpu_count"] >= 1 and summary["machine"]["versions"]["duckdb"]
    # The day is realistic: every value-level reason, duplicates, all four types, revenue.
    records = reference["records"]
    assert records["read"] == summary["input"]["rows"]
    assert records["read"] == records["valid"] + records["rejected"] + records["duplicates"]
    assert records["duplicates"] > 0
    assert all(reference["rejected_by_reason"][r] > 0 for r in ROW_REASONS if r != "malformed_row")
    assert all(reference["events_by_type"].values()) and len(reference["revenue"]) == 3
    # The pipeline's own code path ran: it published the day's report.
    published = json.loads((tmp_path / "reports" / f"{DAY}.json").read_text())
    assert published["records"] == records


def test_generation_is_deterministic_by_seed(tmp_path):
    def files(root, seed):
        generate_day(root, DAY, "csv", 1 << 20, seed, log=lambda _: None)
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(Path(root).rglob("*")) if p.is_file()}

    first, again, other = files(tmp_path / "a", 7), files(tmp_path / "b", 7), files(tmp_path / "c", 8)
    assert first == again
    assert first.keys() == other.keys() and first != other
    assert f"raw-data/{DAY}/_SUCCESS" in first
    assert sum(len(v) for v in first.values()) >= 1 << 20


def test_a_disagreement_fails_the_command(monkeypatch, capsys):
    def fake(engine, root, fmt):
        report = {"records": {"read": 1}, "unique_users": 1 if engine != "pandas" else 2}
        result = {"engine": engine, "seconds": 1.0, "cpu_seconds": 1.0, "process_seconds": 2.0, "files": 1}
        return {**result, "peak_rss_bytes": 1, "report": report}

    monkeypatch.setattr(runner, "run_engine", fake)
    monkeypatch.setattr(
        runner, "generate_day", lambda *a, **k: [{"key": "k", "bytes": 10, "data_bytes": 10, "rows": 1}]
    )
    assert runner.run_bench(0.001) == 1
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["reports_equal"] is False
    assert summary["differences"] == {"duckdb": [], "pandas": ["unique_users"], "polars": []}


CORNERS = (
    "event_id,event_time,user_id,event_type,amount,currency\n"
    "a1,2025-06-15T23:30:00-02:00,u1,view,,\n"  # 01:xx UTC next day: hour 1
    "a2,2025-06-15T00:30:00+23:59,u2,purchase,10,EUR\n"  # hour 0 - 23:59 -> previous day 00:31 -> hour 0
    "a3,2024-02-29 12:00:00,u3,refund,0.5,EUR\n"  # leap day, space, no zone
    "a4,2025-02-29T12:00:00Z,u4,view,,\n"  # not a real day
    "a5,0000-01-01T00:00:00Z,u5,view,,\n"  # year 0
    "a6,2025-06-15T10:00:00.1234567890Z,u6,view,,\n"  # 10 fraction digits
    "a7,2025-06-15T10:00:00.123456789Z, u7 ,  add_to_cart ,,\n"  # 9 digits; whitespace ignored
    "a8,2025-06-15T10:00:00+24:00,u8,view,,\n"  # offset out of range
    "a9,2025-06-15T10:00:60Z,u9,view,,\n"  # leap second
    "b1,2025-06-15T10:00:00Z,,checkout,,\n"  # missing_field before invalid_event_type
    "b2,2025-06-15T10:00:00Z,u1,Refund,1.00,USD\n"  # case-sensitive type
    "b3,2025-06-15T10:00:00Z,u1,purchase,1.001,usd\n"  # invalid_amount before invalid_currency
    "b4,2025-06-15T10:00:00Z,u1,refund,+1.00,USD\n"  # a sign is invalid
    "b5,2025-06-15T10:00:00Z,u1,purchase,1.00,US\n"
    "b6,2025-06-15T10:00:00Z,u1,view,abc,zz\n"  # amount/currency not checked for view
    "c1,yesterday,u1,view,,\n"  # rejected: does not take part in duplicates
    "c1,2025-06-15T05:00:00Z,u1,purchase,3.10,GBP\n"  # first valid c1: kept
    "c1,2025-06-15T06:00:00Z,u2,refund,9.99,GBP\n"  # duplicate
    "  ,2025-06-15T06:00:00Z,u2,view,,\n"  # whitespace-only id: missing_field
)
LATER = "event_id,event_time,user_id,event_type,amount,currency,country\nc1,2025-06-15T07:00:00Z,u3,view,,,US\n"
EARLIER = "currency,amount,event_type,user_id,event_time,event_id\nUSD,5,purchase,u9,2025-06-15T08:00:00Z,d1\n"


def test_the_four_engines_agree_on_the_contracts_corners(tmp_path):
    _require_duckdb()
    base = tmp_path / "raw-data" / DAY
    (base / "b").mkdir(parents=True)
    (base / "b" / "corners.csv").write_text(CORNERS)
    (base / "c.csv").write_text(LATER)  # after b/ in key order: its c1 is a duplicate
    (base / "a.csv").write_text(EARLIER)  # before b/ in key order; its own column order
    reports = {engine: measure(engine, str(tmp_path), DAY, "csv")["report"] for engine in ENGINES}
    assert reports["duckdb"] == reports["pipeline"]
    assert reports["pandas"] == reports["pipeline"]
    assert reports["polars"] == reports["pipeline"]
    report = reports["pipeline"]
    assert report["rejected_by_reason"] == {
        "malformed_row": 0,
        "missing_field": 2,
        "invalid_event_type": 1,
        "invalid_timestamp": 6,
        "invalid_amount": 2,
        "invalid_currency": 1,
    }
    assert report["records"] == {"read": 21, "valid": 7, "rejected": 12, "duplicates": 2}
    assert report["hourly_events"][:13] == [1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 2, 0, 1]
    assert report["revenue"] == {
        "EUR": {"gross": "10.00", "refunds": "0.50", "net": "9.50"},
        "GBP": {"gross": "3.10", "refunds": "0.00", "net": "3.10"},
        "USD": {"gross": "5.00", "refunds": "0.00", "net": "5.00"},
    }
