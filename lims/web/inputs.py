"""Parse request bodies; validation of each field is the services' job."""

from __future__ import annotations

from typing import Any

from flask import request

from lims.errors import BadRequest


def json_body() -> dict[str, Any]:
    """Return the JSON object of the request.

    :raises BadRequest: not JSON, malformed, or not an object.
    """
    if not request.is_json:
        raise BadRequest("send a JSON object with Content-Type: application/json")
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest("malformed JSON")
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object")
    return data


def form() -> dict[str, Any]:
    return {k: v for k, v in request.form.items() if k != "csrf_token"}
