"""The compiled modules of the core: the JSON lines scanner (pipeline_project/core/_jsonl_scan.c)
and the contract's row rules over byte ranges (pipeline_project/core/_rules.c).

Everything else about the package is in pyproject.toml; setuptools reads both.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("pipeline_project.core._jsonl_scan", ["pipeline_project/core/_jsonl_scan.c"]),
        Extension("pipeline_project.core._rules", ["pipeline_project/core/_rules.c"]),
    ]
)
