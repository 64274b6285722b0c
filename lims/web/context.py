"""What a request sees: the app's runtime, its settings and the request's database session.

Views import from here (not from :mod:`lims.web`), so the package that builds the app and the
views it registers do not import each other.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, g
from sqlalchemy.orm import Session

from lims.config import Settings
from lims.runtime import Runtime


def state() -> Runtime:
    return current_app.extensions["lims"]  # type: ignore[no-any-return]


def settings() -> Settings:
    return state().settings


def get_session() -> Session:
    """The session of this app context; closed (and rolled back if open) at teardown."""
    if "db_session" not in g:
        g.db_session = state().sessionmaker()
    return g.db_session  # type: ignore[no-any-return]


def close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def local_time(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Jinja filter: show a UTC timestamp in the lab's zone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(settings().timezone)).strftime(fmt)  # type: ignore[no-any-return]
