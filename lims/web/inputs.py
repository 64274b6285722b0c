"""Parse request bodies; validation of each field is the services' job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request

from lims.errors import BadRequest


def json_body() -> dict[str, Any]:
    """Return the JSON object of the request.

    :raises BadRequest: not JSON, malformed, or not an object.
    """
    if not request.is_json:
        raise BadRequest("send a JSON object with Content-Type: application/json")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # the parser gives up on JSON nested thousands deep
        raise BadRequest("JSON nested too deeply") from None
    if data is None:
        raise BadRequest("malformed JSON")
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object")
    return data


def json_body_or_empty() -> dict[str, Any]:
    """Like :func:`json_body`, but an empty body is an empty object: the service then names
    the missing field (422), after the permission check (403) has had its say.

    :raises BadRequest: a body that is not a JSON object.
    """
    if not request.get_data(cache=True):
        return {}
    return json_body()


def form() -> dict[str, Any]:
    return {k: v for k, v in request.form.items() if k != "csrf_token"}


F = TypeVar("F", bound=Callable[..., Any])


def allow_upload(max_bytes: int) -> Callable[[F], F]:
    """Let one view take a body larger than the app's ``MAX_CONTENT_LENGTH`` (a certificate
    file of several MB); every other request keeps the small limit."""
    def mark(view: F) -> F:
        view.max_upload = max_bytes  # type: ignore[attr-defined]
        return view
    return mark


def apply_upload_limit() -> None:
    """Raise this request's body limit to its view's ``allow_upload``, before anything (the
    CSRF check included) reads the body."""
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "max_upload", None)
    if limit:
        request.max_content_length = limit
