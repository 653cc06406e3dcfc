"""dagster_aws's EcsRunLauncher, refusing runs whose tags would escalate (see guard.py).

deploy/dagster.yaml names this class. The check runs before any AWS call, so a refused run starts
no task: the queue daemon marks it failed with the refusal as the reason. A RunTask request ECS
would refuse for its overrides' size fails here too, in one sentence.
"""

from __future__ import annotations

from dagster._core.launcher import LaunchRunContext, ResumeRunContext
from dagster_aws.ecs import EcsRunLauncher

from pipeline_project.ecs.guard import check_overrides_size, refuse_escalation


class GuardedEcsRunLauncher(EcsRunLauncher):
    def launch_run(self, context: LaunchRunContext) -> None:
        refuse_escalation(context.dagster_run.tags)
        super().launch_run(context)

    def resume_run(self, context: ResumeRunContext) -> None:
        refuse_escalation(context.dagster_run.tags)
        super().resume_run(context)

    def _run_task(self, **run_task_kwargs):
        check_overrides_size(run_task_kwargs.get("overrides", {}))
        return super()._run_task(**run_task_kwargs)
