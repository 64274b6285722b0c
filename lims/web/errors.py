"""The one place where errors become HTTP responses.

API clients (``/api/…`` or ``Accept: application/json``) get ``{"error": {"code", "message",
"field"?}}``; browsers get a page, or after a form post the page they came from with the
message shown. Nothing, however malformed, produces a traceback; an unexpected error rolls the
session back and answers 500 with no detail. A database that refuses writes (read-only, a hot
standby, a full disk) answers 503 with code ``read_only`` or ``disk_full`` and says so; reads
go on working.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, g, jsonify, redirect, render_template, request
from flask_babel import gettext, lazy_gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from lims import errors
from lims.db import storage_error

log = logging.getLogger(__name__)

STATUS: dict[type[errors.LimsError], int] = {
    errors.BadRequest: 400,
    errors.Unauthenticated: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.InvalidInput: 422,
    errors.Unavailable: 503,
}


# What a browser user reads as the page's heading, in their language.
STATUS_TEXT: dict[int, Any] = {
    400: lazy_gettext("Bad request"),
    401: lazy_gettext("Please log in"),
    403: lazy_gettext("Not allowed"),
    404: lazy_gettext("Not found"),
    405: lazy_gettext("Method not allowed"),
    409: lazy_gettext("Conflict"),
    413: lazy_gettext("Too large"),
    422: lazy_gettext("Invalid input"),
    429: lazy_gettext("Too many requests"),
    500: lazy_gettext("Internal error"),
    503: lazy_gettext("Service unavailable"),
}
# Werkzeug's own descriptions are English prose; browsers get these instead (the API keeps
# Werkzeug's, which clients may already match on).
HTTP_MESSAGES: dict[int, Any] = {
    400: lazy_gettext("The request could not be understood."),
    403: lazy_gettext("You are not allowed to do this."),
    404: lazy_gettext("There is no such page or record. Check the number and try again."),
    405: lazy_gettext("This address does not accept that kind of request."),
    429: lazy_gettext("Too many requests; wait a moment and try again."),
}


def status_of(exc: errors.LimsError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def localized(message: str) -> str:
    """A service's message in the reader's language when it was marked with
    :func:`lims.errors.msg`; other messages are shown as raised (English)."""
    if isinstance(message, errors.Named):
        from lims.web.i18n import html_lang

        return message.zh if html_lang() != "en" else str(message)
    if isinstance(message, errors.Message):
        # A message carried inside another ("standard %(message)s") is translated too.
        from lims.web.i18n import field_label, label

        params = {k: localized(v) if isinstance(v, errors.Message)
                  else str(gettext(", ")).join(label(i) for i in v.items)
                  if isinstance(v, errors.Choices)
                  else field_label(v) if isinstance(v, errors.FieldName)
                  else label(v) if k in errors.STATE_PARAMS and isinstance(v, str) else v
                  for k, v in message.params.items()}
        try:
            return str(gettext(message.template, **params))
        except (KeyError, ValueError, TypeError):  # a broken translation never hides the error
            return str(message)
    return message


def _respond(status: int, code: str, message: str, field: str | None = None) -> Any:
    if not wants_json():
        from lims.web.i18n import field_label

        message = localized(message)
        field = field_label(field) if field else field
    if wants_json():
        body: dict[str, Any] = {"code": code, "message": message}
        if field:
            body["field"] = field
        response = jsonify(error=body)
        response.status_code = status
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="lims"'
        return response
    if status == 401:
        return render_template("auth/login.html", message=message, next=request.full_path), 401
    referrer = request.referrer
    if (request.method == "POST" and referrer and status in (403, 409, 422)
            and urlsplit(referrer).netloc == request.host):
        # Back to the form the user came from, with the reason shown there.
        flash(f"{message}" + (f" ({field})" if field else ""), "error")
        return redirect(referrer, code=303)
    return render_template("error.html", status=status, status_text=STATUS_TEXT.get(status, ""),
                           message=message, field=field), status


def respond(exc: errors.LimsError) -> Any:
    """The response to an error the application raised on purpose (for handlers elsewhere
    that must do something first, e.g. record a failed signing password)."""
    return _respond(status_of(exc), exc.code, exc.message, exc.field)


def _rollback() -> None:
    session = g.get("db_session")
    if session is not None:
        session.rollback()


def http_error(exc: HTTPException) -> Any:
    """The response to a Werkzeug HTTP error (404, 405, 413 …); a blueprint that answers one
    itself for some pages hands the rest back here."""
    _rollback()
    code = (exc.name or "error").lower().replace(" ", "_")
    message = exc.description or exc.name
    if exc.code == 413:
        message = (f"request body larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes"
                   if wants_json() else too_large_message())
    elif not wants_json() and exc.code in HTTP_MESSAGES:
        message = str(HTTP_MESSAGES[exc.code])
    response = _respond(exc.code or 500, code, message)
    allow = dict(exc.get_headers()).get("Allow")
    if allow and hasattr(response, "headers"):  # 405 names the methods the URL takes
        response.headers["Allow"] = allow
    return response


def too_large_message() -> str:
    limit: int = current_app.config["MAX_CONTENT_LENGTH"]
    return str(gettext("The upload is larger than %(size)s MB, the most this server accepts.",
                       size=f"{limit / 1_048_576:.1f}"))


def init_app(app: Flask) -> None:
    @app.errorhandler(errors.LimsError)
    def _lims_error(exc: errors.LimsError) -> Any:
        _rollback()
        return respond(exc)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        if wants_json():
            return _respond(400, "csrf", f"CSRF check failed: {exc.description}")
        return _respond(400, "csrf", gettext(
            "The form has expired or did not come from this site; reload the page and try "
            "again."))

    app.register_error_handler(HTTPException, http_error)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        _rollback()
        refused = storage_error(exc)
        if refused is not None:
            log.warning("refused %s %s: %s (%s)", request.method, request.path, refused.message,
                        exc)
            return _respond(503, refused.code, refused.message)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(500, "internal", "internal error; it has been logged" if wants_json()
                        else gettext("Something went wrong on our side; it has been logged."))
