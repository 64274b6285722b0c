"""The samples domain: customers, methods, requests, samples, results."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain


def _blueprints() -> tuple[Any, ...]:
    from lims.samples import api, views

    return (views.bp, api.bp)


def _api_paths() -> dict[str, Any]:
    from lims.web.openapi import op, props

    return {
        "/api/v1/customers": {
            "get": op("List customers"),
            "post": op("Create a customer", ok=201,
                       body=props(name="string", contact="string?", address="string?"))},
        "/api/v1/methods": {
            "get": op("List test methods with their characteristics"),
            "post": op("Create a test method (quality manager, admin)", ok=201,
                       body=props(code="string", title="string", field="string",
                                  clause="string?", characteristics="array"))},
        "/api/v1/requests": {
            "post": op("Create a test request", ok=201,
                       body=props(customer_id="integer", description="string?",
                                  decision_rule="string?", r="string?"))},
        "/api/v1/samples": {
            "get": op("List samples"),
            "post": op("Register a sample", ok=201,
                       body=props(request_id="integer", description="string",
                                  method_ids="array"))},
        "/api/v1/samples/{number}": {"get": op("Show a sample with its results",
                                               params=["number"])},
        "/api/v1/samples/{number}/receive": {
            "post": op("Record receipt", params=["number"], body=props(condition="string"))},
        "/api/v1/samples/{number}/results": {
            "post": op("Record a result", ok=201, params=["number"],
                       body=props(characteristic_id="integer", value="string", unit="string?",
                                  instrument_id="integer?", measured_at="string?"))},
        "/api/v1/samples/{number}/capture": {
            "post": op("Read an instrument now and record the reading with its raw bytes",
                       ok=201, params=["number"],
                       body=props(characteristic_id="integer", instrument_id="integer"))},
        "/api/v1/results/{result_id}/corrections": {
            "post": op("Correct a result: a new version with a reason", ok=201,
                       params=["result_id"],
                       body=props(value="string", unit="string?", reason="string",
                                  measured_at="string?"))},
        "/api/v1/results/{result_id}/decision": {
            "post": op("Decide the conformity of an undecided result, with a reason (reviewer)",
                       ok=201, params=["result_id"],
                       body=props(conformity="string", reason="string"))},
        "/api/v1/samples/{number}/complete": {"post": op("Declare testing complete",
                                                         params=["number"])},
        "/api/v1/samples/{number}/review": {"post": op("Record the technical review",
                                                       params=["number"])},
        "/api/v1/samples/{number}/approve": {"post": op("Approve (authorised signatory)",
                                                        params=["number"])},
    }


DOMAIN = Domain("samples", blueprints=_blueprints, api_paths=_api_paths)
