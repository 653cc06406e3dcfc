"""The image's install path without Docker.

The builder stage of the Dockerfile is replayed on this machine: its WORKDIR, ENV, COPY (from the
build context, honouring .dockerignore) and RUN lines, with the image's paths mapped under a
temporary root. So `python -m venv /opt/venv` and the `pip install -c constraints.txt ...` lines
run as written, into a fresh Python 3.11 virtual environment, from a copy of exactly the files the
Dockerfile copies. Then every command the image runs is started far enough to prove it starts:
the documented role commands with `--help` (which also proves every documented option exists),
the webserver answering HTTP on a loopback port (loading the code in-process with `-m`, and as
deployed, against a real code server over gRPC), and the RUN_DATE entry processing a day.

The install takes about a minute (about 100 packages from the package index), once per session:
pytest-xdist workers share it through a lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from pipeline_project_tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
YESTERDAY = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
DAY_BEFORE = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)).isoformat()

# The role commands of the image, exactly as the task definitions run them (the shared names).
WEBSERVER = "dagster-webserver -h 0.0.0.0 -p 3000 -w /opt/dagster/dagster_home/workspace.yaml --log-format json"
DAEMON = "dagster-daemon run -w /opt/dagster/dagster_home/workspace.yaml --log-format json"
CODE_SERVER = (
    "dagster code-server start -h 0.0.0.0 -p 4000 -m pipeline_project.definitions --location-name pipeline_project"
    " --log-format json"
)
RUN_WORKER = "dagster api execute_run"  # the EcsRunLauncher appends the serialized run arguments
RUN_DATE_ENTRY = "pipeline-project run"
# The health probes docs/deploy.md gives the task definitions.
PROBES = ["dagster api grpc-health-check -p 4000", "dagster-daemon liveness-check"]


# --- The Dockerfile, read the way the builder reads it ----------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction: continuations joined, comment lines dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        pending += stripped
        keyword, _, arguments = pending.strip().partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


@dataclass
class Stage:
    base: str
    name: str | None
    steps: list[tuple[str, str]] = field(default_factory=list)


def stages(text: str) -> list[Stage]:
    result: list[Stage] = []
    for keyword, arguments in instructions(text):
        if keyword == "FROM":
            words = arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(base=words[0], name=name))
        elif keyword not in ("ARG",):
            assert result, f"{keyword} before the first FROM"
            result[-1].steps.append((keyword, arguments))
    return result


def env_pairs(arguments: str) -> list[tuple[str, str]]:
    pairs = []
    for word in shlex.split(arguments):
        name, sep, value = word.partition("=")
        assert sep, f"ENV {arguments!r}: use the NAME=value form"
        pairs.append((name, value))
    return pairs


def copy_arguments(arguments: str) -> tuple[dict[str, str], list[str], str]:
    words = shlex.split(arguments)
    flags = dict(w[2:].partition("=")[::2] for w in words if w.startswith("--"))
    paths = [w for w in words if not w.startswith("--")]
    return flags, paths[:-1], paths[-1]


def dockerignore_patterns() -> list[tuple[bool, re.Pattern]]:
    patterns = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        regex, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        patterns.append((negated, re.compile(regex + r"\Z")))
    return patterns


def ignored(relative: str, patterns) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matching a folder covers its content."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for negated, regex in patterns:
        if any(regex.match(prefix) for prefix in prefixes):
            result = not negated
    return result


# --- Replaying the builder stage ---------------------------------------------------------------


def base_python(base_image: str) -> str:
    match = re.fullmatch(r"python:(\d+\.\d+)[-.\w]*(@sha256:[0-9a-f]{64})?", base_image)
    assert match, f"unexpected base image {base_image!r}"
    version = match.group(1)
    candidates = [Path(sys.base_prefix) / "bin" / f"python{version}", shutil.which(f"python{version}")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.fail(f"python{version} (the base image's Python) is not installed here")


class Replay:
    """Runs one stage's instructions with the image's absolute paths under `root`."""

    def __init__(self, root: Path, base_image: str, log: Path):
        self.root = root
        self.python = base_python(base_image)
        self.log = log
        self.workdir = "/"
        self.env: dict[str, str] = {}
        self.patterns = dockerignore_patterns()
        root.mkdir(parents=True, exist_ok=True)

    def host(self, image_path: str) -> Path:
        return self.root / image_path.lstrip("/")

    def env_value(self, name: str, value: str) -> str:
        """Image paths in an ENV value mapped under the root; $PATH is this machine's clean PATH."""
        parts = []
        for part in value.split(":") if name == "PATH" else [value]:
            if part in ("$PATH", "${PATH}"):
                parts.append(clean_path())
            elif part.startswith("/"):
                parts.append(str(self.host(part)))
            else:
                parts.append(part)
        return ":".join(parts)

    def process_env(self) -> dict[str, str]:
        env = clean_environment()
        env.update(self.env)
        return env

    def which(self, program: str) -> str:
        for entry in self.env.get("PATH", "").split(":"):
            if Path(entry).is_relative_to(self.root) and (Path(entry) / program).exists():
                return str(Path(entry) / program)
        # Not in the image's own folders: the base image's interpreter.
        if program in ("python", "python3", Path(self.python).name):
            return self.python
        if program in ("pip", "pip3"):
            pytest.fail("the builder runs the base image's pip; install into the venv with the venv's pip")
        pytest.fail(f"the builder runs {program!r}, which this replay does not provide")

    def run(self, keyword: str, arguments: str, *, runtime: bool = False) -> None:
        if keyword == "WORKDIR":
            self.workdir = arguments if arguments.startswith("/") else f"{self.workdir.rstrip('/')}/{arguments}"
            self.host(self.workdir).mkdir(parents=True, exist_ok=True)
        elif keyword == "ENV":
            for name, value in env_pairs(arguments):
                self.env[name] = self.env_value(name, value)
        elif keyword == "COPY":
            flags, sources, destination = copy_arguments(arguments)
            if "from" in flags:
                # The runtime stage takes the builder's venv as it is, at the same path.
                assert runtime and sources == [destination], f"COPY {arguments}: only a same-path copy is replayed"
                assert self.host(destination).exists(), f"COPY {arguments}: the builder made no {destination}"
            else:
                self.copy(sources, destination, flags.get("chmod"))
        elif keyword == "RUN" and runtime:
            pass  # root-only setup of the base image (user, base pip removal): nothing the commands use
        elif keyword == "RUN":
            words = shlex.split(arguments)
            commands = [[]]
            for word in words:
                if word == "&&":
                    commands.append([])
                else:
                    commands[-1].append(word)
            if commands[0][0] == "apt-get":
                self.check_system_packages(commands)
                return
            for command in commands:
                argv = [self.which(command[0])] + [str(self.host(w)) if w.startswith("/") else w for w in command[1:]]
                with self.log.open("a") as log:
                    log.write(f"\n$ {' '.join(command)}\n")
                    log.flush()
                    done = subprocess.run(
                        argv, cwd=self.host(self.workdir), env=self.process_env(), stdout=log, stderr=subprocess.STDOUT
                    )
                if done.returncode != 0:
                    tail = "\n".join(self.log.read_text().splitlines()[-40:])
                    pytest.fail(f"RUN {' '.join(command)} failed ({done.returncode}):\n{tail}")
        elif keyword in (
            "LABEL",
            "EXPOSE",
            "USER",
            "HEALTHCHECK",
            "CMD",
            "ENTRYPOINT",
            "SHELL",
            "STOPSIGNAL",
            "VOLUME",
        ):
            pass
        else:
            pytest.fail(f"the replay does not know {keyword}; extend it with the Dockerfile")

    @staticmethod
    def check_system_packages(commands: list[list[str]]) -> None:
        """An apt-get line adds Debian packages to the base image: this machine (Debian too) must have
        them installed already, so the rest of the replay builds with them."""
        for command in commands:
            if command[0] == "apt-get" and "install" in command:
                packages = [word for word in command[command.index("install") + 1 :] if not word.startswith("-")]
                done = subprocess.run(
                    ["dpkg-query", "--show", "--showformat=${Package} ${db:Status-Status}\\n", *packages],
                    capture_output=True,
                    text=True,
                )
                assert done.stdout.split("\n")[:-1] == [f"{name} installed" for name in packages], done.stderr

    def copy(self, sources: list[str], destination: str, chmod: str | None) -> None:
        target = destination if destination.startswith("/") else f"{self.workdir.rstrip('/')}/{destination}"
        into_folder = destination.endswith("/") or len(sources) > 1
        copied: list[Path] = []
        for source in sources:
            relative = os.path.normpath(source)
            origin = REPO / relative
            assert origin.exists(), f"COPY {source}: not in the build context"
            assert not ignored(relative, self.patterns), f"COPY {source}: excluded by .dockerignore"
            if origin.is_file():
                to = self.host(target) / origin.name if into_folder else self.host(target)
                to.parent.mkdir(parents=True, exist_ok=True)
                copied.append(Path(shutil.copy2(origin, to)))
                continue
            for path in sorted(origin.rglob("*")):
                inner = path.relative_to(REPO).as_posix()
                if path.is_file() and not ignored(inner, self.patterns):
                    to = self.host(target) / path.relative_to(origin)
                    to.parent.mkdir(parents=True, exist_ok=True)
                    copied.append(Path(shutil.copy2(path, to)))
        for path in copied:
            # Docker copies the context's files as they are, or with the mode --chmod gives.
            path.chmod(int(chmod, 8) if chmod else path.stat().st_mode & 0o777)


def clean_path() -> str:
    """The caller's PATH without any virtual environment (this test's own venv included)."""
    own = str(Path(sys.executable).parent)
    venv = os.environ.get("VIRTUAL_ENV")
    return ":".join(p for p in os.environ.get("PATH", "").split(":") if p and p != own and p != f"{venv}/bin")


def clean_environment() -> dict[str, str]:
    """This machine's environment minus anything that would point a process elsewhere."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHON", "RUN_DATE")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in drop and not k.startswith(("PIPELINE_", "DAGSTER_", "AWS_", "PYTEST_"))
    }
    env["PATH"] = clean_path()
    return env


@dataclass
class Image:
    root: Path
    env: dict[str, str]  # the runtime stage's ENV, image paths mapped under root
    workdir: Path
    entrypoint: list[str]
    cmd: list[str]

    @property
    def home(self) -> Path:
        return Path(self.env["DAGSTER_HOME"])


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"use the exec (JSON) form: {arguments}"
    return value


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Image:
    stage_list = stages(DOCKERFILE.read_text())
    assert len(stage_list) >= 2, "the Dockerfile is multi-stage: a builder and a runtime stage"
    builder, runtime = stage_list[0], stage_list[-1]
    # Shared by pytest-xdist workers: the first one installs, the others wait and reuse it.
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    root = base / "image-install"
    root.mkdir(exist_ok=True)
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "installed").exists():
            shutil.rmtree(root / "rootfs", ignore_errors=True)
            (root / "install.log").write_text("")
            replay = Replay(root / "rootfs", builder.base, root / "install.log")
            for keyword, arguments in builder.steps:
                replay.run(keyword, arguments)
            replay = Replay(root / "rootfs", runtime.base, root / "install.log")
            for keyword, arguments in runtime.steps:
                replay.run(keyword, arguments, runtime=True)
            (root / "installed").write_text("ok\n")
    replay = Replay(root / "rootfs", runtime.base, root / "runtime.log")
    entrypoint, cmd = [], []
    for keyword, arguments in runtime.steps:
        if keyword in ("ENV", "WORKDIR"):
            replay.run(keyword, arguments, runtime=True)
        elif keyword == "ENTRYPOINT":
            entrypoint = [str(replay.host(word)) if word.startswith("/") else word for word in exec_form(arguments)]
        elif keyword == "CMD":
            cmd = exec_form(arguments)
    return Image(
        root=root / "rootfs",
        env=clean_environment() | replay.env,
        workdir=replay.host(replay.workdir),
        entrypoint=entrypoint,
        cmd=cmd,
    )


def home(tmp_path: Path) -> Path:
    """A Dagster home for a process on this machine: local storage, no telemetry."""
    folder = tmp_path / "dagster_home"
    folder.mkdir()
    (folder / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return folder


def image_home(image: Image, tmp_path: Path) -> dict[str, str]:
    """A copy of the image's own DAGSTER_HOME (the entrypoint rewrites dagster.yaml in place), and
    the run-task network values every task definition provides."""
    folder = tmp_path / "image_dagster_home"
    shutil.copytree(image.home, folder)
    return {
        **image.env,
        "DAGSTER_HOME": str(folder),
        "DAGSTER_RUN_SUBNETS": "subnet-0a1b2c3d4e5f60718,subnet-0f1e2d3c4b5a69788",
        "DAGSTER_RUN_SECURITY_GROUP": "sg-0123456789abcdef0",
    }


def argv(image: Image, command: str | list[str]) -> list[str]:
    """How the container runs a task definition's command: the image's ENTRYPOINT, then the command."""
    words = shlex.split(command) if isinstance(command, str) else command
    return [*image.entrypoint, *words]


def run(image: Image, command: str | list[str], env: dict[str, str], timeout: float = 120):
    return subprocess.run(
        argv(image, command), cwd=image.workdir, env=env, capture_output=True, text=True, timeout=timeout
    )


# --- What the image must be (no install needed) ------------------------------------------------


def test_every_copied_path_is_in_the_build_context():
    patterns = dockerignore_patterns()
    for stage in stages(DOCKERFILE.read_text()):
        for keyword, arguments in stage.steps:
            if keyword != "COPY":
                continue
            flags, sources, _ = copy_arguments(arguments)
            if "from" in flags:
                continue
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: missing from the repository"
                assert not ignored(os.path.normpath(source), patterns), f"COPY {source}: excluded by .dockerignore"


def test_dockerignore_keeps_state_and_secrets_out():
    patterns = dockerignore_patterns()
    for path in [
        ".git/config",
        ".venv/bin/python",
        ".tools/checkov/bin/checkov",
        ".lake/raw-data/2025-01-01/a.csv",
        ".dagster_home/dagster.yaml",
        ".pytest_cache/v/cache/nodeids",
        "pipeline_project/__pycache__/cli.cpython-311.pyc",
        "pipeline_project.egg-info/PKG-INFO",
        "terraform/environments/dev/terraform.tfstate",
        "terraform/environments/dev/.terraform/providers/x",
        "terraform/environments/prod/prod.tfvars",
        ".env",
    ]:
        assert ignored(path, patterns), f"{path} would be sent to the Docker build"
    for path in ["pyproject.toml", "constraints.txt", "README.md", "pipeline_project/cli.py", "deploy/dagster.yaml"]:
        assert not ignored(path, patterns), f"{path} is needed by the build"


def test_runtime_stage_contract():
    stage_list = stages(DOCKERFILE.read_text())
    builder, runtime = stage_list[0], stage_list[-1]
    assert builder.base == runtime.base and runtime.base.startswith("python:3.11-slim-bookworm")
    steps = runtime.steps
    env = dict(pair for keyword, arguments in steps if keyword == "ENV" for pair in env_pairs(arguments))
    assert env["DAGSTER_HOME"] == "/opt/dagster/dagster_home"
    assert env["PIPELINE_LOG_FORMAT"] == "json"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert [a for k, a in steps if k == "WORKDIR"][-1] == "/opt/dagster/app"
    users = [a for k, a in steps if k == "USER"]
    assert users and users[-1] == "dagster", "the last USER is the non-root dagster user"
    run_lines = " ".join(a for k, a in steps if k == "RUN")
    assert "--uid 10001" in run_lines and "--gid 10001" in run_lines
    copies = [copy_arguments(a) for k, a in steps if k == "COPY"]
    assert ({}, ["deploy/dagster.yaml", "deploy/workspace.yaml"], "/opt/dagster/dagster_home/") in copies
    assert exec_form([a for k, a in steps if k == "CMD"][-1]) == ["pipeline-project", "run"]
    volumes = [path for k, a in steps if k == "VOLUME" for path in exec_form(a)]
    assert {"/tmp", "/opt/dagster/dagster_home"} <= set(volumes), volumes
    # Nothing runs as root once the image has switched to its user.
    after_user = steps[max(i for i, (k, _) in enumerate(steps) if k == "USER") :]
    assert not [a for k, a in after_user if k == "RUN"]
    # Dependencies come from the constraints file, never the dev extra, and nothing is editable.
    pip_lines = [a for k, a in builder.steps if k == "RUN" and "pip install" in a]
    assert pip_lines and all("-c constraints.txt" in line for line in pip_lines)
    assert not any("[dev]" in line or " -e " in f" {line} " or "--editable" in line for line in pip_lines)


def test_task_scratch_volumes_are_image_volumes():
    """A Fargate bind mount is root-owned unless the image declares its path as a VOLUME (ECS then
    copies the path's content and owner): every scratch volume the task definitions mount for a
    read-only root filesystem must be one, or the non-root user cannot write there."""
    import hcl2  # python-hcl2, part of the dev extra

    module = REPO / "terraform" / "modules" / "ecs" / "main.tf"
    if not module.exists():
        pytest.fail(f"{module.relative_to(REPO)} is missing")
    with module.open() as f:
        blocks = hcl2.load(f).get("locals", [])
    merged = {k: v for block in blocks for k, v in block.items()}
    assert "scratch_volumes" in merged, "the ECS module names its scratch volumes in local.scratch_volumes"

    def value(text: str) -> str:
        text = text.strip('"')
        return re.sub(r"\$\{local\.(\w+)\}", lambda m: value(merged[m.group(1)]), text)

    mounted = {value(path) for path in merged["scratch_volumes"].values()}
    runtime = stages(DOCKERFILE.read_text())[-1]
    volumes = {path for k, a in runtime.steps if k == "VOLUME" for path in exec_form(a)}
    assert mounted <= volumes, f"mounted by the task definitions but not image VOLUMEs: {sorted(mounted - volumes)}"


# --- The installed environment, started the way the image starts it ----------------------------


def test_project_is_installed_non_editable_with_its_package_data(image, tmp_path):
    probe = (
        "import importlib, importlib.metadata as m, importlib.resources as r, json, pipeline_project;"
        "d = m.distribution('pipeline-project');"
        "url = json.loads(d.read_text('direct_url.json') or '{}');"
        "print(json.dumps({'file': pipeline_project.__file__,"
        " 'editable': url.get('dir_info', {}).get('editable', False),"
        " 'schema': r.files('pipeline_project.core').joinpath('report.schema.json').is_file(),"
        " 'compiled': [importlib.import_module(f'pipeline_project.core.{name}').__file__"
        " for name in ('_jsonl_scan', '_rules')]}))"
    )
    env = image_home(image, tmp_path)
    done = run(image, ["python", "-c", probe], env)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert Path(found["file"]).is_relative_to(image.root / "opt/venv/lib"), found
    assert found["editable"] is False
    assert found["schema"] is True
    # The compiled modules (setup.py) were built into the venv, not taken from the build context.
    assert all(Path(path).is_relative_to(image.root / "opt/venv/lib") for path in found["compiled"]), found
    check = run(image, "python -c 'import dagster, dagster_aws.ecs, dagster_postgres, dagster_webserver'", env)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize(
    "command",
    [
        "pipeline-project --help",
        f"{RUN_DATE_ENTRY} --help",
        f"{DAEMON} --help",
        f"{CODE_SERVER} --help",
        f"{RUN_WORKER} --help",
        f"{WEBSERVER} --help",
        *(f"{probe} --help" for probe in PROBES),
    ],
    ids=["cli", "run-date-entry", "daemon", "code-server", "run-worker", "webserver", "grpc-probe", "daemon-probe"],
)
def test_image_commands_start(image, tmp_path, command):
    """Each role's command, as its task definition gives it, through the image's entrypoint and
    with the image's own DAGSTER_HOME: `--help` after the documented options proves they exist."""
    done = run(image, command, image_home(image, tmp_path))
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    assert "Usage:" in done.stdout or "usage:" in done.stdout


def test_entrypoint_completes_the_instance_config_for_the_daemon(image, tmp_path):
    env = image_home(image, tmp_path)
    done = run(image, f"{DAEMON} --help", env)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load((Path(env["DAGSTER_HOME"]) / "dagster.yaml").read_text())
    network = config["run_launcher"]["config"]["run_task_kwargs"]["networkConfiguration"]["awsvpcConfiguration"]
    assert network["subnets"] == env["DAGSTER_RUN_SUBNETS"].split(",")
    assert network["securityGroups"] == [env["DAGSTER_RUN_SECURITY_GROUP"]]
    # Without the values the daemon refuses to start rather than launch runs it cannot place.
    bare = image_home(image, tmp_path / "bare")
    del bare["DAGSTER_RUN_SUBNETS"]
    done = run(image, f"{DAEMON} --help", bare)
    assert done.returncode != 0 and "DAGSTER_RUN_SUBNETS" in done.stderr


def test_run_date_entry_processes_run_date_then_yesterday(image, tmp_path):
    lake = tmp_path / "lake"
    env = {**image.env, "DAGSTER_HOME": str(home(tmp_path)), "PIPELINE_STORAGE_URL": str(lake)}
    done = run(image, f"pipeline-project sample-data --from {DAY_BEFORE} --to {YESTERDAY} --rows 40", env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert image.cmd == shlex.split(RUN_DATE_ENTRY)
    done = run(image, image.cmd, {**env, "RUN_DATE": DAY_BEFORE})
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((lake / f"reports/{DAY_BEFORE}.json").read_text())["records"]["read"] == 40
    assert not (lake / f"reports/{YESTERDAY}.json").exists()
    done = run(image, image.cmd, env)  # RUN_DATE absent: yesterday (UTC)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((lake / f"reports/{YESTERDAY}.json").read_text())["records"]["read"] == 40


@contextlib.contextmanager
def started(image: Image, command: list[str], env: dict[str, str], log: Path):
    with log.open("w") as out:
        process = subprocess.Popen(
            argv(image, command),
            cwd=image.workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(predicate, process: subprocess.Popen, log: Path, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process.poll() is not None:
            break
        time.sleep(0.5)
    tail = "\n".join(log.read_text().splitlines()[-40:])
    pytest.fail(f"{what} did not come up (exit {process.poll()}):\n{tail}")


def http_json(url: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError):
        return None


LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { __typename } } } } }"


def assert_location_loaded(port: int, name: str) -> None:
    answer = http_json(f"http://127.0.0.1:{port}/graphql", {"query": LOCATIONS})
    entries = answer["data"]["workspaceOrError"]["locationEntries"]
    assert [(e["name"], e["locationOrLoadError"]["__typename"]) for e in entries] == [(name, "RepositoryLocation")], (
        entries
    )


def test_webserver_answers_on_loopback(image, tmp_path):
    port = free_port()
    env = {**image.env, "DAGSTER_HOME": str(home(tmp_path)), "PIPELINE_STORAGE_URL": str(tmp_path / "lake")}
    log = tmp_path / "webserver.log"
    command = ["dagster-webserver", "-h", "127.0.0.1", "-p", str(port), "-m", "pipeline_project.definitions"]
    with started(image, command, env, log) as process:
        info = wait_for(lambda: http_json(f"http://127.0.0.1:{port}/server_info"), process, log, "the webserver")
        assert "dagster_webserver_version" in info
        assert_location_loaded(port, "pipeline_project.definitions")  # -m names the location after the module


def test_webserver_and_code_server_as_deployed(image, tmp_path):
    """The deployed topology: the code server serves gRPC, the webserver reaches it through the
    image's workspace.yaml with the code server's loopback address in place of Cloud Map's."""
    grpc_port, web_port = free_port(), free_port()
    dagster_home = home(tmp_path)
    workspace = yaml.safe_load((image.home / "workspace.yaml").read_text())
    (server,) = [entry["grpc_server"] for entry in workspace["load_from"]]
    assert (server["host"], server["port"], server["location_name"]) == (
        "code-server.pipeline.local",
        4000,
        "pipeline_project",
    )
    server.update(host="127.0.0.1", port=grpc_port)
    (dagster_home / "workspace.yaml").write_text(yaml.safe_dump(workspace))
    env = {**image.env, "DAGSTER_HOME": str(dagster_home), "PIPELINE_STORAGE_URL": str(tmp_path / "lake")}
    code_server = shlex.split(CODE_SERVER.replace("-h 0.0.0.0 -p 4000", f"-h 127.0.0.1 -p {grpc_port}"))
    webserver = shlex.split(
        WEBSERVER.replace("-h 0.0.0.0 -p 3000", f"-h 127.0.0.1 -p {web_port}").replace(
            "/opt/dagster/dagster_home", str(dagster_home)
        )
    )
    probe = PROBES[0].replace("-p 4000", f"-p {grpc_port}")
    server_log, web_log = tmp_path / "code-server.log", tmp_path / "webserver.log"
    with started(image, code_server, env, server_log) as server_process:
        wait_for(lambda: run(image, probe, env).returncode == 0, server_process, server_log, "the code server")
        with started(image, webserver, env, web_log) as web:
            wait_for(lambda: http_json(f"http://127.0.0.1:{web_port}/server_info"), web, web_log, "the webserver")
            assert_location_loaded(web_port, "pipeline_project")
