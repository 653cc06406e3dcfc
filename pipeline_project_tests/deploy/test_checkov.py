"""checkov over terraform/ (modules, the stack, both environment roots, bootstrap) and a
`terraform fmt`-style check, without a terraform binary.

checkov runs from its own environment (.tools/checkov, built by `make tools`); a missing binary is a
failure, never a skip. It runs once per test session: the JSON report is cached under pytest's
shared temporary directory, keyed by the content of terraform/, so xdist workers share one run.
The command is `checkov -d terraform --framework terraform --compact -o json` plus
`--skip-download` (nothing is fetched from the vendor's platform, so the run is offline and
deterministic). `--quiet` is left out on purpose: it drops the passed and skipped checks from the
JSON report, and the skips are what the second test verifies.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import resource
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"
COMMAND = [str(CHECKOV), "-d", "terraform", "--framework", "terraform", "--compact", "--skip-download", "-o", "json"]
TIMEOUT_SECONDS = 600
# checkov needs about 10 s of CPU here (about 30 s of wall time on an idle machine, more while the
# rest of the suite runs beside it). The budget is on CPU time, which machine load does not inflate:
# fail loudly if the scan itself drifts towards the suite's patience.
CPU_BUDGET_SECONDS = 90
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=(CKV2?_[A-Z0-9]+_\d+)(?::(.*))?$")


def terraform_sources() -> list[Path]:
    return sorted(p for p in TERRAFORM.rglob("*") if p.suffix in (".tf", ".tfvars") and ".terraform" not in p.parts)


def source_digest() -> str:
    digest = hashlib.sha256()
    for path in terraform_sources():
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def run_checkov() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_", "CKV_", "CHECKOV_"))}
    env["LOG_LEVEL"] = "WARNING"
    started, before = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(COMMAND, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, env=env)
    seconds, after = time.monotonic() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # checkov exits 1 when a check fails; anything else without a report is a broken run.
    assert done.returncode in (0, 1), f"checkov exited {done.returncode}:\n{done.stderr[-4000:]}"
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    (terraform,) = [r for r in reports if r.get("check_type") == "terraform"]
    return {"report": terraform, "seconds": seconds, "cpu_seconds": cpu_seconds, "returncode": done.returncode}


@pytest.fixture(scope="session")
def checkov(tmp_path_factory) -> dict:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV.relative_to(REPO)} is missing: run `make tools` (checkov lives in its own environment)")
    # This session's directory, shared by all xdist workers (they each have a popen-gwN below it).
    basetemp = tmp_path_factory.getbasetemp()
    shared = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    cache = shared / f"checkov-terraform-{source_digest()}.json"
    with open(shared / "checkov-terraform.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not cache.exists():
                cache.write_text(json.dumps(run_checkov()))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return json.loads(cache.read_text())


def test_checkov_passes_with_no_failed_check(checkov):
    report, summary = checkov["report"], checkov["report"]["summary"]
    failed = report["results"].get("failed_checks", [])
    listing = "\n".join(
        f"{f['check_id']} {f['check_name']}: {f['resource']} ({f['file_path']}, from {f.get('caller_file_path')})"
        for f in failed
    )
    assert summary["failed"] == 0 and not failed, f"checkov failed checks:\n{listing}"
    assert summary["parsing_errors"] == 0
    assert checkov["returncode"] == 0
    assert checkov["cpu_seconds"] < CPU_BUDGET_SECONDS, (
        f"checkov used {checkov['cpu_seconds']:.0f} s of CPU ({checkov['seconds']:.0f} s of wall time)"
    )
    # The modules were evaluated as the stack (modules/pipeline) calls them, both environment roots
    # (each one call of the stack) and the bootstrap were scanned.
    results = [c for kind in ("passed_checks", "skipped_checks") for c in report["results"].get(kind, [])]
    callers = {c["caller_file_path"] for c in results if c.get("caller_file_path")}
    assert callers == {"/modules/pipeline/main.tf"}, callers
    files = {c["file_path"] for c in results}
    assert {"/bootstrap/main.tf", "/environments/dev/main.tf", "/environments/prod/main.tf"} <= files
    scanned = {f.split("/")[2] for f in files if f.startswith("/modules/")}
    # Every module with resources: all but the stack, which only composes them.
    assert scanned == {p.name for p in (TERRAFORM / "modules").iterdir() if p.is_dir()} - {"pipeline"}, scanned
    assert summary["passed"] > 400


def test_every_skip_is_inline_on_its_resource_with_a_reason(checkov):
    skipped = checkov["report"]["results"].get("skipped_checks", [])
    assert skipped, "the stack has deliberate, documented skips; none were reported"
    used_comments = set()
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment") or ""
        where = f"{check['check_id']} on {check['resource']} ({check['file_path']})"
        path = Path(check["file_abs_path"])
        start, end = check["file_line_range"]
        lines = path.read_text().splitlines()[start - 1 : end]
        inline = [
            (number, m)
            for number, line in enumerate(lines, start=start)
            if (m := SKIP_COMMENT.search(line.strip())) and m.group(1) == check["check_id"]
        ]
        assert inline, f"{where}: no #checkov:skip comment inside the resource block"
        (number, match), *_ = inline
        source_reason = (match.group(2) or "").strip()
        assert len(source_reason) >= 20, f"{where}: the skip needs a one-line reason"
        assert reason.strip() == source_reason, f"{where}: checkov saw the reason {reason!r}"
        used_comments.add((str(path), number))
    # No stale or stray skip comments: each one suppresses a check checkov actually ran.
    for path in terraform_sources():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "checkov:skip" in line:
                assert SKIP_COMMENT.search(line.strip()), f"{path}:{number}: malformed skip comment"
                assert (str(path), number) in used_comments, f"{path}:{number}: skip comment suppresses nothing"
    # No global skip list anywhere: not in a config file, not on the command line.
    for config in [*REPO.glob(".checkov.y*ml"), *TERRAFORM.rglob(".checkov.y*ml")]:
        assert "skip-check" not in config.read_text() and "skip_check" not in config.read_text(), config
    assert not any(arg.startswith(("--skip-check", "-s")) for arg in COMMAND)


# Every deliberate skip, as (file, resource, check): a new one is a decision to review here, not a
# side effect. The interface endpoints' policy admits every action for this account's principals
# only (it grants nothing itself), which the IAM wildcard checks cannot tell from an identity policy.
# Dev's lean profile (docs/deploy.md section 11) turns off Container Insights and Performance
# Insights per environment, like Multi-AZ and deletion protection; its NAT instance has no role.
EXPECTED_SKIPS = {
    ("/bootstrap/main.tf", "aws_s3_bucket.state", "CKV2_AWS_62"),
    ("/bootstrap/main.tf", "aws_s3_bucket.state", "CKV_AWS_144"),
    ("/bootstrap/main.tf", "aws_s3_bucket.state", "CKV_AWS_18"),
    ("/modules/alb/main.tf", "aws_lb.this", "CKV_AWS_150"),
    ("/modules/alb/main.tf", "aws_lb_target_group.webserver", "CKV_AWS_378"),
    ("/modules/data_bucket/main.tf", "aws_s3_bucket.this", "CKV_AWS_144"),
    ("/modules/data_bucket/main.tf", "aws_s3_bucket.this", "CKV_AWS_145"),
    ("/modules/ecs/main.tf", "aws_ecs_cluster.this", "CKV_AWS_65"),
    ("/modules/kms/main.tf", "aws_iam_policy_document.key", "CKV_AWS_111"),
    ("/modules/kms/main.tf", "aws_iam_policy_document.key", "CKV_AWS_356"),
    ("/modules/log_bucket/main.tf", "aws_s3_bucket.this", "CKV2_AWS_62"),
    ("/modules/log_bucket/main.tf", "aws_s3_bucket.this", "CKV_AWS_144"),
    ("/modules/log_bucket/main.tf", "aws_s3_bucket.this", "CKV_AWS_145"),
    ("/modules/log_bucket/main.tf", "aws_s3_bucket.this", "CKV_AWS_18"),
    ("/modules/network/main.tf", "aws_cloudwatch_log_group.flow_logs", "CKV_AWS_338"),
    ("/modules/network/main.tf", "aws_eip.nat", "CKV2_AWS_19"),
    ("/modules/network/main.tf", "aws_iam_policy_document.interface_endpoint", "CKV2_AWS_40"),
    ("/modules/network/main.tf", "aws_iam_policy_document.interface_endpoint", "CKV_AWS_1"),
    ("/modules/network/main.tf", "aws_iam_policy_document.interface_endpoint", "CKV_AWS_49"),
    ("/modules/network/main.tf", "aws_iam_policy_document.s3_endpoint", "CKV_AWS_283"),
    ("/modules/network/main.tf", "aws_instance.nat", "CKV2_AWS_41"),
    ("/modules/network/main.tf", "aws_instance.nat", "CKV_AWS_126"),
    ("/modules/network/main.tf", "aws_security_group.alb", "CKV2_AWS_5"),
    ("/modules/network/main.tf", "aws_security_group.rds", "CKV2_AWS_5"),
    ("/modules/network/main.tf", "aws_security_group.task", "CKV2_AWS_5"),
    ("/modules/observability/main.tf", "aws_cloudwatch_log_group.ecs", "CKV_AWS_338"),
    ("/modules/rds/main.tf", "aws_cloudwatch_log_group.this", "CKV_AWS_338"),
    ("/modules/rds/main.tf", "aws_db_instance.this", "CKV_AWS_157"),
    ("/modules/rds/main.tf", "aws_db_instance.this", "CKV_AWS_293"),
    ("/modules/rds/main.tf", "aws_db_instance.this", "CKV_AWS_353"),
}


def source_resource(address: str) -> str:
    """type.name of a checkov resource address, without module path and instance key."""
    parts = address.split(".")
    while parts and parts[0] == "module":
        parts = parts[2:]
    return re.sub(r"\[.*\]$", "", ".".join(parts))


@pytest.mark.security
def test_the_skips_are_exactly_the_reviewed_ones(checkov):
    skipped = checkov["report"]["results"].get("skipped_checks", [])
    found = {(c["file_path"], source_resource(c["resource"]), c["check_id"]) for c in skipped}
    assert found == EXPECTED_SKIPS, {"new": sorted(found - EXPECTED_SKIPS), "gone": sorted(EXPECTED_SKIPS - found)}
    # In particular nothing is skipped for a task role, the task definitions or the listener rule.
    assert not [
        f
        for f in found
        if f[1].startswith(("aws_iam_role", "aws_ecs_task_definition", "aws_ecs_service", "aws_lb_listener"))
    ]


# --- terraform fmt, approximated ---------------------------------------------------------------


def bracket_scan(line: str, in_string: bool) -> tuple[int, int | None, bool]:
    """(net brackets opened in code, index of the first top-level '=', whether a string is still
    open at the end of the line)."""
    stack = ["string"] if in_string else []
    change, eq, i = 0, None, 0
    while i < len(line):
        c = line[i]
        if stack and stack[-1] == "string":
            if c == "\\":
                i += 2
                continue
            if line.startswith("${", i) or line.startswith("%{", i):
                stack.append("interpolation")
                i += 2
                continue
            if c == '"':
                stack.pop()
            i += 1
            continue
        if c == "#" or line.startswith("//", i):
            break
        if c == '"':
            stack.append("string")
        elif c in "{[(":
            if stack:
                stack.append("brace")
            else:
                change += 1
        elif c in "}])":
            if stack:
                stack.pop()
            else:
                change -= 1
        elif c == "=" and not stack and eq is None:
            before, after = line[i - 1 : i], line[i + 1 : i + 2]
            if after not in ("=", ">") and before not in ("=", "!", "<", ">"):
                eq = i
        i += 1
    return change, eq, "string" in stack


def fmt_problems(text: str) -> list[str]:
    """What `terraform fmt` would change, as far as this model of hclwrite's formatter sees: two
    spaces of indentation per level (a line opening any number of brackets opens one level), '='
    aligned across consecutive single-line attributes, one space after '=', no tabs, no trailing
    whitespace, exactly one final newline."""
    problems = []
    if "\t" in text:
        problems.append("tab character")
    if not text.endswith("\n") or text.endswith("\n\n"):
        problems.append("must end with exactly one newline")
    indents: list[int] = []
    chain: list[tuple[int, str, int, int]] = []  # (line number, line, depth, index of '=')

    def close_chain():
        if chain:
            width = max(len(line[:eq].strip()) for _, line, _, eq in chain)
            for number, line, depth, eq in chain:
                key = line[:eq].strip()
                if line[:eq] != " " * (2 * depth) + key + " " * (width - len(key) + 1):
                    problems.append(f"line {number}: '=' not aligned")
        chain.clear()

    in_string = False
    for number, line in enumerate(text.split("\n"), start=1):
        if line != line.rstrip():
            problems.append(f"line {number}: trailing whitespace")
        change, eq, still_in_string = bracket_scan(line, in_string)
        if in_string or not line.strip():
            close_chain()
            in_string = still_in_string
            continue
        in_string = still_in_string
        if change > 0:
            depth = len(indents)
            indents.append(change)
        else:
            closed = -change
            while closed > 0 and indents:
                if closed >= indents[-1]:
                    closed -= indents.pop()
                else:
                    indents[-1] -= closed
                    closed = 0
            depth = len(indents)
        indent = len(line) - len(line.lstrip(" "))
        if indent != 2 * depth:
            problems.append(f"line {number}: indented {indent}, expected {2 * depth}")
        if eq is not None and bracket_scan(line[eq:], False)[0] == 0 and not line.lstrip().startswith("#"):
            if not line[eq + 1 :].startswith(" ") or line[eq + 1 :].startswith("  "):
                problems.append(f"line {number}: one space expected after '='")
            chain.append((number, line, depth, eq))
        else:
            close_chain()
    close_chain()
    return problems


def test_terraform_files_are_fmt_clean():
    problems = {str(p.relative_to(REPO)): fmt_problems(p.read_text()) for p in terraform_sources()}
    problems = {path: found for path, found in problems.items() if found}
    assert not problems, problems


def test_fmt_check_catches_what_it_should():
    good = (
        'resource "x" "y" {\n  a   = 1\n  bcd = 2\n\n  block {\n    e = jsonencode({\n      f = [1]\n    })\n  }\n}\n'
    )
    assert fmt_problems(good) == []
    assert fmt_problems(good.replace("  a   = 1", "  a = 1")), "misaligned '='"
    assert fmt_problems(good.replace("    e = jsonencode", "   e = jsonencode")), "three-space indent"
    assert fmt_problems(good.replace("      f = [1]", "        f = [1]")), "two levels for one line"
    assert fmt_problems(good.replace("  a   = 1", "\ta   = 1")), "tab"
    assert fmt_problems(good + "\n"), "extra blank line at the end"
    assert fmt_problems(good.replace("bcd = 2", "bcd = 2 ")), "trailing whitespace"
