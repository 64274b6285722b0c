"""The OpenAPI 3.1 document of ``/api/v1``, generated from the views and their pydantic models.

Each API view carries an :func:`operation` decorator naming its summary, the request model it
parses (:func:`lims.web.inputs.json_model` refuses any other), its query model and the model
of its success response; the document walks the app's URL map, so a route cannot be missing
from it, and the schemas come from the same models that validate the requests.

Error responses are added by what a route can do: every route answers 401 without a valid
token; every POST, PUT and PATCH can answer 400 (malformed JSON, a cookie session's CSRF check)
and 413 (a body over the size limit); a path parameter can name nothing (404, also when it does not
match the route's converter); a body, a query or an id in the path can be invalid (422). The
rest (403, 404 for an id in the body, 409, 429) each view declares.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from lims.web.api_models import MAX_ID, ErrorBody, QueryModel, RequestModel

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

F = TypeVar("F", bound=Callable[..., Any])

ERRORS = {
    400: "Malformed request: not JSON, not an object, or a failed CSRF check (cookie sessions)",
    401: "No valid API token (or session)",
    403: "The user's roles, signatory scope or separation of duties do not allow this",
    404: "No such record",
    409: "The record's state does not allow this",
    413: "The request body is larger than the limit",
    422: "A field is invalid; `field` names it",
    429: "Too many failed password checks; retry after `Retry-After` seconds",
}


@dataclasses.dataclass(frozen=True)
class Operation:
    """What the document says about one API view."""

    summary: str
    response: type[BaseModel] | None = None  # the JSON success body
    status: int = 200
    files: tuple[str, ...] = ()              # or a file download, in one of these media types
    body: type[RequestModel] | None = None
    body_required: bool = True
    query: type[QueryModel] | None = None
    upload: bool = False                     # a certificate file: multipart or the raw body
    errors: frozenset[int] = frozenset()
    # Where the success response leads: the path under which the operations it names lie,
    # and which of their path parameters take which field of the response.
    links: tuple[str, Mapping[str, str]] | None = None


def operation(summary: str, *, response: type[BaseModel] | None = None, status: int = 200,
              files: Iterable[str] = (), body: type[RequestModel] | None = None,
              body_required: bool = True, query: type[QueryModel] | None = None,
              upload: bool = False, errors: Iterable[int] = (),
              links: tuple[str, Mapping[str, str]] | None = None) -> Callable[[F], F]:
    """Document an API view (see the module docstring for the errors added by default).

    ``links=("/api/v1/samples/{number}", {"number": "number"})`` says that the response's
    ``number`` names the sample every operation under that path acts on (OpenAPI links, which
    clients and schemathesis' stateful tests follow).
    """
    op = Operation(summary, response, status, tuple(files), body, body_required, query, upload,
                   frozenset(errors), links)
    unknown = op.errors - set(ERRORS)
    if unknown:
        raise ValueError(f"undocumented error status {sorted(unknown)}")

    def mark(view: F) -> F:
        view.openapi = op  # type: ignore[attr-defined]
        return view
    return mark


def operation_of(view: Callable[..., Any] | None) -> Operation | None:
    return getattr(view, "openapi", None)


_ARG = re.compile(r"<(?:([a-z]+)(?:\([^)]*\))?:)?([A-Za-z_]\w*)>")


def _path_parameters(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """The OpenAPI path of a Flask rule, and its path parameters with their real types."""
    params = []
    for converter, name in _ARG.findall(rule):
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if converter == "int":
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _ARG.sub(r"{\2}", rule), params


def _error_responses(codes: Iterable[int]) -> dict[str, Any]:
    return {str(code): {"$ref": f"#/components/responses/E{code}"} for code in sorted(codes)}


def _components_responses() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, description in ERRORS.items():
        response: dict[str, Any] = {"description": description, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
        if code == 401:
            response["headers"] = {"WWW-Authenticate": {"required": True,
                                                        "schema": {"type": "string"}}}
        if code == 429:
            response["headers"] = {"Retry-After": {
                "required": True, "description": "seconds", "schema": {"type": "string"}}}
        out[f"E{code}"] = response
    return out


def api_operations(app: Flask) -> list[tuple[str, str, str, Operation | None]]:
    """Every ``/api/v1`` route and method: (rule, method, endpoint, its :class:`Operation`)."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        view = app.view_functions.get(rule.endpoint)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule.rule, method, rule.endpoint, operation_of(view)))
    return out


def spec(app: Flask) -> dict[str, Any]:
    """The document of the app's API, built once per app."""
    if "lims_openapi" not in app.extensions:
        app.extensions["lims_openapi"] = build_spec(app)
    document: dict[str, Any] = app.extensions["lims_openapi"]
    return document


def build_spec(app: Flask) -> dict[str, Any]:
    """Build the document from the app's routes (an undocumented API route is a bug)."""
    found = api_operations(app)
    missing = [f"{method} {rule}" for rule, method, _e, op in found if op is None]
    if missing:
        raise RuntimeError(f"API routes without @operation: {', '.join(missing)}")
    wanted: set[tuple[type[BaseModel], JsonSchemaMode]] = {(ErrorBody, "serialization")}
    for _rule, _method, _endpoint, op in found:
        assert op is not None  # noqa: S101 - refused above
        if op.body is not None:
            wanted.add((op.body, "validation"))
        if op.response is not None:
            wanted.add((op.response, "serialization"))
        if op.query is not None:
            wanted.add((op.query, "validation"))
    ordered = sorted(wanted, key=lambda pair: (pair[0].__name__, pair[1]))
    schemas, defs = models_json_schema(ordered, ref_template="#/components/schemas/{model}")
    components = dict(sorted(defs.get("$defs", {}).items()))

    paths: dict[str, Any] = {}
    linking: list[tuple[dict[str, Any], dict[str, Any], tuple[str, Mapping[str, str]]]] = []
    queries: set[str] = set()  # a query model's fields become parameters, not a schema
    for rule, method, endpoint, op in found:
        assert op is not None  # noqa: S101 - refused above
        path, params = _path_parameters(rule)
        errors = {401} | set(op.errors)
        if method in ("POST", "PUT", "PATCH"):  # a body: malformed, too large, the CSRF check
            errors |= {400, 413}
        if params:
            errors.add(404)
        if op.body is not None or op.query is not None or op.upload \
                or any(p["schema"]["type"] == "integer" for p in params):
            errors.add(422)
        if op.query is not None:
            name = schemas[(op.query, "validation")]["$ref"].rsplit("/", 1)[1]
            params += _query_parameters(components[name])
            queries.add(name)
        ok: dict[str, Any] = {"description": "OK"}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": schemas[(op.response,
                                                                     "serialization")]}}
        elif op.files:
            ok["content"] = {media: {"schema": {} if media == "application/json" else {
                "type": "string", "format": "binary"}} for media in op.files}
        entry: dict[str, Any] = {
            "operationId": endpoint, "tags": [endpoint.split(".")[0].removesuffix("_api")],
            "summary": op.summary, "responses": {str(op.status): ok,
                                                 **_error_responses(errors)}}
        if params:
            entry["parameters"] = params
        if op.body is not None:
            entry["requestBody"] = {"required": op.body_required, "content": {
                "application/json": {"schema": schemas[(op.body, "validation")]}}}
        elif op.upload:
            entry["requestBody"] = {"required": True, "content": {
                "multipart/form-data": {"schema": {
                    "type": "object", "required": ["file"], "properties": {
                        "file": {"type": "string", "format": "binary"}}}},
                "application/xml": {"schema": {"type": "string",
                                               "description": "a PTB DCC (XML)"}},
                "application/json": {"schema": {"type": "object",
                                                "description": "the LIMS JSON certificate"}}}}
        paths.setdefault(path, {})[method.lower()] = entry
        if op.links:
            linking.append((entry, ok, op.links))
    for name in queries:
        del components[name]
    for entry, ok, (prefix, fields) in linking:
        ok["links"] = {}
        for path, ops in sorted(paths.items()):
            for target in ops.values():
                needs = [p["name"] for p in target.get("parameters", ()) if p["in"] == "path"]
                if path.startswith(prefix) and target is not entry \
                        and all(name in fields for name in needs):
                    ok["links"][target["operationId"]] = {
                        "operationId": target["operationId"],
                        "parameters": {name: f"$response.body#/{fields[name]}"
                                       for name in needs}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "LIMS API", "version": "1",
                 "description": "Authenticate with `Authorization: Bearer <token>` (create a "
                                "token on the Tokens page or with `lims user token`). Values are "
                                "sent as strings so that their digits are kept as recorded."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": components,
            "responses": _components_responses(),
        },
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
    }


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """A query model's fields as OpenAPI query parameters; an optional one is left out, never
    sent as null."""
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema.get("properties", {}).items():
        alternatives = [s for s in prop.get("anyOf", ()) if s != {"type": "null"}]
        value = alternatives[0] if len(alternatives) == 1 else prop
        params.append({"name": name, "in": "query", "required": name in required,
                       **({"description": prop["description"]} if "description" in prop else {}),
                       "schema": {k: v for k, v in value.items()
                                  if k not in ("title", "description", "default")}})
    return params


@bp.get("/openapi.json")
@operation("This document", files=("application/json",))
def openapi() -> Any:
    return jsonify(spec(current_app))
