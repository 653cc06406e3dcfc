"""Dagster wiring: partitions, resources, assets, checks, sensors and schedules."""

from pipeline_project.observability.logging import configure_process

# First, before the asset modules load: in json mode their load-time warnings are JSON lines too.
configure_process()
