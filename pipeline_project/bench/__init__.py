"""The benchmark behind `pipeline-project bench`: the pipeline against DuckDB and pandas on the same day.

It calls only the pipeline's public entry points (compute_day, publish_day, open_storage), so it
measures whatever engine is behind them.
"""

from pipeline_project.bench.runner import run_bench

__all__ = ["run_bench"]
