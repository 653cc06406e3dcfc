#!/usr/bin/env bash
# Reprocess one day (or RUN_DATE, or yesterday UTC): scripts/reprocess.sh [YYYY-MM-DD]
set -euo pipefail
if [ "$#" -gt 1 ]; then
  echo "usage: $0 [YYYY-MM-DD]" >&2
  exit 2
fi
if [ "$#" -eq 1 ]; then
  exec pipeline-project run --date "$1"
fi
exec pipeline-project run
