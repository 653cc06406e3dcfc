"""Per-run ECS task size from the day's raw input size: big days get bigger Fargate tasks.

`PIPELINE_ECS_SIZE_TIERS` is a comma-separated list of tiers `MIN_SIZE:CPU/MEMORY`, for example
`0:1024/4096,5GiB:2048/8192,20GiB:4096/16384`. A day whose raw input (the sum of the sizes of the
objects the contract considers under raw-data/D/) is at least MIN_SIZE runs with CPU units
(1024 = 1 vCPU) and MEMORY MiB; the last tier whose MIN_SIZE the day reaches wins. MIN_SIZE is
bytes, optionally with a binary unit (KiB, MiB, GiB, TiB). The first tier starts at 0, MIN_SIZE
strictly increases, CPU and MEMORY never decrease, and every pair is a valid Fargate size.

The trigger policy (defs/policy.py) puts the chosen size in the run tags `ecs/cpu` and `ecs/memory`
of every run it routes, which the EcsRunLauncher applies as task overrides.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

VARIABLE = "PIPELINE_ECS_SIZE_TIERS"
CPU_TAG = "ecs/cpu"
MEMORY_TAG = "ecs/memory"
INPUT_BYTES_TAG = "pipeline/input_bytes"

UNITS = {"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}

# Fargate (Linux) task sizes: CPU units -> the memory sizes (MiB) it accepts.
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

_TIER = re.compile(r"^(?P<size>\d+)\s*(?P<unit>[A-Za-z]*)\s*:\s*(?P<cpu>\d+)\s*/\s*(?P<memory>\d+)$")


class SizeTiersError(ValueError):
    """PIPELINE_ECS_SIZE_TIERS is not a valid list of tiers; the message says what is wrong."""


@dataclass(frozen=True)
class Tier:
    min_bytes: int
    cpu: int  # CPU units, 1024 = 1 vCPU
    memory: int  # MiB


def _fargate_problem(cpu: int, memory: int) -> str | None:
    if cpu not in FARGATE_MEMORY:
        return f"CPU must be one of {', '.join(map(str, FARGATE_MEMORY))} (CPU units, 1024 = 1 vCPU), not {cpu}"
    choices = FARGATE_MEMORY[cpu]
    if memory not in choices:
        allowed = (
            ", ".join(map(str, choices))
            if len(choices) <= 3
            else f"{choices[0]} to {choices[-1]} in steps of {choices[1] - choices[0]}"
        )
        return f"Fargate with {cpu} CPU units takes {allowed} MiB of memory, not {memory}"
    return None


def parse_tiers(text: str) -> tuple[Tier, ...]:
    """The tiers in `text`, or SizeTiersError naming the variable, the tier and the problem."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise SizeTiersError(f"{VARIABLE} must be comma-separated MIN_SIZE:CPU/MEMORY tiers, got {text!r}")
    tiers: list[Tier] = []
    for n, part in enumerate(parts, start=1):
        where = f"{VARIABLE}: tier {n} ({part!r})"
        match = _TIER.match(part)
        if not match:
            raise SizeTiersError(f"{where} is not MIN_SIZE:CPU/MEMORY, for example 5GiB:2048/8192")
        unit = match["unit"]
        if unit not in UNITS:
            raise SizeTiersError(f"{where}: unknown size unit {unit!r}; use bytes or KiB, MiB, GiB, TiB")
        tier = Tier(int(match["size"]) * UNITS[unit], int(match["cpu"]), int(match["memory"]))
        problem = _fargate_problem(tier.cpu, tier.memory)
        if problem:
            raise SizeTiersError(f"{where}: {problem}")
        if not tiers and tier.min_bytes != 0:
            raise SizeTiersError(f"{where}: the first tier must start at 0 so that every day has a size")
        if tiers and tier.min_bytes <= tiers[-1].min_bytes:
            raise SizeTiersError(f"{where}: MIN_SIZE must be larger than the previous tier's")
        if tiers and (tier.cpu < tiers[-1].cpu or tier.memory < tiers[-1].memory):
            raise SizeTiersError(f"{where}: a bigger day must not get less CPU or memory than the previous tier")
        tiers.append(tier)
    return tuple(tiers)


def tier_for(input_bytes: int, tiers: Sequence[Tier]) -> Tier:
    """The last tier whose MIN_SIZE the day's input reaches."""
    chosen = tiers[0]
    for tier in tiers:
        if input_bytes >= tier.min_bytes:
            chosen = tier
    return chosen


def size_tags(input_bytes: int, tiers: Sequence[Tier]) -> dict[str, str]:
    """Run tags for a day with `input_bytes` of raw input (tags are strings)."""
    tier = tier_for(input_bytes, tiers)
    return {CPU_TAG: str(tier.cpu), MEMORY_TAG: str(tier.memory), INPUT_BYTES_TAG: str(input_bytes)}


def largest_tags(tiers: Sequence[Tier]) -> dict[str, str]:
    """Run tags when the input size could not be measured: the biggest tier, never too small."""
    tier = tiers[-1]
    return {CPU_TAG: str(tier.cpu), MEMORY_TAG: str(tier.memory), INPUT_BYTES_TAG: "unknown"}
