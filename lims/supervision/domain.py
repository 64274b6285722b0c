"""The supervision domain: plans and draws, sampling, notices and objections, statistics and
the white paper."""

from __future__ import annotations

import importlib
from typing import Any

from lims.domains import Domain

# The modules that register a blueprint ``bp`` and those that add a ``lims`` command ``command``.
VIEWS: tuple[str, ...] = ("plan_views", "sampling_views", "stats_views", "whitepaper_views")
COMMANDS: tuple[str, ...] = ("whitepaper_cli",)


def _blueprints() -> tuple[Any, ...]:
    return tuple(importlib.import_module(f"lims.supervision.{m}").bp for m in VIEWS)


def _commands() -> tuple[Any, ...]:
    return tuple(importlib.import_module(f"lims.supervision.{m}").command for m in COMMANDS)


DOMAIN = Domain("supervision", blueprints=_blueprints, commands=_commands)
