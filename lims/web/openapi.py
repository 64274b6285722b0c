"""The OpenAPI document of ``/api/v1``, assembled from each domain's paths.

A test checks it lists every API route. Domains describe their operations with :func:`op` and
:func:`props`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

ERROR = {"$ref": "#/components/responses/Error"}


def op(summary: str, *, body: dict[str, Any] | None = None, ok: int = 200,
       params: list[str] | None = None, binary: bool = False,
       query: list[str] | None = None, upload: bool = False) -> dict[str, Any]:
    """One operation: summary, JSON (or PDF) success response, the error responses."""
    operation: dict[str, Any] = {"summary": summary, "responses": {
        str(ok): {"description": "OK", "content": {
            "application/pdf" if binary else "application/json": {"schema": {}}}},
        "400": ERROR, "401": ERROR, "403": ERROR, "404": ERROR, "409": ERROR, "422": ERROR}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"type": "object", **body}}}}
    if upload:
        operation["requestBody"] = {"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                               "properties": {"file": {
                                                   "type": "string", "format": "binary"}}}},
            "application/json": {"schema": {"type": "object"}}}}
    parameters = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in params or []]
    parameters += [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}}
                   for q in query or []]
    if parameters:
        operation["parameters"] = parameters
    return operation


def props(**fields: str) -> dict[str, Any]:
    """An object schema: ``name="string"`` is required, ``name="string?"`` optional."""
    required = [k for k, v in fields.items() if not v.endswith("?")]
    return {"required": required, "properties": {
        k: {"type": v.rstrip("?")} for k, v in fields.items()}}


def spec() -> dict[str, Any]:
    from lims.domains import domains

    paths: dict[str, Any] = {}
    for domain in domains():
        for path, ops in domain.api_paths().items():
            paths.setdefault(path, {}).update(ops)
    return {
        "openapi": "3.1.0",
        "info": {"title": "LIMS API", "version": "1",
                 "description": "Authenticate with `Authorization: Bearer <token>` (create a "
                                "token on the Tokens page or with `lims user token`). Values are "
                                "sent as strings so that their digits are kept as recorded."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "Error", "content": {"application/json": {
                "schema": {"type": "object", "properties": {"error": {
                    "type": "object", "required": ["code", "message"], "properties": {
                        "code": {"type": "string"}, "message": {"type": "string"},
                        "field": {"type": "string"}}}}}}}}},
        },
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
    }


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(spec())
