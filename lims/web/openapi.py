"""The OpenAPI document of ``/api/v1``; a test checks it lists every API route."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

ERROR = {"$ref": "#/components/responses/Error"}


def _op(summary: str, *, body: dict[str, Any] | None = None, ok: int = 200,
        params: list[str] | None = None, binary: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {
        str(ok): {"description": "OK", "content": {
            "application/pdf" if binary else "application/json": {"schema": {}}}},
        "400": ERROR, "401": ERROR, "403": ERROR, "404": ERROR, "409": ERROR, "422": ERROR}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"type": "object", **body}}}}
    if params:
        op["parameters"] = [{"name": p, "in": "path", "required": True,
                             "schema": {"type": "string"}} for p in params]
    return op


def _props(**fields: str) -> dict[str, Any]:
    required = [k for k, v in fields.items() if not v.endswith("?")]
    return {"required": required, "properties": {
        k: {"type": v.rstrip("?")} for k, v in fields.items()}}


SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "LIMS API", "version": "1",
             "description": "Authenticate with `Authorization: Bearer <token>` (create a token "
                            "on the Tokens page or with `lims user token`). Values are sent as "
                            "strings so that their digits are kept as recorded."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "responses": {"Error": {"description": "Error", "content": {"application/json": {
            "schema": {"type": "object", "properties": {"error": {"type": "object",
                "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"},
                    "field": {"type": "string"}}}}}}}}},
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/customers": {
            "get": _op("List customers"),
            "post": _op("Create a customer", ok=201,
                        body=_props(name="string", contact="string?", address="string?"))},
        "/api/v1/methods": {
            "get": _op("List test methods with their characteristics"),
            "post": _op("Create a test method (quality manager, admin)", ok=201,
                        body=_props(code="string", title="string", field="string",
                                    clause="string?", characteristics="array"))},
        "/api/v1/requests": {
            "post": _op("Create a test request", ok=201,
                        body=_props(customer_id="integer", description="string?"))},
        "/api/v1/samples": {
            "get": _op("List samples"),
            "post": _op("Register a sample", ok=201,
                        body=_props(request_id="integer", description="string",
                                    method_ids="array"))},
        "/api/v1/samples/{number}": {"get": _op("Show a sample with its results",
                                                params=["number"])},
        "/api/v1/samples/{number}/receive": {
            "post": _op("Record receipt", params=["number"], body=_props(condition="string"))},
        "/api/v1/samples/{number}/results": {
            "post": _op("Record a result", ok=201, params=["number"],
                        body=_props(characteristic_id="integer", value="string", unit="string",
                                    instrument_id="integer?"))},
        "/api/v1/samples/{number}/capture": {
            "post": _op("Read an instrument now and record the reading with its raw bytes",
                        ok=201, params=["number"],
                        body=_props(characteristic_id="integer", instrument_id="integer"))},
        "/api/v1/results/{result_id}/corrections": {
            "post": _op("Correct a result: a new version with a reason", ok=201,
                        params=["result_id"],
                        body=_props(value="string", unit="string", reason="string"))},
        "/api/v1/samples/{number}/complete": {"post": _op("Declare testing complete",
                                                          params=["number"])},
        "/api/v1/samples/{number}/review": {"post": _op("Record the technical review",
                                                        params=["number"])},
        "/api/v1/samples/{number}/approve": {"post": _op("Approve (authorised signatory)",
                                                         params=["number"])},
        "/api/v1/samples/{number}/report": {"post": _op("Issue the signed test report", ok=201,
                                                        params=["number"])},
        "/api/v1/reports": {"get": _op("List issued reports")},
        "/api/v1/reports/{number}": {"get": _op("Show a report's status and SHA-256",
                                                params=["number"])},
        "/api/v1/reports/{number}/pdf": {"get": _op("Download the signed PDF", params=["number"],
                                                    binary=True)},
        "/api/v1/instruments": {
            "get": _op("List instruments"),
            "post": _op("Register an instrument (quality manager, admin)", ok=201,
                        body=_props(asset_number="string", name="string",
                                    calibration_due_on="string", serial_number="string?",
                                    driver="string?", port="string?"))},
        "/api/v1/audit/events": {"get": _op("Recent audit events (quality manager, auditor)")},
        "/api/v1/audit/verify": {"get": _op("Verify the audit hash chain")},
        "/api/v1/openapi.json": {"get": _op("This document")},
    },
}


@bp.get("/openapi.json")
def openapi() -> object:
    return jsonify(SPEC)
