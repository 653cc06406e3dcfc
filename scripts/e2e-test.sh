#!/usr/bin/env bash
# End-to-end check of a deployed environment or of a local stack: land a small sample day, wait
# for the run raw_data_sensor launches for it and for its report, check the report's numbers.
#
#   scripts/e2e-test.sh dev             bucket and Dagster URL from the Terraform outputs of
#                                       terraform/environments/dev (data_bucket, dagster_url)
#   BUCKET=b DAGSTER_URL=u scripts/e2e-test.sh
#                                       any stack; for a local one (moto's server or MinIO plus
#                                       `dagster dev`) also export AWS_ENDPOINT_URL
#
# The day defaults to the day before yesterday (UTC): inside the sensor's look-back window
# (PIPELINE_SENSOR_LOOKBACK_DAYS, default 3) and never the daily schedule's day. Its raw-data
# prefix must be empty or hold only an earlier sample. The same sample (fresh seed each time) is
# also processed locally with `pipeline-project run`, and the deployed report must carry the same
# numbers, read from exactly the objects landed, written by the sensor's run.
#
# The UI's ALB is internal: run this from inside the VPC (VPN, SSM port forwarding to the ALB).
# Needs the project installed (pipeline-project, and python with boto3) and AWS credentials that
# may write raw-data/ in the bucket.
#
# Environment: E2E_DAY (YYYY-MM-DD), E2E_ROWS (200), E2E_FILES (3), E2E_SEED (epoch seconds),
# E2E_RUN_TIMEOUT (900 s: sensor tick, queue, Fargate start, run), E2E_REPORT_TIMEOUT (120 s),
# E2E_POLL_SECONDS (5), E2E_LOCATION (pipeline_project), E2E_ALLOW_PROD=1 to run against prod,
# DAGSTER_AUTH_HEADER ("Name: value", e.g. the ALB OIDC session cookie), DAGSTER_CA_BUNDLE,
# E2E_TF_BUCKET_OUTPUT / E2E_TF_URL_OUTPUT (Terraform output names), PIPELINE_PROJECT, PYTHON.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { printf 'e2e: %s\n' "$*"; }
fail() {
  printf 'e2e: FAIL: %s\n' "$*" >&2
  exit 1
}

if [ "$#" -gt 1 ]; then
  echo "usage: $0 [ENVIRONMENT]   (or BUCKET=... DAGSTER_URL=... $0)" >&2
  exit 2
fi
environment="${1:-}"

# Tools: the project's virtualenv when there is one.
pipeline_project="${PIPELINE_PROJECT:-}"
python="${PYTHON:-}"
if [ -z "$pipeline_project" ]; then
  if [ -x "$repo/.venv/bin/pipeline-project" ]; then pipeline_project="$repo/.venv/bin/pipeline-project"; else pipeline_project=pipeline-project; fi
fi
if [ -z "$python" ]; then
  if [ -x "$repo/.venv/bin/python" ]; then python="$repo/.venv/bin/python"; else python=python3; fi
fi
command -v "$pipeline_project" >/dev/null || fail "$pipeline_project not found: install the project (make install)"
command -v "$python" >/dev/null || fail "$python not found"

# Where: explicit values win, then the environment's Terraform outputs.
bucket="${BUCKET:-}"
dagster_url="${DAGSTER_URL:-}"
if [ -z "$bucket" ] || [ -z "$dagster_url" ]; then
  [ -n "$environment" ] || fail "give an environment (dev, prod) or BUCKET and DAGSTER_URL"
  tf_dir="$repo/terraform/environments/$environment"
  [ -d "$tf_dir" ] || fail "no Terraform environment at $tf_dir"
  command -v terraform >/dev/null || fail "terraform not found (or give BUCKET and DAGSTER_URL)"
  if [ -z "$bucket" ]; then
    bucket="$(terraform -chdir="$tf_dir" output -raw "${E2E_TF_BUCKET_OUTPUT:-data_bucket}")" ||
      fail "cannot read the bucket from the Terraform outputs of $environment"
  fi
  if [ -z "$dagster_url" ]; then
    dagster_url="$(terraform -chdir="$tf_dir" output -raw "${E2E_TF_URL_OUTPUT:-dagster_url}")" ||
      fail "cannot read the Dagster URL from the Terraform outputs of $environment"
  fi
fi
if [ "$environment" = "prod" ] && [ "${E2E_ALLOW_PROD:-}" != "1" ]; then
  fail "this writes sample data and a report into prod; set E2E_ALLOW_PROD=1 if that is really meant"
fi
dagster_url="${dagster_url%/}"
dagster_url="${dagster_url%/graphql}"

rows="${E2E_ROWS:-200}"
files="${E2E_FILES:-3}"
seed="${E2E_SEED:-$(date +%s)}"
run_timeout="${E2E_RUN_TIMEOUT:-900}"
report_timeout="${E2E_REPORT_TIMEOUT:-120}"
poll="${E2E_POLL_SECONDS:-5}"
location="${E2E_LOCATION:-pipeline_project}"
for number in "$rows" "$files" "$seed" "$run_timeout" "$report_timeout" "$poll"; do
  [[ "$number" =~ ^[0-9]+$ ]] || fail "expected a whole number, got '$number'"
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Dagster's GraphQL API and S3, from Python (values travel as arguments, never through the shell).
cat >"$work/e2e.py" <<'PY'
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

RUNS = """query E2ERuns($filter: RunsFilter!) {
  runsOrError(filter: $filter, limit: 100) {
    __typename
    ... on Runs { results { runId status } }
    ... on PythonError { message }
  }
}"""
SENSOR = """query E2ESensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status } }
    ... on PythonError { message }
  }
}"""


def graphql(url, query, variables=None):
    headers = {"Content-Type": "application/json"}
    auth = os.environ.get("DAGSTER_AUTH_HEADER", "")
    if auth:
        name, _, value = auth.partition(":")
        headers[name.strip()] = value.strip()
    context = ssl.create_default_context(cafile=os.environ.get("DAGSTER_CA_BUNDLE") or None)
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{url}/graphql", body, headers)
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        sys.exit(f"cannot query {url}/graphql: {exc}")
    if answer.get("errors"):
        sys.exit(f"GraphQL error from {url}: {answer['errors'][0].get('message')}")
    return answer["data"]


def s3():
    import boto3

    return boto3.client("s3")


def objects(bucket, prefix):
    pages = s3().get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    return {
        v["Key"][len(prefix):]: v.get("VersionId")
        for page in pages
        for v in page.get("Versions", [])
        if v["IsLatest"]
    }


def main(command, *args):
    if command == "ping":
        print(graphql(args[0], "{ version }")["version"])
    elif command == "sensor":
        url, location, sensor = args
        selector = {"repositoryLocationName": location, "repositoryName": "__repository__", "sensorName": sensor}
        found = graphql(url, SENSOR, {"selector": selector})["sensorOrError"]
        print(found["sensorState"]["status"] if found["__typename"] == "Sensor" else found["__typename"])
    elif command == "runs":
        url, day = args
        tags = [{"key": "pipeline/trigger", "value": "sensor"}, {"key": "dagster/partition", "value": day}]
        found = graphql(url, RUNS, {"filter": {"tags": tags}})["runsOrError"]
        if found["__typename"] != "Runs":
            sys.exit(f"cannot list runs: {found.get('message', found['__typename'])}")
        for run in found["results"]:  # newest first
            print(run["runId"], run["status"])
    elif command == "objects":
        for name, version in sorted(objects(*args).items()):
            print(name, version or "-")
    elif command == "delete":  # keys on stdin, one a line, deleted in that order
        client = s3()
        for key in sys.stdin.read().split("\n"):
            if key:
                client.delete_object(Bucket=args[0], Key=key)
    elif command == "report":
        bucket, key, out = args
        client = s3()
        try:
            data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            sys.exit(3)
        with open(out, "wb") as f:
            f.write(data)
    elif command == "check":
        expected_path, actual_path, run_id, bucket, day, rows = args
        with open(expected_path) as f:
            expected = json.load(f)
        with open(actual_path) as f:
            actual = json.load(f)
        prefix = f"raw-data/{day}/"
        problems = []
        if actual.get("run_id") != run_id:
            problems.append(f"written by run {actual.get('run_id')}, not by the sensor's run {run_id}")
        if actual["records"]["read"] != int(rows):
            problems.append(f"{actual['records']['read']} records read, the sample has {rows}")
        for field in ("records", "files", "rejected_by_reason", "events_by_type", "unique_users", "revenue"):
            if actual.get(field) != expected.get(field):
                problems.append(f"{field}: {json.dumps(actual.get(field))}, expected {json.dumps(expected.get(field))}")

        def per_file(report):
            return [
                (e["key"], e["status"], e.get("reason"), e["records_read"], e["records_rejected"])
                for e in report["inputs"]
            ]

        if per_file(actual) != per_file(expected):
            problems.append(f"per-file numbers differ: {per_file(actual)} != {per_file(expected)}")
        landed = {prefix + name: version for name, version in objects(bucket, prefix).items()}
        read = {e["key"]: e.get("version_id") for e in actual["inputs"]}
        if any(key not in landed or (version and landed[key] != version) for key, version in read.items()):
            problems.append("the report did not read the objects just landed (keys or version ids differ)")
        if problems:
            sys.exit("report does not match the sample:\n  " + "\n  ".join(problems))
        r = actual["records"]
        print(
            f"read={r['read']} valid={r['valid']} rejected={r['rejected']} duplicates={r['duplicates']} "
            f"files={actual['files']['processed']} unique_users={actual['unique_users']}"
        )
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main(*sys.argv[1:])
PY
helper() { "$python" "$work/e2e.py" "$@"; }

day="${E2E_DAY:-$("$python" -c 'import datetime as d; print(d.datetime.now(d.timezone.utc).date() - d.timedelta(days=2))')}"
[[ "$day" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || fail "E2E_DAY must be YYYY-MM-DD, got '$day'"
prefix="raw-data/$day/"
say "stack: s3://$bucket, $dagster_url; day $day, $rows rows in $files files, seed $seed"

version="$(helper ping "$dagster_url")" || fail "Dagster is not answering at $dagster_url (inside the VPC? auth header?)"
say "Dagster $version is up"
sensor="$(helper sensor "$dagster_url" "$location" raw_data_sensor)" || fail "cannot read raw_data_sensor's state"
[ "$sensor" = "RUNNING" ] || fail "raw_data_sensor is $sensor in location $location: start it (UI: Automation)"

# The day's prefix: empty, or only an earlier sample of this script's, which is removed below
# (its _SUCCESS marker before anything else, so no run starts on a half-replaced day).
listing="$(helper objects "$bucket" "$prefix")" || fail "cannot list s3://$bucket/$prefix (credentials? bucket?)"
sample_name='^(_SUCCESS|web/events-[0-9]{4}[.]csv|app/events-[0-9]{4}[.]jsonl[.]gz|partner/events-[0-9]{4}[.]parquet)$'
marker=""
earlier=""
count=0
while read -r name _version; do
  [ -n "$name" ] || continue
  [[ "$name" =~ $sample_name ]] ||
    fail "s3://$bucket/$prefix already holds $name, which this script did not write: pick an empty day with E2E_DAY"
  count=$((count + 1))
  if [ "$name" = "_SUCCESS" ]; then marker="$prefix$name"$'\n'; else earlier+="$prefix$name"$'\n'; fi
done <<<"$listing"

# The expected report: the same sample, processed locally.
mkdir -p "$work/home"
printf 'telemetry:\n  enabled: false\n' >"$work/home/dagster.yaml"
PIPELINE_STORAGE_URL="$work/lake" "$pipeline_project" sample-data --from "$day" --rows "$rows" --files "$files" \
  --seed "$seed" >/dev/null || fail "cannot write the local sample"
PIPELINE_STORAGE_URL="$work/lake" DAGSTER_HOME="$work/home" "$pipeline_project" run --date "$day" >"$work/local-run.log" ||
  fail "the local reference run failed: $(tail -n 3 "$work/local-run.log")"
expected="$work/lake/reports/$day.json"
[ -f "$expected" ] || fail "the local reference run wrote no report"

# Replace the earlier sample, if any, and note the day's runs so far.
if [ "$count" -gt 0 ]; then
  printf '%s%s' "$marker" "$earlier" | helper delete "$bucket" || fail "cannot delete the earlier sample"
  say "removed an earlier sample ($count objects) from s3://$bucket/$prefix"
fi
before="$(helper runs "$dagster_url" "$day" | cut -d' ' -f1)" || fail "cannot list runs"
is_new() { ! grep -qxF -- "$1" <<<"$before"; }

# Land it.
PIPELINE_STORAGE_URL="s3://$bucket" "$pipeline_project" sample-data --from "$day" --rows "$rows" --files "$files" \
  --seed "$seed" >/dev/null || fail "cannot land the sample in s3://$bucket/$prefix"
say "landed $rows rows in $files files under s3://$bucket/$prefix"

# The sensor's run: a new one for the day, finished (the newest, if the sensor launched several).
deadline=$((SECONDS + run_timeout))
next_note=$((SECONDS + 30))
while :; do
  runs="$(helper runs "$dagster_url" "$day")" || fail "cannot list runs"
  run_id=""
  first=""
  pending=0
  while read -r id status; do
    if [ -z "$id" ] || ! is_new "$id"; then continue; fi
    [ -n "$first" ] || first="$id"
    case "$status" in
      SUCCESS) [ -n "$run_id" ] || run_id="$id" ;;
      FAILURE | CANCELED | CANCELING) fail "the sensor's run $id for $day ended $status: $dagster_url/runs/$id" ;;
      *) pending=1 ;;
    esac
  done <<<"$runs"
  if [ "$pending" = 0 ] && [ -n "$run_id" ]; then
    break
  fi
  if ((SECONDS >= deadline)); then
    [ -z "$first" ] ||
      fail "the sensor's run for $day did not finish within ${run_timeout}s: $dagster_url/runs/$first"
    fail "no run from raw_data_sensor for $day within ${run_timeout}s (daemon healthy? day inside the look-back window?)"
  fi
  if ((SECONDS >= next_note)); then
    say "waiting for the sensor's run ($((deadline - SECONDS))s left)"
    next_note=$((SECONDS + 30))
  fi
  sleep "$poll"
done
say "run $run_id succeeded: $dagster_url/runs/$run_id"

# Its report (the run writes it before it ends; S3 is read-after-write consistent, so this is quick).
deadline=$((SECONDS + report_timeout))
until helper report "$bucket" "reports/$day.json" "$work/report.json" 2>"$work/report.err" &&
  "$python" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["run_id"] != sys.argv[2])' \
    "$work/report.json" "$run_id"; do
  ((SECONDS < deadline)) ||
    fail "no report from run $run_id at s3://$bucket/reports/$day.json within ${report_timeout}s $(tail -n 1 "$work/report.err")"
  sleep "$poll"
done
numbers="$(helper check "$expected" "$work/report.json" "$run_id" "$bucket" "$day" "$rows" 2>&1)" || fail "$numbers"
say "OK $day: s3://$bucket/reports/$day.json from run $run_id matches the sample: $numbers"
