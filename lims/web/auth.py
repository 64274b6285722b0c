"""Who is asking: session cookies for browsers, bearer tokens for scripts, CSRF for forms.

Every endpoint except login, health, the public verification page and static files answers
401 without credentials (requirements DI-02); roles are enforced by the services.
"""

from __future__ import annotations

from flask import Flask, g, request, session
from flask_wtf.csrf import CSRFProtect

from lims.auth.models import User
from lims.auth.services import user_for_token
from lims.errors import Unauthenticated
from lims.web.context import get_session
from lims.web.inputs import apply_upload_limit

PUBLIC_ENDPOINTS = {"auth.login", "health.health", "reports.verify", "static"}
csrf = CSRFProtect()


def current_user() -> User:
    user = g.get("user")
    if user is None:
        raise Unauthenticated("log in first")
    return user  # type: ignore[no-any-return]


def _load_user() -> None:
    apply_upload_limit()
    g.user = None
    header = request.headers.get("Authorization", "")
    db = get_session()
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Authorization must be 'Bearer <token>'")
        user = user_for_token(db, token.strip())
        if user is None:
            raise Unauthenticated("invalid or revoked API token")
        g.user, g.via_token = user, True
        return
    g.via_token = False
    user_id = session.get("user_id")
    if user_id is not None:
        user = db.get(User, user_id)
        if user is not None and user.active:
            g.user = user
        else:
            session.clear()
    if g.user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        raise Unauthenticated("log in first")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        # Bearer-token requests carry no ambient credentials, so only cookie sessions need
        # CSRF protection.
        csrf.protect()


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.before_request(_load_user)

    @app.context_processor
    def _inject() -> dict[str, object]:
        return {"user": g.get("user")}
