"""allocator.keep_freed_memory: a day's scan stops faulting its memory in block after block."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline_project.allocator import OPERATOR_SETTINGS, keep_freed_memory
from pipeline_project.bench.generate import generate_day

DAY = "2025-06-15"
# Scans the day in a fresh process (tuned or not) and prints its minor page faults.
SCAN = """
import resource, sys
from pipeline_project.allocator import keep_freed_memory
from pipeline_project.daily import compute_day
from pipeline_project.storage import open_storage
tuned = sys.argv[2] == "tuned" and keep_freed_memory()
storage = open_storage(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
report = compute_day(storage, sys.argv[3], "run", 1 << 40).report
print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, report["records"]["valid"])
"""


def _scan(root: str, mode: str, env: dict) -> tuple[str, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", SCAN, root, mode, DAY], check=True, capture_output=True, text=True, env=env
    ).stdout.split()
    return out[0], int(out[1]), int(out[2])


def test_a_tuned_scan_takes_a_fraction_of_the_page_faults_and_gives_the_same_report(tmp_path):
    generate_day(tmp_path, DAY, "jsonl", 48 << 20, 0, workers=1, log=lambda _: None)
    env = {k: v for k, v in os.environ.items() if k not in OPERATOR_SETTINGS}
    default, tuned = _scan(str(tmp_path), "default", env), _scan(str(tmp_path), "tuned", env)
    assert (default[0], tuned[0]) == ("False", "True")
    assert tuned[2] == default[2] > 0
    assert tuned[1] * 3 < default[1], f"page faults: {tuned[1]} tuned, {default[1]} by default"


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
