"""Who is asking: session cookies for browsers, bearer tokens for scripts, CSRF for forms.

Every endpoint except login, health, the public verification page and static files answers
401 without credentials (requirements DI-02); roles are enforced by the services.

The cookie holds only a random session id (plus Flask-WTF's CSRF secret); the session itself
is a database row (:mod:`lims.auth.sessions`), so that logout, an administrator's disable or
password reset, the idle timeout and the absolute lifetime end it on every worker at once.
Too many failed logins answer 429 with ``Retry-After``, as a page or as JSON. A wrong password
re-entered to sign answers 403 ``reauthentication_failed`` and is recorded as a failed login,
after the signing's own transaction rolled back.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Flask, current_app, g, jsonify, make_response, render_template, request, session
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from lims.auth.errors import ReauthenticationFailed, TooManyAttempts
from lims.auth.models import User
from lims.auth.services import user_for_token
from lims.auth.sessions import (
    LoginPolicy,
    Refusals,
    needs_touch,
    record_reauthentication_failure,
    resume_session,
    touch_session,
)
from lims.db import keep_loaded, storage_error, unit_of_work, utcnow
from lims.errors import PermissionDenied, Unauthenticated, msg
from lims.readings.services import AGENT_ENDPOINTS, agent_for_token, is_agent_token
from lims.web.context import get_session, settings
from lims.web.errors import localized, respond, wants_json
from lims.web.inputs import apply_upload_limit

log = logging.getLogger(__name__)
PUBLIC_ENDPOINTS = {"auth.login", "auth.set_locale", "health.health", "reports.verify",
                    "reports.verify_form", "static"}
csrf = CSRFProtect()


def current_user() -> User:
    user = g.get("user")
    if user is None:
        raise Unauthenticated(msg("log in first"))
    return user  # type: ignore[no-any-return]


def login_policy() -> LoginPolicy:
    return LoginPolicy.from_settings(settings())


def refusals() -> Refusals:
    """This worker's memo of recent login refusals (:class:`lims.auth.sessions.Refusals`)."""
    return current_app.extensions["lims_login_refusals"]  # type: ignore[no-any-return]


def client_address() -> str:
    """The client's IP address, for throttling logins per address.

    Behind ``trusted_proxies`` reverse proxies (setting, default 0) it is the address the
    nearest of them saw, from ``X-Forwarded-For``; the header is not trusted otherwise, since
    a client could send any address in it.
    """
    trusted = settings().trusted_proxies
    if trusted > 0:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= trusted:
            return hops[-trusted][:64]
    return (request.remote_addr or "unknown")[:64]


def _load_user() -> None:
    apply_upload_limit()
    g.user = None
    header = request.headers.get("Authorization", "")
    db = get_session()
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(msg("Authorization must be 'Bearer <token>'"))
        if is_agent_token(token.strip()):
            _load_agent(db, token.strip())
            return
        user = user_for_token(db, token.strip())
        if user is None:
            raise Unauthenticated(msg("invalid or revoked API token"))
        keep_loaded(db, user)
        g.user, g.via_token = user, True
        return
    g.via_token = False
    sid = session.get("sid")
    if isinstance(sid, str):
        now = utcnow()
        row = resume_session(db, sid, policy=login_policy(), now=now)
        if row is None:
            session.clear()
            if request.endpoint not in PUBLIC_ENDPOINTS:
                raise Unauthenticated(msg("your session has ended; log in again"))
        else:
            keep_loaded(db, row.user)
            g.user, g.session_id = row.user, row.id
            if needs_touch(row, now):
                _touch(db, row.id, now)
    elif "user_id" in session:  # a cookie from before server-side sessions
        session.clear()
    if g.user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        raise Unauthenticated(msg("log in first"))
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        # Bearer-token requests carry no ambient credentials, so only cookie sessions need
        # CSRF protection.
        csrf.protect()


def _load_agent(db: Session, token: str) -> None:
    """A bench capture agent's token: it may post readings and nothing else (issue 12 §2)."""
    agent = agent_for_token(db, token)
    if agent is None:
        raise Unauthenticated(msg("invalid or revoked agent token"))
    if request.endpoint not in AGENT_ENDPOINTS:
        raise PermissionDenied(msg("an agent token may only post readings "
                                   "(POST /api/v1/readings/batch)"))
    g.agent, g.via_token = agent, True


def _touch(db: Session, row_id: int, now: dt.datetime) -> None:
    """Move the session's idle timer; on a database that refuses writes, let the user read on
    (the timer then runs from the last touch that was saved)."""
    try:
        with unit_of_work(db):
            touch_session(db, row_id, now)
    except DBAPIError as exc:
        if storage_error(exc) is None:
            raise
        log.warning("session %s not touched: %s", row_id, exc)


def _too_many_attempts(exc: TooManyAttempts) -> Any:
    db = g.get("db_session")
    if db is not None:
        db.rollback()
    if wants_json():
        response = jsonify(error={"code": exc.code, "message": exc.message, "field": exc.field})
    else:
        response = make_response(render_template(
            "auth/login.html", message=localized(exc.message), next=request.form.get("next", "")))
    response.status_code = 429
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _reauthentication_failed(exc: ReauthenticationFailed) -> Any:
    # The signing wrote nothing (rolled back); the failure itself is then recorded in a unit
    # of work of its own, as a failed login is (21 CFR 11.300(d)).
    db = get_session()
    db.rollback()
    with unit_of_work(db):
        record_reauthentication_failure(db, exc, address=client_address(),
                                        policy=login_policy())
    return respond(exc)


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.extensions["lims_login_refusals"] = Refusals()
    app.before_request(_load_user)
    app.register_error_handler(TooManyAttempts, _too_many_attempts)
    app.register_error_handler(ReauthenticationFailed, _reauthentication_failed)

    @app.context_processor
    def _inject() -> dict[str, object]:
        user = g.get("user")

        def may(action: str) -> bool:
            """The nav offers a page only to whom its server check lets in."""
            from lims.auth.permissions import allowed

            return user is not None and allowed(user.roles, action)

        return {"user": user, "may": may}
