"""The web edge: per-request session, authentication hooks, error mapping, blueprints."""

from __future__ import annotations

import dataclasses
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lims.config import Settings


@dataclasses.dataclass
class LimsState:
    settings: Settings
    engine: Engine
    sessionmaker: sessionmaker[Session]


def state() -> LimsState:
    return current_app.extensions["lims"]  # type: ignore[no-any-return]


def settings() -> Settings:
    return state().settings


def get_session() -> Session:
    """The session of this app context; closed (and rolled back if open) at teardown."""
    if "db_session" not in g:
        g.db_session = state().sessionmaker()
    return g.db_session  # type: ignore[no-any-return]


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def local_time(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Jinja filter: show a UTC timestamp in the lab's zone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(settings().timezone)).strftime(fmt)  # type: ignore[no-any-return]


def init_app(app: Flask) -> None:
    from lims.audit import views as audit_views
    from lims.auth import views as auth_views
    from lims.instruments import views as instrument_views
    from lims.reports import views as report_views
    from lims.samples import api as samples_api
    from lims.samples import views as sample_views
    from lims.units import symbol
    from lims.web import auth, errors, health, openapi

    app.teardown_appcontext(_close_session)
    auth.init_app(app)
    errors.init_app(app)
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["unit"] = symbol
    for bp in (health.bp, auth_views.bp, sample_views.bp, samples_api.bp, instrument_views.bp,
               instrument_views.api, report_views.bp, report_views.api, audit_views.bp,
               audit_views.api, openapi.bp):
        app.register_blueprint(bp)
