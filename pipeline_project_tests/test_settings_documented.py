"""Every environment variable the code reads is in the README's configuration table."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline_project.settings import SETTINGS

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_has_a_row_in_the_readme():
    rows = set(re.findall(r"^\| `([A-Z_]+)` \|", README.read_text(), flags=re.MULTILINE))
    assert set(SETTINGS) - rows == set()
