"""LIMS for metrology and inspection labs."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from lims.config import Settings


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Create the Flask application. Opens no connection, port or file but the settings.

    Flask is imported here, not at module level, so that the CLI, the scheduler and the pure
    packages under ``lims`` never load it.
    """
    from flask import Flask

    from lims import web
    from lims.runtime import open_runtime

    runtime = open_runtime(settings, **overrides)
    settings = runtime.settings
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_urlsafe(32),
        MAX_CONTENT_LENGTH=settings.max_content_length,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Served over https (as the public URL says): the cookie never travels in clear.
        SESSION_COOKIE_SECURE=settings.public_url.lower().startswith("https://"),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in lims.web.auth for cookie sessions only
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["lims"] = runtime
    web.init_app(app)
    return app
