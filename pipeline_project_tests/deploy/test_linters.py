"""The delivery files pass their linters with no finding: hadolint (Dockerfile), shellcheck (shell
scripts), actionlint and zizmor (GitHub workflows), checkov (Dockerfile and workflows); and every
action a workflow uses is pinned to a full commit SHA with its version in a comment.

The linters are the dev environment's (next to this interpreter) and checkov's own environment
(.tools/checkov); a missing one is a failure, never a skip: `make install tools` provides them.
Nothing here reaches the network (zizmor --offline, checkov without its platform downloads).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"
DOCKERFILE = REPO / "Dockerfile"
WORKFLOWS = sorted(p for p in (REPO / ".github" / "workflows").glob("*") if p.suffix in (".yml", ".yaml"))
ACTIONS = sorted((REPO / ".github" / "actions").glob("**/action.y*ml"))
SHELL_SCRIPTS = sorted((REPO / "scripts").glob("*.sh")) + [REPO / ".ci" / "run"]

SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@\s]+)?@[0-9a-f]{40}$")
DIGEST_PIN = re.compile(r"^docker://[^@\s]+@sha256:[0-9a-f]{64}$")
VERSION_COMMENT = re.compile(r"#\s*v?\d+(\.\d+)*\b")


def tool(path: Path) -> str:
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"{path.name} is not installed at {path}: run `make install tools`")
    return str(path)


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    # The dev environment's bin first, so actionlint finds shellcheck for the run: blocks.
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **env}
    return subprocess.run(argv, cwd=REPO, env=environment, capture_output=True, text=True, timeout=300)


def relative(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(REPO)) for p in paths]


def test_the_files_exist():
    assert DOCKERFILE.is_file()
    names = {p.name for p in WORKFLOWS}
    assert {"ci.yml", "deploy.yml"} <= names, names


def test_hadolint_dockerfile():
    done = run([tool(BIN / "hadolint"), "--no-color", "--failure-threshold", "info", "Dockerfile"])
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


@pytest.mark.parametrize("script", relative(SHELL_SCRIPTS))
def test_shellcheck(script):
    assert (REPO / script).is_file(), f"{script} is missing"
    done = run([tool(BIN / "shellcheck"), "--external-sources", "--format=gcc", script])
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_actionlint_workflows():
    shellcheck = tool(BIN / "shellcheck")
    done = run([tool(BIN / "actionlint"), "-no-color", "-shellcheck", shellcheck, *relative(WORKFLOWS)])
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_zizmor_offline():
    """Every input zizmor collects from the repository: the workflows, any local actions and
    .github/dependabot.yml, at zizmor's default (regular) persona."""
    done = run([tool(BIN / "zizmor"), "--offline", "--no-progress", "--format", "json", "."])
    assert done.returncode == 0, done.stdout + done.stderr
    findings = json.loads(done.stdout)
    assert findings == [], json.dumps(findings, indent=2)
    audited = {line.split("completed ", 1)[1] for line in done.stderr.splitlines() if "completed " in line}
    for workflow in relative(WORKFLOWS):
        assert f"./{workflow}" in audited, f"zizmor did not audit {workflow}: {sorted(audited)}"


def test_checkov_dockerfile_and_workflows():
    """Zero failed checks; a skipped check is only ever an inline skip that gives its reason."""
    config = [REPO / ".checkov.yaml", REPO / ".checkov.yml"]
    for path in config:
        if path.exists():
            assert "skip" not in path.read_text(), f"{path.name}: checks are skipped inline, with a reason, never here"
    argv = [tool(CHECKOV), "--framework", "dockerfile", "github_actions", "--output", "json", "--skip-download"]
    for path in [DOCKERFILE, *WORKFLOWS]:
        argv += ["--file", str(path.relative_to(REPO))]
    # BC_SKIP_MAPPING: no download of the platform's check metadata (no network here).
    done = run(argv, BC_SKIP_MAPPING="TRUE", CHECKOV_NO_OUTPUT_COLOR="TRUE")
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    by_type = {report["check_type"]: report for report in reports}
    assert set(by_type) == {"dockerfile", "github_actions"}, f"checkov scanned {sorted(by_type)}:\n{done.stderr}"
    for check_type, report in by_type.items():
        results, summary = report["results"], report["summary"]
        failed = [(c["check_id"], c["file_path"], c["resource"], c["check_name"]) for c in results["failed_checks"]]
        assert failed == [], f"{check_type}: {failed}"
        assert summary["parsing_errors"] == 0, f"{check_type}: parsing errors"
        assert summary["passed"] > 0, f"{check_type}: nothing was checked"
        for check in results["skipped_checks"]:
            reason = (check["check_result"].get("suppress_comment") or "").strip()
            assert reason and reason != "No comment provided", f"{check['check_id']} skipped without a reason"
    scanned = {c["file_path"].lstrip("/") for r in by_type.values() for c in r["results"]["passed_checks"]}
    assert set(relative([DOCKERFILE, *WORKFLOWS])) <= scanned, scanned


def uses_of(document) -> list[str]:
    """Every `uses:` of a workflow (steps and reusable-workflow jobs) or of a composite action."""
    found = []
    jobs = (document or {}).get("jobs") or {}
    steps = [step for job in jobs.values() for step in (job.get("steps") or [])]
    steps += ((document or {}).get("runs") or {}).get("steps") or []
    found += [job["uses"] for job in jobs.values() if "uses" in job]
    found += [step["uses"] for step in steps if "uses" in step]
    return found


@pytest.mark.parametrize("path", relative(WORKFLOWS + ACTIONS))
def test_every_action_is_pinned_to_a_commit_sha(path):
    text = (REPO / path).read_text()
    uses = uses_of(yaml.safe_load(text))
    assert uses, f"{path} uses no action"
    for use in uses:
        if use.startswith("./"):
            continue  # this repository's own action or workflow, pinned by the commit that runs it
        assert SHA_PIN.match(use) or DIGEST_PIN.match(use), f"{path}: {use} is not pinned to a full commit SHA"
    # The release each SHA stands for is named next to it, so reviews and Dependabot can follow it.
    for line in text.splitlines():
        match = re.match(r"\s*(-\s+)?uses:\s*(\S+)(.*)$", line)
        if match and not match.group(2).startswith(("./", "docker://")):
            assert VERSION_COMMENT.search(match.group(3)), f"{path}: `{line.strip()}` has no version comment"


@pytest.mark.parametrize("path", relative(WORKFLOWS))
def test_least_privilege(path):
    """Permissions are declared at the top (none or read-only); id-token: write only in jobs that
    assume an AWS role through OIDC; no checkout leaves the token in the workspace."""
    document = yaml.safe_load((REPO / path).read_text())
    top = document.get("permissions")
    assert top is not None, f"{path}: no top-level permissions"
    assert top == {} or top == {"contents": "read"}, f"{path}: top-level permissions {top}"
    for name, job in document["jobs"].items():
        permissions = job.get("permissions") or {}
        assert "write-all" not in str(permissions)
        writes = {scope for scope, level in permissions.items() if level == "write"}
        steps = job.get("steps") or []
        oidc = any(step.get("uses", "").startswith("aws-actions/configure-aws-credentials@") for step in steps)
        assert writes <= ({"id-token"} if oidc else set()), f"{path}: job {name} writes {writes}"
        for step in steps:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert (step.get("with") or {}).get("persist-credentials") is False, f"{path}: {name} checkout"


IMAGE_DIGEST = re.compile(r"^[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$")


@pytest.mark.security
def test_every_base_and_service_image_is_pinned_by_a_digest_dependabot_updates():
    """A moved tag cannot change what is built or tested: the Dockerfile's stages and the CI's
    PostgreSQL service are pinned by digest in files Dependabot's docker ecosystem reads."""
    bases = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert len(bases) == 2 and len(set(bases)) == 1, bases  # builder and runtime: one base
    assert IMAGE_DIGEST.match(bases[0]) and bases[0].startswith("python:3.11-slim-bookworm@"), bases[0]

    ci_images = REPO / ".github" / "ci-images" / "Dockerfile"
    (postgres,) = re.findall(r"^FROM\s+(\S+)\s*$", ci_images.read_text(), flags=re.MULTILINE)
    assert IMAGE_DIGEST.match(postgres) and postgres.startswith("postgres:16@"), postgres
    ci = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    assert ci["jobs"]["test"]["needs"] == "images"
    assert ci["jobs"]["test"]["services"]["postgres"]["image"] == "${{ needs.images.outputs.postgres }}"
    (read,) = [s for s in ci["jobs"]["images"]["steps"] if s.get("id") == "read"]
    extract = re.search(r"sed -n '(s/.*/p)' \.github/ci-images/Dockerfile", read["run"])
    done = subprocess.run(["sed", "-n", extract[1], str(ci_images)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == postgres  # what the job hands to the service
    for job, body in {
        **ci["jobs"],
        **yaml.safe_load((REPO / ".github/workflows/deploy.yml").read_text())["jobs"],
    }.items():
        for service in body.get("services", {}).values():
            assert service["image"].startswith("${{ needs."), job
        assert "container" not in body, job

    dependabot = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())
    (docker,) = [u for u in dependabot["updates"] if u["package-ecosystem"] == "docker"]
    assert docker["directories"] == ["/", "/.github/ci-images"]
