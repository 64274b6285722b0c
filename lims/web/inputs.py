"""Parse request bodies and queries: their shape through the view's pydantic model, the
meaning of each field in the services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request
from pydantic import BaseModel, ValidationError

from lims.errors import BadRequest, InvalidInput, msg
from lims.web.api_models import QueryModel, RequestModel, error_field, error_message
from lims.web.openapi import Operation, operation_of


def json_body() -> dict[str, Any]:
    """Return the JSON object of the request.

    :raises BadRequest: not JSON, malformed, or not an object.
    """
    if not request.is_json:
        raise BadRequest(msg("send a JSON object with Content-Type: application/json"))
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # the parser gives up on JSON nested thousands deep
        raise BadRequest(msg("JSON nested too deeply")) from None
    if data is None:
        raise BadRequest(msg("malformed JSON"))
    if not isinstance(data, dict):
        raise BadRequest(msg("expected a JSON object"))
    return data


M = TypeVar("M", bound=RequestModel)
Q = TypeVar("Q", bound=QueryModel)


def _documented() -> Operation:
    op = operation_of(current_app.view_functions.get(request.endpoint or ""))
    if op is None:
        raise RuntimeError(f"{request.endpoint} has no @operation")
    return op


def json_model(model: type[M]) -> M:
    """Parse the request's JSON object through ``model``, the view's documented body.

    :raises BadRequest: not JSON, malformed, or not an object (see :func:`json_body`).
    :raises InvalidInput: the first field whose shape is wrong, named as in the document
        (``characteristics[0].unit``), with what was wrong.
    """
    op = _documented()
    if op.body is not model:  # the document would describe another body than the one parsed
        raise RuntimeError(f"{request.endpoint} parses {model.__name__} but documents "
                           f"{op.body.__name__ if op.body else 'no body'}")
    data = json_body() if op.body_required or request.get_data(cache=True) else {}
    return validated(model, data)


def query_model(model: type[Q]) -> Q:
    """Parse the query string through ``model``, the view's documented query.

    :raises InvalidInput: naming the parameter.
    """
    op = _documented()
    if op.query is not model:
        raise RuntimeError(f"{request.endpoint} parses {model.__name__} but documents "
                           f"{op.query.__name__ if op.query else 'no query'}")
    return validated(model, request.args.to_dict())


B = TypeVar("B", bound=BaseModel)


def validated(model: type[B], data: Any) -> B:
    """``model`` validated from ``data``; pydantic's first error as :class:`InvalidInput`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_context=True, include_input=False)[0]
        raise InvalidInput(error_message(first), field=error_field(first["loc"]) or None) \
            from None


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
