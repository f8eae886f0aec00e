"""The distribution lists every Python package in the tree, so a wheel or image build leaves none out."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def declared() -> tuple[set[str], dict[str, str]]:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(conf["packages"]), conf["package-dir"]


def test_every_package_directory_is_listed_in_pyproject() -> None:
    packages, dirs = declared()
    found = set()
    for top, rel in dirs.items():
        base = ROOT / rel
        for init in base.rglob("__init__.py"):
            parts = init.parent.relative_to(base).parts
            found.add(".".join((top, *parts)))
    assert found - packages == set()
