"""The hostile corpus (corpus.py): each file alone in a day, then all of them in one day, on a local
folder and through the S3 API. Exact report, exact quarantine, and agreement with the independent
reference oracle. Then a gzip bomb, run in a child process to measure its peak memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib

import pytest

from pipeline_project.daily import NoDataError, compute_day, publish_day
from pipeline_project.storage import Storage, open_storage
from pipeline_project_tests.conftest import land
from pipeline_project_tests.core.reference import reference_day, report_numbers
from pipeline_project_tests.reliability.corpus import (
    CORPUS,
    DAY,
    HEADER,
    MAX_FILE_BYTES,
    RAW,
    Entry,
    Q,
    expected_numbers,
    gzip_bomb,
)

REPORT = f"reports/{DAY}.json"
ROWS_KEY = f"{Q}rejected_rows.jsonl"
FILES_KEY = f"{Q}quarantined_files.jsonl"


def backend(storage: Storage) -> str:
    return "s3" if storage.url.startswith("s3://") else "local"


def run_day(storage: Storage, max_file_bytes: int = MAX_FILE_BYTES) -> dict:
    outcome = compute_day(storage, DAY, "run-corpus", max_file_bytes)
    assert publish_day(storage, outcome) == REPORT
    report = json.loads(storage.read_bytes(REPORT))
    assert report == outcome.report
    return report


def jsonl(data: bytes | None) -> list[dict]:
    if data is None:
        return []
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.decode("utf-8").split("\n")[:-1]]


def check_day(storage: Storage, entries: list[Entry], report: dict) -> None:
    """Everything the report and the quarantine must say about these entries, exactly."""
    expected = expected_numbers(entries)
    assert report_numbers(report) == expected.numbers
    listed = {o.key: o for o in storage.list_objects(RAW)}
    considered = sorted((e for e in entries if e.status != "ignored"), key=lambda e: e.key)
    by_name = {e.name: e for e in considered}

    # inputs: one entry per considered file, in key order, every field
    want_inputs = []
    for entry in considered:
        obj = listed[entry.key]
        read, valid, rejected, duplicates = expected.per_file[entry.name]
        is_quarantined = entry.status == "quarantined"
        want_inputs.append(
            {
                "key": entry.key,
                "format": entry.format,
                "size_bytes": len(entry.data),
                "etag": obj.etag,
                "version_id": obj.version_id,
                "status": entry.status,
                "reason": entry.reason,
                "detail": report["inputs"][len(want_inputs)]["detail"] if is_quarantined else None,
                "records_read": read,
                "records_valid": valid,
                "records_rejected": rejected,
                "records_duplicates": duplicates,
                "quarantine_key": f"{Q}files/{entry.name}" if is_quarantined else None,
            }
        )
    assert report["inputs"] == want_inputs
    for item in report["inputs"]:
        assert (item["version_id"] is not None) == (backend(storage) == "s3")
        if item["status"] == "quarantined":
            assert isinstance(item["detail"], str) and item["detail"].strip()
    quarantined = [e for e in considered if e.status == "quarantined"]
    assert report["files"] == {
        "considered": len(considered),
        "processed": len(considered) - len(quarantined),
        "quarantined": len(quarantined),
    }
    assert report["quarantine"] == {
        "prefix": Q,
        "rows_key": ROWS_KEY if expected.rejected_rows else None,
        "files_key": FILES_KEY if quarantined else None,
    }

    # rejected_rows.jsonl: key, version, row number, reason and the original text of each rejected row
    raw_rows = storage.read_bytes(ROWS_KEY)
    assert (raw_rows is not None) == bool(expected.rejected_rows)
    got_rows = jsonl(raw_rows)
    for line in got_rows:
        if by_name[line["key"].removeprefix(RAW)].format == "parquet":
            line["content"] = json.loads(line["content"])  # a JSON object; its spacing is free
    assert got_rows == [
        {
            "key": RAW + name,
            "version_id": listed[RAW + name].version_id,
            "row_number": row_number,
            "reason": reason,
            "content": content,
        }
        for name, row_number, reason, content in expected.rejected_rows
    ]
    if raw_rows:  # non-ASCII is written as is, not escaped
        for text, (_name, _row, _reason, content) in zip(
            raw_rows.decode().split("\n"), expected.rejected_rows, strict=False
        ):
            shown = json.dumps(content, ensure_ascii=False) if isinstance(content, dict) else content
            assert all(ch in text for ch in shown if ord(ch) > 127 and not 0xD800 <= ord(ch) <= 0xDFFF)

    # quarantined files: a byte-for-byte copy of each and a manifest line, nothing else
    manifest = jsonl(storage.read_bytes(FILES_KEY))
    assert manifest == [
        {
            "key": e.key,
            "version_id": listed[e.key].version_id,
            "etag": listed[e.key].etag,
            "reason": e.reason,
            "detail": next(i["detail"] for i in report["inputs"] if i["key"] == e.key),
            "quarantine_key": f"{Q}files/{e.name}",
        }
        for e in quarantined
    ]
    copies = storage.list_objects(f"{Q}files/")
    assert [o.key for o in copies] == [f"{Q}files/{e.name}" for e in quarantined]
    for entry in quarantined:
        assert storage.read_bytes(f"{Q}files/{entry.name}") == entry.data

    # the independent oracle agrees, row by row
    reference = reference_day({e.name: e.data for e in entries}, max_bytes=MAX_FILE_BYTES)
    reference_rows = reference.pop("rejected_rows")
    assert report_numbers(report) == reference
    # (reference.quarantined_rows splits with str.splitlines, which also cuts at U+2028 / U+0085
    # inside a content; the file's lines end with LF only, so split on LF here.)
    assert [(line["key"].removeprefix(RAW), line["row_number"], line["reason"]) for line in got_rows] == reference_rows


# --------------------------------------------------------------------------- the corpus itself


def test_the_corpus_is_consistent():
    """Each entry's declared valid/duplicate labels are what dedup within the file gives; rows are in order."""
    for entry in CORPUS:
        assert entry.status in ("processed", "quarantined", "ignored"), entry.name
        if entry.status != "processed":
            assert not entry.rows, entry.name
            continue
        numbers = [r.row_number for r in entry.rows]
        assert numbers == sorted(set(numbers)) and (not numbers or numbers[0] >= 1), entry.name
        declared = [(r.row_number, r.outcome) for r in entry.rows]
        assert expected_numbers([entry]).outcomes[entry.name] == declared, entry.name
        for row in entry.rows:
            assert (row.content is not None) == (row.outcome not in ("valid", "duplicate")), (entry.name, row)
            assert (row.event is None) == (row.content is not None), (entry.name, row)
    # Everything the issue lists is in it (a few spot checks on the names).
    names = {e.name for e in CORPUS}
    for must in ("_SUCCESS", "sub/../evil.csv", "names/$(touch x).csv", "names/%s%n{0}.csv", "names/a;rm -rf.csv"):
        assert must in names
    reasons = {e.reason for e in CORPUS} | {r.outcome for e in CORPUS for r in e.rows}
    assert reasons >= {
        "unsupported_format",
        "unreadable_file",
        "missing_columns",
        "too_large",
        "malformed_row",
        "missing_field",
        "invalid_event_type",
        "invalid_timestamp",
        "invalid_amount",
        "invalid_currency",
        "valid",
        "duplicate",
    }


# --------------------------------------------------------------------------- each entry alone


# Keys only S3 can hold (".." segments, "folder/" objects) run on S3 alone.
@pytest.mark.parametrize(
    ("kind", "entry"),
    [(kind, e) for e in CORPUS for kind in ("local", "s3") if kind in e.backends],
    ids=[f"{kind}-{e.name}" for e in CORPUS for kind in ("local", "s3") if kind in e.backends],
)
def test_each_entry_alone_in_a_day(request, kind, entry):
    lake = open_storage(request.getfixturevalue(f"{kind}_url"))
    land(lake, DAY, {entry.name: entry.data})
    if entry.status == "ignored":
        # The only object is a marker or temporary file: the day has no data, and no report is written.
        with pytest.raises(NoDataError) as info:
            compute_day(lake, DAY, "run-corpus", MAX_FILE_BYTES)
        assert DAY in str(info.value) and lake.location(RAW) in str(info.value)
        assert lake.read_bytes(REPORT) is None
        assert lake.list_objects("quarantine/") == []
        return
    report = run_day(lake)
    assert report["partition"] == DAY and report["run_id"] == "run-corpus"
    check_day(lake, [entry], report)


# --------------------------------------------------------------------------- the whole corpus in one day


def test_whole_corpus_in_one_day(lake, tmp_path, monkeypatch):
    entries = [e for e in CORPUS if backend(lake) in e.backends]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # `$(touch x).csv` and friends must not run anything here
    land(lake, DAY, {e.name: e.data for e in entries})
    report = run_day(lake)
    check_day(lake, entries, report)
    # Cross-file duplicates: x-shared counts once, x-first-invalid (invalid first) and
    # x-quarantined / x-temp (first seen in a quarantined or ignored file) are valid once.
    day = expected_numbers(entries)

    def outcome(name: str, event_id: str) -> list[str]:
        entry = next(e for e in entries if e.name == name)
        numbers = [r.row_number for r in entry.rows if r.event is not None and r.event.event_id == event_id]
        return [o for n, o in day.outcomes[name] if n in numbers]

    assert outcome("csv/basic.csv", "x-shared") == ["valid"]
    assert outcome("csv/bom crlf.csv", "x-shared") == ["duplicate"]
    assert outcome("json/numbers.jsonl", "x-shared") == ["duplicate"]
    assert outcome("json/shapes.jsonl", "x-first-invalid") == ["valid"]
    assert outcome("pq/strings.parquet", "x-first-invalid") == ["duplicate"]
    assert outcome("names/web events \u00fc.csv", "x-quarantined") == ["valid"]
    assert outcome("z/late.jsonl", "x-temp") == ["valid"]
    assert outcome("big/at limit.csv.gz", "L000000") == ["duplicate"]
    # The totals, pinned.
    assert report["records"] == {"read": 54055, "valid": 26988, "rejected": 168, "duplicates": 26899}
    assert report["files"] == {"considered": 84, "processed": 49, "quarantined": 35}
    assert list(cwd.iterdir()) == []


# --------------------------------------------------------------------------- a gzip bomb

BOMB_LIMIT = 4 << 20
BOMB_BLOCK = 4 << 20
BOMB_REPEATS = 256  # 1 GiB of rows
CHILD = """
import json, resource, sys
from pipeline_project.daily import compute_day, publish_day
from pipeline_project.storage import open_storage

url, day, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
storage = open_storage(url)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcome = compute_day(storage, day, "run-bomb", limit)
publish_day(storage, outcome)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kib": before, "peak_kib": peak}))
"""


def test_gzip_bomb_is_too_large_and_memory_stays_flat(lake_url):
    row = b"bomb,2025-03-09T10:00:00Z,user-0000000000001,purchase,10.00,USD\n"
    assert len(row) == 64
    head = (HEADER + "\n").encode()
    bomb = gzip_bomb(row * (BOMB_BLOCK // len(row)), BOMB_REPEATS, head)
    expanded = len(head) + BOMB_BLOCK * BOMB_REPEATS
    assert expanded > 1 << 30
    assert len(bomb) < BOMB_LIMIT  # so the stored size passes and only the expansion can stop it
    # It really is a gzip file of that size (streamed, never held).
    inflate, total, rest = zlib.decompressobj(31), 0, bomb
    while rest:
        total += len(inflate.decompress(rest, 1 << 20))
        rest = inflate.unconsumed_tail
    assert inflate.eof and total + len(inflate.flush()) == expanded

    storage = open_storage(lake_url)
    good = (HEADER + "\ng1,2025-03-09T10:00:00Z,u1,purchase,1.25,USD\n").encode()
    land(storage, DAY, {"bomb.csv.gz": bomb, "good.csv": good})
    # Linux carries ru_maxrss across exec: a child exec'd straight from this (large) test process
    # would start at our peak. A small shell in between forks the child afresh, so its ru_maxrss is
    # its own ("; exit" keeps the shell from exec'ing the command in place).
    child = subprocess.run(
        ["/bin/sh", "-c", '"$@"; exit $?', "sh", sys.executable, "-c", CHILD, lake_url, DAY, str(BOMB_LIMIT)],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )
    assert child.returncode == 0, child.stderr[-3000:]
    usage = json.loads(child.stdout.strip().splitlines()[-1])
    peak_bytes = usage["peak_kib"] * 1024  # ru_maxrss is in KiB on Linux
    assert peak_bytes < 300 * 10**6, usage  # far below the 1 GiB it expands to
    assert peak_bytes - usage["before_kib"] * 1024 < 100 * 10**6, usage

    report = json.loads(storage.read_bytes(REPORT))
    bomb_entry, good_entry = report["inputs"]
    assert (bomb_entry["key"], bomb_entry["status"], bomb_entry["reason"]) == (
        f"{RAW}bomb.csv.gz",
        "quarantined",
        "too_large",
    )
    assert bomb_entry["records_read"] == bomb_entry["records_valid"] == 0
    assert bomb_entry["quarantine_key"] == f"{Q}files/bomb.csv.gz"
    assert (good_entry["status"], good_entry["records_valid"]) == ("processed", 1)
    assert report["records"] == {"read": 1, "valid": 1, "rejected": 0, "duplicates": 0}
    assert report["revenue"] == {"USD": {"gross": "1.25", "refunds": "0.00", "net": "1.25"}}
    assert storage.read_bytes(f"{Q}files/bomb.csv.gz") == bomb
    assert [(m["key"], m["reason"]) for m in jsonl(storage.read_bytes(FILES_KEY))] == [
        (f"{RAW}bomb.csv.gz", "too_large")
    ]


def _peak_delta(url: str, day: str, limit: int) -> int:
    """Bytes of peak RSS compute_day + publish_day add over the child's state after its imports."""
    # The shell in between: see test_gzip_bomb_is_too_large_and_memory_stays_flat.
    child = subprocess.run(
        ["/bin/sh", "-c", '"$@"; exit $?', "sh", sys.executable, "-c", CHILD, url, day, str(limit)],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )
    assert child.returncode == 0, child.stderr[-3000:]
    usage = json.loads(child.stdout.strip().splitlines()[-1])
    return (usage["peak_kib"] - usage["before_kib"]) * 1024


NEWLINE_BOMB_LIMIT = 8 << 20  # PIPELINE_MAX_FILE_BYTES=8388608, as the issue tried it
NEWLINE_BOMB_BLOCK = 1 << 20
NEWLINE_BOMB_REPEATS = 256  # a header and 256 MiB of empty lines, about 1 MB compressed


@pytest.mark.orchestration
def test_a_bomb_of_empty_lines_costs_a_few_mib_above_the_day_without_it(tmp_path):
    """Empty lines are no rows, but each is a line of a block: a block of millions of them must
    not cost memory per line. Deciding that the file is too large at 8 MiB costs at most a few
    MiB above the same day without the file."""
    head = (HEADER + "\n").encode()
    bomb = gzip_bomb(b"\n" * NEWLINE_BOMB_BLOCK, NEWLINE_BOMB_REPEATS, head)
    assert len(bomb) < 2 << 20
    good = (HEADER + "\ng1,2025-03-09T10:00:00Z,u1,purchase,1.25,USD\n").encode()
    plain_url, bomb_url = str(tmp_path / "plain"), str(tmp_path / "bombed")
    land(open_storage(plain_url), DAY, {"good.csv": good})
    land(open_storage(bomb_url), DAY, {"good.csv": good, "newlines.csv.gz": bomb})

    plain = min(_peak_delta(plain_url, DAY, NEWLINE_BOMB_LIMIT) for _ in range(2))
    bombed = min(_peak_delta(bomb_url, DAY, NEWLINE_BOMB_LIMIT) for _ in range(2))
    print(f"peak RSS over imports: plain day {plain / 2**20:.1f} MiB, with the bomb {bombed / 2**20:.1f} MiB")
    assert bombed - plain <= 8 << 20, (plain, bombed)

    report = json.loads(open_storage(bomb_url).read_bytes(REPORT))
    (bomb_entry,) = [e for e in report["inputs"] if e["key"].endswith("newlines.csv.gz")]
    assert (bomb_entry["status"], bomb_entry["reason"]) == ("quarantined", "too_large")
    assert report["records"] == {"read": 1, "valid": 1, "rejected": 0, "duplicates": 0}
