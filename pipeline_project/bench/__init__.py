"""The benchmark behind `pipeline-project bench` (runner.run_bench): the pipeline against DuckDB, pandas
and polars on the same day.

It calls only the pipeline's public entry points (compute_day, publish_day, open_storage), so it
measures whatever engine is behind them. Nothing is imported here, so that the CLI can read the
formats and engines (engines.py) without loading numpy.
"""
