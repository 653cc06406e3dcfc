"""allocator.keep_freed_memory: a day's scan stops faulting its memory in block after block (48 MiB of
JSONL scanned a second time: about 300 minor page faults tuned, 18,000-39,000 by default)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline_project.allocator import OPERATOR_SETTINGS, keep_freed_memory
from pipeline_project.bench.generate import generate_day

DAY = "2025-06-15"
# Scans the day twice in a fresh process and prints whether it was tuned, the second scan's minor
# page faults and its valid rows; "default" keeps glibc's own settings.
SCAN = """
import resource, sys
from pipeline_project import allocator
if sys.argv[2] == "default":
    allocator.keep_freed_memory = lambda: False
from pipeline_project.daily import compute_day
from pipeline_project.storage import open_storage
storage = open_storage(sys.argv[1])
compute_day(storage, sys.argv[3], "run", 1 << 40)  # the first scan faults its memory in
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
report = compute_day(storage, sys.argv[3], "run", 1 << 40).report
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(allocator.keep_freed_memory(), faults, report["records"]["valid"])
"""


def _scan(root: str, mode: str, env: dict) -> tuple[str, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", SCAN, root, mode, DAY], check=True, capture_output=True, text=True, env=env
    ).stdout.split()
    return out[0], int(out[1]), int(out[2])


def test_a_days_scan_is_tuned_and_takes_a_fraction_of_the_page_faults_for_the_same_report(tmp_path):
    generate_day(tmp_path, DAY, "jsonl", 48 << 20, 0, workers=1, log=lambda _: None)
    env = {k: v for k, v in os.environ.items() if k not in OPERATOR_SETTINGS}
    default, tuned = _scan(str(tmp_path), "default", env), _scan(str(tmp_path), "tuned", env)
    assert (default[0], tuned[0]) == ("False", "True")
    assert tuned[2] == default[2] > 0
    print(f"page faults of a second scan: {tuned[1]} tuned, {default[1]} by default")
    assert tuned[1] * 10 < default[1]


@pytest.mark.parametrize(
    "name, value", [("MALLOC_TRIM_THRESHOLD_", "131072"), ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=131072")]
)
def test_an_operators_own_malloc_setting_is_left_alone(name, value):
    env = {**os.environ, name: value}
    code = "from pipeline_project.allocator import keep_freed_memory; print(keep_freed_memory())"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout == "False\n"


def test_this_process_is_tuned_once():
    first = keep_freed_memory()
    assert keep_freed_memory() is first
    assert first is not any(name in os.environ for name in OPERATOR_SETTINGS)
