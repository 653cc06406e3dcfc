"""The one compiled module: the JSON lines scanner (pipeline_project/core/_jsonl_scan.c).

Everything else about the package is in pyproject.toml; setuptools reads both.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("pipeline_project.core._jsonl_scan", ["pipeline_project/core/_jsonl_scan.c"]),
    ]
)
