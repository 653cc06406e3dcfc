"""dagster_aws's EcsRunLauncher, refusing runs whose tags would escalate (see guard.py).

deploy/dagster.yaml names this class. The check runs before any AWS call, so a refused run starts
no task: the queue daemon marks it failed with the refusal as the reason.
"""

from __future__ import annotations

from dagster._core.launcher import LaunchRunContext, ResumeRunContext
from dagster_aws.ecs import EcsRunLauncher

from pipeline_project.ecs.guard import refuse_escalation


class GuardedEcsRunLauncher(EcsRunLauncher):
    def launch_run(self, context: LaunchRunContext) -> None:
        refuse_escalation(context.dagster_run.tags)
        super().launch_run(context)

    def resume_run(self, context: ResumeRunContext) -> None:
        refuse_escalation(context.dagster_run.tags)
        super().resume_run(context)
