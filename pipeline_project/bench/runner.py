"""`pipeline-project bench`: generate one day of raw data, compute its report four ways, compare.

Each engine runs in its own process (`python -m pipeline_project.bench.engines`), so its peak RSS
is its own. The timings are the engine's work (its imports excluded); the process wall time,
interpreter start included, is reported beside it. The last line printed is one JSON object.

DuckDB's and polars' JSON readers take numbers through a double and the first of repeated keys;
on JSON lines the runner counts what in the day they cannot read exactly (json_hazards) and, when
there is any, compares them only on the report fields those values cannot reach.
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline_project.bench.engines import ENGINES, FIELDS, NUMBERS, kind
from pipeline_project.bench.generate import GENERATOR_VERSION, generate_day

BENCH_DAY = "2025-06-15"
MANIFEST = "bench-manifest.json"
MIB = 1 << 20
_PACKAGES = ("pipeline-project", "dagster", "pandas", "pyarrow", "numpy", "duckdb", "polars")
DOUBLE_READERS = ("duckdb", "polars")
_KEY = "(?:" + "|".join(FIELDS) + ")"
# A number a double keeps as written, and that both readers print back the same way: no exponent,
# no trailing zero, no -0, at most 15 significant digits.
_SAFE_NUMBER = r"(?:-?[1-9][0-9]{0,14}|0|-?(?:0|[1-9][0-9]{0,6})\.[0-9]{0,7}[1-9])"
_NUMBER_VALUE = rf'"{_KEY}"\s*:\s*-?[0-9]'
_HAZARD_PATTERNS = {
    "numbers": (_NUMBER_VALUE, rf'"{_KEY}"\s*:\s*{_SAFE_NUMBER}\s*[,}}]'),
    "nested": (rf'"{_KEY}"\s*:\s*[\[{{]', None),
    "surrogate_escapes": (r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}", None),
}
# A line none of those can be in: blank, or a flat object of simple keys whose values are strings
# without surrogate escapes, safe numbers, null, true or false. Only the other lines are searched.
_PLAIN_STRING = r'"(?:[^"\\]|\\[^u]|\\u(?:[0-9a-cA-CeEfF][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}))*"'
_PLAIN_PAIR = rf'"[^"\\]*"\s*:\s*(?:{_PLAIN_STRING}|{_SAFE_NUMBER}|null|true|false)'
_PLAIN_LINE = rf"^\s*(?:\{{\s*(?:{_PLAIN_PAIR}(?:\s*,\s*{_PLAIN_PAIR})*)?\s*\}}\s*)?$"
# RE2 has no back-references: one alternative per field.
_REPEATED_KEY = "|".join(rf'"{k}"\s*:.*"{k}"\s*:' for k in FIELDS)
# The report fields each hazard cannot reach. A number, a nested value or a surrogate read
# otherwise is never missing, a valid type or a valid timestamp either way; a repeated key may
# hold null first and a value last.
_EXACT_DESPITE = {
    "numbers": (
        "records.read",
        "rejected_by_reason.missing_field",
        "rejected_by_reason.invalid_event_type",
        "rejected_by_reason.invalid_timestamp",
    ),
    "repeated_keys": ("records.read",),
}
_EXACT_DESPITE["nested"] = _EXACT_DESPITE["surrogate_escapes"] = _EXACT_DESPITE["numbers"]
_HAZARD_NAMES = {
    "numbers": "number values a double may change",
    "nested": "nested values",
    "surrogate_escapes": "surrogate escapes",
    "repeated_keys": "lines repeating a key",
}


def machine() -> dict:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    memory = None
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cpu_count": os.cpu_count(),
        "memory_bytes": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def prepare_input(root: Path, fmt: str, size_mb: float, seed: int, log=print) -> dict:
    """The day's files under root, generated, or reused when root already holds exactly them."""
    wanted = {
        "generator_version": GENERATOR_VERSION,
        "day": BENCH_DAY,
        "format": fmt,
        "seed": seed,
        "size_bytes": int(size_mb * MIB),
    }
    manifest_path = root / MANIFEST
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if {k: manifest.get(k) for k in wanted} == wanted and all(
            "data_bytes" in f and (root / f["key"]).is_file() and (root / f["key"]).stat().st_size == f["bytes"]
            for f in manifest["files"]
        ):
            log(f"reusing {len(manifest['files'])} {fmt} files in {root / 'raw-data' / BENCH_DAY}")
            return {**manifest, "generated_seconds": None, "reused": True}
    shutil.rmtree(root / "raw-data" / BENCH_DAY, ignore_errors=True)
    manifest_path.unlink(missing_ok=True)
    log(f"generating {size_mb:g} MiB of {fmt} for {BENCH_DAY} (seed {seed}) in {root / 'raw-data' / BENCH_DAY}")
    started = time.perf_counter()
    files = generate_day(root, BENCH_DAY, fmt, wanted["size_bytes"], seed, log=log)
    seconds = time.perf_counter() - started
    manifest = {**wanted, "files": files}
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return {**manifest, "generated_seconds": seconds, "reused": False}


def run_engine(engine: str, root: Path, fmt: str) -> dict:
    command = [sys.executable, "-m", "pipeline_project.bench.engines", engine, str(root), BENCH_DAY, fmt]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    process_seconds = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if "No module named 'duckdb'" in done.stderr:
            tail += " (install the bench extra: make install, or pip install -c constraints.txt -e '.[bench]')"
        return {"engine": engine, "error": f"exit {done.returncode}: {tail}", "process_seconds": process_seconds}
    result = json.loads(lines[-1])
    result["process_seconds"] = process_seconds
    return result


def _lines(data: bytes) -> pa.Array:
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + 1
    if not len(ends) or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    return pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(data))


def json_hazards(paths: list[str]) -> dict:
    """What in these JSON lines DuckDB's and polars' readers cannot read as the contract does: number
    values of the six fields that a double may change (12.30, 1e3, -0), nested values (rendered
    otherwise), surrogate escapes (a lone one is kept by the contract), lines repeating a field's key
    (the contract takes the last). Counted on the raw text, so a key inside a string counts too.
    Three regex passes a file (Arrow's RE2 releases the GIL: two files at a time)."""

    def count(lines: pa.Array, pattern: str) -> int:
        return pc.sum(pc.count_substring_regex(lines, pattern)).as_py() or 0

    def one(path: str) -> dict:
        with (gzip.open if path.endswith(".gz") else open)(path, "rb") as stream:
            lines = _lines(stream.read())
        found = {"number_values": count(lines, _NUMBER_VALUE)}
        found["repeated_keys"] = pc.sum(pc.match_substring_regex(lines, _REPEATED_KEY)).as_py() or 0
        suspects = lines.filter(pc.invert(pc.match_substring_regex(lines, _PLAIN_LINE)))
        for name, (pattern, safe) in _HAZARD_PATTERNS.items():
            found[name] = count(suspects, pattern) - (count(suspects, safe) if safe else 0)
        return found

    totals = dict.fromkeys(("numbers", "nested", "surrogate_escapes", "repeated_keys", "number_values"), 0)
    with ThreadPoolExecutor(2) as pool:
        for found in pool.map(one, paths):
            totals = {name: totals[name] + found[name] for name in totals}
    return totals


def exact_fields(hazards: dict | None) -> tuple[str, ...] | None:
    """The dotted report fields a double reader gets right on a day with these hazards; None: all."""
    present = [name for name in _EXACT_DESPITE if hazards and hazards.get(name)]
    if not present:
        return None
    return tuple(f for f in _EXACT_DESPITE[present[0]] if all(f in _EXACT_DESPITE[p] for p in present))


def differences(reference: dict, other: dict, only: tuple[str, ...] | None = None) -> list[str]:
    """The report fields on which two engines disagree (dotted paths, one level deep); only: just these."""
    found = []
    for name in NUMBERS:
        a, b = reference.get(name), other.get(name)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            found += [f"{name}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        else:
            found.append(name)
    return found if only is None else [f for f in found if f in only]


def _table(results: dict) -> list[str]:
    lines = [
        f"{'engine':<10}{'seconds':>10}{'cpu s':>9}{'MB/s':>9}{'rows/s':>12}{'peak RSS MB':>13}{'process s':>11}",
    ]
    for engine, r in results.items():
        if "error" in r:
            lines.append(f"{engine:<10}  FAILED: {r['error']}")
            continue
        lines.append(
            f"{engine:<10}{r['seconds']:>10.2f}{r['cpu_seconds']:>9.2f}{r['mb_per_s']:>9.1f}{r['rows_per_s']:>12,.0f}"
            f"{r['peak_rss_bytes'] / MIB:>13,.0f}{r['process_seconds']:>11.2f}"
        )
    return lines


def run_bench(
    size_mb: float,
    fmt: str = "csv",
    seed: int = 0,
    workdir: str | None = None,
    engines: tuple[str, ...] = ENGINES,
    out=print,
) -> int:
    """Prints progress, a table, the ratios and, last, one JSON line; 0 when the reports agree."""
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise ValueError(f"engines must be among {', '.join(ENGINES)}")
    temporary = workdir is None
    root = Path(tempfile.mkdtemp(prefix="pipeline-bench-") if temporary else workdir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    load_start = _loadavg()
    try:
        data = prepare_input(root, fmt, size_mb, seed, log=out)
        size_bytes = sum(f["bytes"] for f in data["files"])
        # Throughput counts what the engines read: a gzipped file's text.
        data_bytes = sum(f["data_bytes"] for f in data["files"])
        rows = sum(f["rows"] for f in data["files"])
        gunzipped = (
            f" ({data_bytes:,} bytes gunzipped, {data_bytes / MIB:,.1f} MiB)" if data_bytes != size_bytes else ""
        )
        out(
            f"input: {len(data['files'])} files, {size_bytes:,} bytes ({size_bytes / MIB:,.1f} MiB){gunzipped}, "
            f"{rows:,} rows"
        )
        hazards = None
        if kind(fmt) == "jsonl" and any(e in DOUBLE_READERS for e in engines):
            hazards = json_hazards([str(root / f["key"]) for f in data["files"]])
        results = {}
        for engine in engines:
            out(f"running {engine} in its own process ...")
            r = run_engine(engine, root, fmt)
            if "error" not in r:
                r["mb_per_s"] = data_bytes / MIB / r["seconds"] if r["seconds"] else None
                r["rows_per_s"] = rows / r["seconds"] if r["seconds"] else None
                r["peak_rss_mb"] = round(r["peak_rss_bytes"] / MIB, 1)
            results[engine] = r
    finally:
        if temporary:
            shutil.rmtree(root, ignore_errors=True)

    ok = {e: r for e, r in results.items() if "error" not in r}
    reference_engine = next(iter(ok), None)
    exact = exact_fields(hazards)
    compared_on = {e: list(exact) if e in DOUBLE_READERS and exact else "all" for e in results}
    diffs = {}
    if reference_engine is not None:
        for engine, r in ok.items():
            if engine != reference_engine:
                only = exact if engine in DOUBLE_READERS or reference_engine in DOUBLE_READERS else None
                diffs[engine] = differences(ok[reference_engine]["report"], r["report"], only)
    reports_equal = len(ok) == len(results) and all(not d for d in diffs.values())
    ratios = {}
    if "pipeline" in ok:
        # Throughput ratio: above 1 the pipeline is faster.
        for other in ("duckdb", "pandas", "polars"):
            if other in ok:
                ratios[f"pipeline_vs_{other}"] = round(ok[other]["seconds"] / ok["pipeline"]["seconds"], 4)
        peers = [r["seconds"] for e, r in ok.items() if e != "pipeline"]
        if peers:
            ratios["pipeline_vs_fastest"] = round(min(peers) / ok["pipeline"]["seconds"], 4)

    out("")
    for line in _table(results):
        out(line)
    out("")
    for name, value in ratios.items():
        verdict = "pipeline faster" if value >= 1 else "pipeline slower"
        out(f"throughput {name.replace('_vs_', '/')}: {value:.3f} ({verdict})")
    if hazards is not None:
        readers = ", ".join(e for e in DOUBLE_READERS if e in results)
        if exact:
            counts = ", ".join(f"{hazards[name]:,} {what}" for name, what in _HAZARD_NAMES.items() if hazards[name])
            out(
                f"{readers}: read JSON numbers through a double and take the first of repeated keys; this day has "
                f"{counts}: compared only on {', '.join(exact)}"
            )
        else:
            out(
                f"{readers}: read JSON numbers through a double and take the first of repeated keys; none of this "
                f"day's {hazards['number_values']:,} number values changes through one, and it has no nested value, "
                "surrogate escape or repeated key: compared on every field"
            )
    for engine, d in diffs.items():
        if d:
            out(f"{engine} disagrees with {reference_engine} on: {', '.join(d)}")
    out(f"reports equal: {'yes' if reports_equal else 'NO'} (compared: {', '.join(ok) or 'none'})")
    summary = {
        "benchmark": "pipeline-project bench",
        "reports_equal": reports_equal,
        "format": fmt,
        "seed": seed,
        "day": BENCH_DAY,
        "size_mb_requested": size_mb,
        "input": {
            "files": len(data["files"]),
            "bytes": size_bytes,
            "mib": round(size_bytes / MIB, 2),
            "data_bytes": data_bytes,
            "rows": rows,
            "generated_seconds": data["generated_seconds"],
            "reused": data["reused"],
        },
        "results": results,
        "ratios": ratios,
        "differences": diffs,
        "json_hazards": hazards,
        "compared_on": compared_on,
        "machine": {**machine(), "loadavg_start": load_start, "loadavg_end": _loadavg()},
        "workdir": None if temporary else str(root),
    }
    out(json.dumps(summary, sort_keys=False))
    return 0 if reports_equal else 1
