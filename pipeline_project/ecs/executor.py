"""dagster_aws's ecs_executor for a sharded run's steps, refusing escalation (see guard.py).

Its config schema leaves out the fields that reach RunTask (`run_task_kwargs`, `task_overrides`,
`ephemeral_storage`), so run config cannot set them either; each step's task is the run worker's
task definition with the command and the size as the only overrides.
"""

from __future__ import annotations

from collections.abc import Iterator

from dagster import Field, IntSource, executor
from dagster._core.definitions.executor_definition import multiple_process_executor_requirements
from dagster._core.events import DagsterEvent
from dagster._core.execution.retries import RetryMode, get_retries_config
from dagster._core.execution.step_dependency_config import StepDependencyConfig, get_step_dependency_config_field
from dagster._core.execution.tags import get_tag_concurrency_limits_config
from dagster._core.executor.base import Executor
from dagster._core.executor.init import InitExecutorContext
from dagster._core.executor.step_delegating import StepDelegatingExecutor, StepHandlerContext
from dagster_aws.ecs.executor import EcsStepHandler
from dagster_aws.ecs.launcher import EcsRunLauncher

from pipeline_project.ecs.guard import check_overrides_size, refuse_escalation


class GuardedEcsStepHandler(EcsStepHandler):
    def launch_step(self, step_handler_context: StepHandlerContext) -> Iterator[DagsterEvent]:
        step_key = self._get_step_key(step_handler_context)
        refuse_escalation(step_handler_context.dagster_run.tags)
        refuse_escalation(step_handler_context.step_tags[step_key], what=f"step {step_key}")
        yield from super().launch_step(step_handler_context)

    def _run_task(self, **run_task_kwargs):
        check_overrides_size(run_task_kwargs.get("overrides", {}), what="a step")
        return super()._run_task(**run_task_kwargs)


@executor(
    name="ecs",
    config_schema={
        "cpu": Field(IntSource, is_required=False),
        "memory": Field(IntSource, is_required=False),
        "retries": get_retries_config(),
        "max_concurrent": Field(IntSource, is_required=False),
        "tag_concurrency_limits": get_tag_concurrency_limits_config(),
        "step_dependency_config": get_step_dependency_config_field(),
    },
    requirements=multiple_process_executor_requirements(),
)
def guarded_ecs_executor(init_context: InitExecutorContext) -> Executor:
    launcher = init_context.instance.run_launcher
    if not isinstance(launcher, EcsRunLauncher):
        raise TypeError("the ecs step executor needs the instance's run launcher to be an EcsRunLauncher")
    config = init_context.executor_config
    return StepDelegatingExecutor(
        GuardedEcsStepHandler(
            run_launcher=launcher,
            run_task_kwargs=None,
            cpu=config.get("cpu"),
            memory=config.get("memory"),
            ephemeral_storage=None,
            task_overrides=None,
        ),
        retries=RetryMode.from_config(config["retries"]),
        max_concurrent=config.get("max_concurrent"),
        tag_concurrency_limits=config.get("tag_concurrency_limits"),
        should_verify_step=True,
        step_dependency_config=StepDependencyConfig.from_config(config.get("step_dependency_config")),
    )
