"""Run daily_report_job for one day as the daemon and a run worker do it.

The RunRequest is resolved the way the sensor and schedule daemons resolve it (partition tags and
the job's run config), then executed with the multiprocess executor: the step runs in a subprocess.
`python -m pipeline_project_tests.observability.run_worker DAY`, with DAGSTER_HOME and the
pipeline's environment set; exits 0 when the run succeeded, 1 when it failed.
"""

import sys

from dagster import DagsterInstance, RunRequest, build_reconstructable_job, execute_job


def daily_report_job():
    from pipeline_project.definitions import defs

    return defs.resolve_job_def("daily_report_job")


def main(day: str) -> int:
    request = RunRequest(partition_key=day, tags={"pipeline/trigger": "test"}).with_resolved_tags_and_config(
        daily_report_job(), [], None
    )
    job = build_reconstructable_job("pipeline_project_tests.observability.run_worker", "daily_report_job")
    with DagsterInstance.get() as instance:
        result = execute_job(job, instance, run_config=request.run_config, tags=request.tags)
        return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
