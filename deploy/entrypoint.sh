#!/usr/bin/env bash
# Image entrypoint: completes $DAGSTER_HOME/dagster.yaml from the environment, then runs the
# container's command (exec "$@").
#
# Dagster resolves `{env: NAME}` itself when it loads the instance, but EcsRunLauncher hands
# `run_task_kwargs` to ecs.run_task as they are, so deploy/dagster.yaml spells the run tasks'
# subnets and security group `{env_list: DAGSTER_RUN_...}`. This script replaces each such marker
# (only under run_launcher.config.run_task_kwargs, only for DAGSTER_RUN_* names) with the
# comma-separated value of that variable: the file is parsed and written as YAML, values never
# pass through the shell, each item must look like an AWS id, and the file is replaced atomically.
# Everything else (the database password above all) is left for Dagster to resolve in memory.
#
# The daemon launches runs, so `dagster-daemon ...` refuses to start while a variable is missing.
# Other commands (webserver, code server, run workers, `pipeline-project run`) never launch a task:
# without the variables they start with the file as it is.
set -euo pipefail

: "${DAGSTER_HOME:?DAGSTER_HOME is not set}"
strict=0
if [ "$#" -gt 0 ] && [ "$(basename -- "$1")" = "dagster-daemon" ]; then
  strict=1
fi

"${PYTHON:-python}" - "$DAGSTER_HOME/dagster.yaml" "$strict" <<'PY'
import os
import re
import sys
import tempfile

import yaml

path, strict = sys.argv[1], sys.argv[2] == "1"
NAME = re.compile(r"DAGSTER_RUN_[A-Z0-9_]+")
ITEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]*")


def fail(message):
    print(f"entrypoint: {message}", file=sys.stderr)
    sys.exit(1)


with open(path, encoding="utf-8") as f:
    config = yaml.safe_load(f) or {}
launcher = (config.get("run_launcher") or {}).get("config") or {}
kwargs = launcher.get("run_task_kwargs")
markers, missing = [], []


def find(node):
    if isinstance(node, dict):
        if set(node) == {"env_list"}:
            name = node["env_list"]
            if not isinstance(name, str) or not NAME.fullmatch(name):
                fail(f"{path}: env_list takes a DAGSTER_RUN_* variable name, not {name!r}")
            markers.append(name)
            if not os.environ.get(name, "").strip():
                missing.append(name)
        for value in node.values():
            find(value)
    elif isinstance(node, list):
        for value in node:
            find(value)


def items(name):
    values = [v.strip() for v in os.environ[name].split(",")]
    for value in values:
        if not ITEM.fullmatch(value):
            fail(f"{name} must be comma-separated AWS ids, got {os.environ[name]!r}")
    return values


def render(node):
    if isinstance(node, dict):
        if set(node) == {"env_list"}:
            return items(node["env_list"])
        return {key: render(value) for key, value in node.items()}
    if isinstance(node, list):
        return [render(value) for value in node]
    return node


find(kwargs)
if not markers:
    sys.exit(0)  # nothing to fill in (already done, or no run launcher settings)
if missing:
    if strict:
        fail(f"{', '.join(sorted(set(missing)))} not set: the daemon cannot launch run tasks without them")
    sys.exit(0)
launcher["run_task_kwargs"] = render(kwargs)
directory = os.path.dirname(os.path.abspath(path))
try:
    fd, tmp = tempfile.mkstemp(prefix=".dagster.yaml.", dir=directory)
except OSError as exc:
    fail(f"cannot write next to {path} ({exc.strerror}): DAGSTER_HOME must be writable by the container user")
with os.fdopen(fd, "w", encoding="utf-8") as out:
    out.write("# Rendered by entrypoint.sh from the image's deploy/dagster.yaml at container start.\n")
    yaml.safe_dump(config, out, sort_keys=False, default_flow_style=False)
    out.flush()
    os.fsync(out.fileno())
os.chmod(tmp, os.stat(path).st_mode & 0o777)
os.replace(tmp, path)
PY

exec "$@"
