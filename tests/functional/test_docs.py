"""The README documents every setting, driver, CLI command and scheduled job."""

from __future__ import annotations

from pathlib import Path

from drivers import DRIVERS
from lims.cli import main
from lims.config import SETTING_NAMES
from lims.domains import jobs

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_quick_start_has_exactly_two_commands():
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in quick.splitlines() if line.strip().startswith("make ")]
    assert commands == ["make run", "make test"]


def test_every_setting_is_documented():
    for name in SETTING_NAMES:
        assert f"`{name}`" in README, name


def test_every_driver_job_and_command_is_documented():
    for name in DRIVERS:
        assert f"`{name}`" in README
    for name in jobs():
        assert f"`{name}`" in README
    for name, cmd in main.commands.items():
        assert f"lims {name}" in README, name
        for sub in getattr(cmd, "commands", {}):
            assert f"lims {name} {sub}" in README, (name, sub)
