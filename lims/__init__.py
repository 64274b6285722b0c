"""LIMS for metrology and inspection labs."""

from __future__ import annotations

import secrets
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask

from lims.config import Settings


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Create the Flask application. Opens no connection, port or file but the settings."""
    from lims import db, web
    from lims.instruments import services as instrument_services

    settings = (settings or Settings.from_env(**overrides)).resolved()
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_urlsafe(32),
        MAX_CONTENT_LENGTH=settings.max_content_length,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in lims.web.auth for cookie sessions only
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    instrument_services.LAB_TZ = ZoneInfo(settings.timezone)
    engine = db.make_engine(settings.database_url)
    app.extensions["lims"] = web.LimsState(settings=settings, engine=engine,
                                           sessionmaker=db.make_sessionmaker(engine))
    web.init_app(app)
    return app
