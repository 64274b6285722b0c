"""The wheel's package list matches the source tree, and Alembic finds migrations via the package."""

from __future__ import annotations

import tomllib
from pathlib import Path

from lims.migrate import migrations_dir

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _source_packages() -> set[str]:
    """Every folder with an ``__init__.py``, named as it is installed."""
    mapping = {"lims": ROOT / "lims", "drivers": ROOT / "drivers",
               "lims.migrations": ROOT / "migrations"}
    found = set()
    for name, folder in mapping.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder).parts
            found.add(".".join((name, *rel)))
    return found


def test_every_package_in_the_tree_is_listed_for_the_wheel():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed == _source_packages(), (
        "pyproject.toml [tool.setuptools] packages must list exactly the packages under lims/, "
        "drivers/ and migrations/")
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"lims.migrations": "migrations"}


def test_the_migrations_are_found_through_the_package():
    # In a checkout (the editable install the tests run from) that is the repository's folder.
    found = migrations_dir()
    assert found.resolve() == (ROOT / "migrations").resolve()
    assert (found / "env.py").is_file() and (found / "script.py.mako").is_file()
    assert sorted(p.name for p in (found / "versions").glob("2*.py"))
