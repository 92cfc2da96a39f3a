"""Packaging: only `gato` and `gato.*` are installed; the console entry point works."""

import subprocess
import sys
from pathlib import Path

from setuptools import find_packages

from gato.cli import COMMANDS

REPO = Path(__file__).resolve().parents[1]


def test_only_gato_packages_are_found():
    packages = find_packages(where=str(REPO), include=["gato", "gato.*"])
    assert "gato" in packages and "gato.tokenizers" in packages
    assert all(p == "gato" or p.startswith("gato.") for p in packages)
    assert "tokenizers" not in packages and "datasets" not in packages
    assert 'find_packages(include=["gato", "gato.*"])' in (REPO / "setup.py").read_text()


def test_every_gato_source_folder_is_a_package():
    """A folder of modules without __init__.py would be silently left out of the install."""
    packages = set(find_packages(where=str(REPO), include=["gato", "gato.*"]))
    folders = {p.parent for p in (REPO / "gato").rglob("*.py") if "__pycache__" not in p.parts}
    names = {".".join(f.relative_to(REPO).parts) for f in folders}
    assert names <= packages, f"folders without __init__.py: {sorted(names - packages)}"


def test_cli_help_lists_subcommands():
    result = subprocess.run([sys.executable, "-m", "gato.cli", "--help"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for name in COMMANDS:
        assert name in result.stdout
    assert "tokenize" in COMMANDS
