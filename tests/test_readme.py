"""The README's settings table is the documentation of `settings.py`: keep them equal."""

import re
from pathlib import Path

from settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_documents_every_setting() -> None:
    documented = set(re.findall(r"^\| `(NUMBORS_[A-Z_]+)` \|", README.read_text(), re.MULTILINE))
    defined = {f"NUMBORS_{name.upper()}" for name in Settings.model_fields}
    assert defined - documented == set(), "settings missing from the README table"
    assert documented - defined == set(), "README documents settings that do not exist"


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text()[:400]
    assert "make run" in head and "make test" in head
