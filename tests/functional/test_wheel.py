"""The built wheel, installed non-editable into a fresh venv, sets up and seeds an instance.

The venv gets the wheel and nothing of the source tree: a ``.pth`` file lends it the
dependencies already installed in the test's own environment (a copy would cost a download),
and every command runs from an empty folder with no ``PYTHONPATH``, so ``import lims`` can only
find the installed copy, which the test asserts.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from lims.migrate import migrations_dir

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert out.returncode == 0, f"{args}: {out.stdout}\n{out.stderr}"
    return out


def _source_files() -> set[str]:
    """What the wheel must carry: every file under lims/ and drivers/, and migrations/ as
    lims/migrations, less bytecode."""
    files = set()
    for top, name in (("lims", "lims"), ("drivers", "drivers"), ("migrations", "lims/migrations")):
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.add(f"{name}/{path.relative_to(ROOT / top).as_posix()}")
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy so that the build leaves no build/ or egg-info in the checkout.
    src = tmp_path_factory.mktemp("src")
    for name in ("lims", "drivers", "migrations"):
        shutil.copytree(ROOT / name, src / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(src)])
    (built,) = dist.glob("lims-*.whl")
    return built


def test_the_wheel_carries_every_module_template_static_file_schema_and_migration(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = {n for n in zf.namelist() if ".dist-info/" not in n}
    assert names == _source_files(), {"missing": sorted(_source_files() - names),
                                      "unexpected": sorted(names - _source_files())}
    assert "lims/web/templates/base.html" in names and "lims/web/static/style.css" in names
    assert {"lims/calibration/schemas/dcc.xsd", "lims/calibration/schemas/SI_Format.xsd",
            "lims/migrations/env.py", "lims/migrations/script.py.mako"} <= names
    assert any(n.startswith("lims/migrations/versions/2") for n in names)


def test_the_installed_wheel_initialises_and_seeds_an_instance(wheel, tmp_path, font_dir):
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    bin_dir = target / "bin"
    site = Path(sysconfig.get_path("purelib", vars={"base": str(target),
                                                     "platbase": str(target)}))
    assert site.is_dir()
    # The test environment's dependencies, not the checkout: its site-packages holds lims only
    # as an editable finder, and .pth files in a directory named by a .pth are not run.
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "lims_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install",
          "--no-deps", "--no-index", "--quiet", str(wheel)])

    work = tmp_path / "elsewhere"
    work.mkdir()
    inst = tmp_path / "inst"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIMS_", "PYTHON", "VIRTUAL_ENV"))}
    # English output to match on (the command line speaks the default zh_CN otherwise).
    env.update(LIMS_INSTANCE_PATH=str(inst), LIMS_FONT_DIR=str(font_dir),
               LIMS_PUBLIC_URL="https://lims.example.test", LIMS_DEFAULT_LOCALE="en")

    where = _run([str(bin_dir / "python"), "-c",
                  "import lims, lims.migrate; print(lims.__file__); "
                  "print(lims.migrate.migrations_dir())"], cwd=work, env=env).stdout.split()
    assert [Path(p).is_relative_to(site) for p in where] == [True, True], where
    assert not any(Path(p).is_relative_to(ROOT) for p in where)

    out = _run([str(bin_dir / "lims"), "init"], cwd=work, env=env)
    assert "database migrated to head" in out.stdout
    heads = _script_heads()
    db = sqlite3.connect(inst / "lims.sqlite")
    try:
        assert {r[0] for r in db.execute("SELECT version_num FROM alembic_version")} == heads
    finally:
        db.close()
    assert (inst / "pki" / "signer.p12").is_file()

    demo = _run([str(bin_dir / "lims"), "demo"], cwd=work, env=env)
    assert "signatory" in demo.stdout and "technician" in demo.stdout
    listed = _run([str(bin_dir / "lims"), "report", "list"], cwd=work, env=env)
    assert "issued" in listed.stdout


def _script_heads() -> set[str]:
    from alembic.script import ScriptDirectory

    from lims.migrate import alembic_config

    cfg = alembic_config("sqlite://")
    assert Path(cfg.get_main_option("script_location") or "") == migrations_dir()
    return set(ScriptDirectory.from_config(cfg).get_heads())
