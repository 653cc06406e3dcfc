#!/usr/bin/env bash
# Reprocess one day (or RUN_DATE, or yesterday UTC): scripts/reprocess.sh [YYYY-MM-DD]
# Uses pipeline-project from PATH, else this checkout's .venv (make install) with make's DAGSTER_HOME default.
set -euo pipefail
if [ "$#" -gt 1 ]; then
  echo "usage: $0 [YYYY-MM-DD]" >&2
  exit 2
fi
cli=pipeline-project
if ! command -v "$cli" >/dev/null; then
  checkout="$(cd "$(dirname "$0")/.." && pwd)"
  cli="$checkout/.venv/bin/pipeline-project"
  if [ ! -x "$cli" ]; then
    echo "$0: pipeline-project is not on PATH and $cli does not exist: run make install first" >&2
    exit 2
  fi
  export DAGSTER_HOME="${DAGSTER_HOME:-$checkout/.dagster_home}"
fi
if [ "$#" -eq 1 ]; then
  exec "$cli" run --date "$1"
fi
exec "$cli" run
