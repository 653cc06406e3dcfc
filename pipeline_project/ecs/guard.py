"""What may reach an ECS RunTask request: which run and step tags, and how many characters.

dagster_aws copies the tags `ecs/run_task_kwargs`, `ecs/task_overrides` and
`ecs/container_overrides` into RunTask (and reads `ecs/ephemeral_storage`). Anyone who may launch a
run, in the UI or through GraphQL, sets run tags, so with those tags they could replace the
container's command, hand the task another role or move it to other subnets with a public IP.
Only the sizing tags the trigger policy writes pass; every other `ecs/` tag is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

# The trigger policy's sizing tags (defs/policy.py): positive integers, Fargate checks the pair.
SIZING_TAGS = frozenset({"ecs/cpu", "ecs/memory"})
# Written by the launcher after RunTask and copied onto retries; RunTask never reads them.
LAUNCHER_BOOKKEEPING = frozenset({"ecs/task_arn", "ecs/cluster"})


class EscalationRefused(Exception):
    """A run or step whose tags could change what its ECS task runs, as whom, or where."""


def refuse_escalation(tags: Mapping[str, str], what: str = "run") -> None:
    """Raise EscalationRefused, naming the first offending tag, unless the tags are safe."""
    for key in sorted(tags):
        if not key.startswith("ecs/") or key in LAUNCHER_BOOKKEEPING:
            continue
        if key not in SIZING_TAGS:
            raise EscalationRefused(
                f"{what} refused: its tag {key} could change the ECS task's command, role, network or task "
                f"definition, and only {' and '.join(sorted(SIZING_TAGS))} may be set."
            )
        value = str(tags[key])
        if not (value.isascii() and value.isdigit() and int(value) > 0):
            raise EscalationRefused(f"{what} refused: its tag {key} must be a positive whole number, not {value!r}.")


# RunTask refuses overrides above this many characters (the JSON of the `overrides` field).
OVERRIDES_LIMIT = 8192


class OverridesTooLarge(Exception):
    """A RunTask request ECS would refuse: said here, with the setting to change."""


def check_overrides_size(overrides: Mapping, what: str = "run") -> int:
    """The overrides' size in characters, as ECS counts them; raise OverridesTooLarge above the limit."""
    size = len(json.dumps(overrides, separators=(",", ":")))
    if size > OVERRIDES_LIMIT:
        raise OverridesTooLarge(
            f"{what}'s ECS task overrides are {size} characters, over RunTask's {OVERRIDES_LIMIT}: lower "
            "PIPELINE_BACKFILL_BATCH_DAYS or raise PIPELINE_SHARD_BYTES so a run holds fewer shards."
        )
    return size
