"""`pipeline-project bench`: generate one day of raw data, compute its report three ways, compare.

Each engine runs in its own process (`python -m pipeline_project.bench.engines`), so its peak RSS
is its own. The timings are the engine's work (its imports excluded); the process wall time,
interpreter start included, is reported beside it. The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from pipeline_project.bench.engines import ENGINES, NUMBERS
from pipeline_project.bench.generate import GENERATOR_VERSION, generate_day

BENCH_DAY = "2025-06-15"
MANIFEST = "bench-manifest.json"
MIB = 1 << 20
_PACKAGES = ("pipeline-project", "dagster", "pandas", "pyarrow", "numpy", "duckdb")


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
            (root / f["key"]).is_file() and (root / f["key"]).stat().st_size == f["bytes"] for f in manifest["files"]
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


def differences(reference: dict, other: dict) -> list[str]:
    """The report fields on which two engines disagree (dotted paths, one level deep)."""
    found = []
    for name in NUMBERS:
        a, b = reference.get(name), other.get(name)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            found += [f"{name}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        else:
            found.append(name)
    return found


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
        rows = sum(f["rows"] for f in data["files"])
        out(f"input: {len(data['files'])} files, {size_bytes:,} bytes ({size_bytes / MIB:,.1f} MiB), {rows:,} rows")
        results = {}
        for engine in engines:
            out(f"running {engine} in its own process ...")
            r = run_engine(engine, root, fmt)
            if "error" not in r:
                r["mb_per_s"] = size_bytes / MIB / r["seconds"] if r["seconds"] else None
                r["rows_per_s"] = rows / r["seconds"] if r["seconds"] else None
                r["peak_rss_mb"] = round(r["peak_rss_bytes"] / MIB, 1)
            results[engine] = r
    finally:
        if temporary:
            shutil.rmtree(root, ignore_errors=True)

    ok = {e: r for e, r in results.items() if "error" not in r}
    reference_engine = next(iter(ok), None)
    diffs = {}
    if reference_engine is not None:
        for engine, r in ok.items():
            if engine != reference_engine:
                diffs[engine] = differences(ok[reference_engine]["report"], r["report"])
    reports_equal = len(ok) == len(results) and all(not d for d in diffs.values())
    ratios = {}
    for other in ("duckdb", "pandas"):
        if "pipeline" in ok and other in ok:
            # Throughput ratio: above 1 the pipeline is faster.
            ratios[f"pipeline_vs_{other}"] = round(ok[other]["seconds"] / ok["pipeline"]["seconds"], 4)

    out("")
    for line in _table(results):
        out(line)
    out("")
    for name, value in ratios.items():
        verdict = "pipeline faster" if value >= 1 else "pipeline slower"
        out(f"throughput {name.replace('_vs_', '/')}: {value:.3f} ({verdict})")
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
            "rows": rows,
            "generated_seconds": data["generated_seconds"],
            "reused": data["reused"],
        },
        "results": results,
        "ratios": ratios,
        "differences": diffs,
        "machine": {**machine(), "loadavg_start": load_start, "loadavg_end": _loadavg()},
        "workdir": None if temporary else str(root),
    }
    out(json.dumps(summary, sort_keys=False))
    return 0 if reports_equal else 1
