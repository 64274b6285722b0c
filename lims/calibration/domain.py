"""The calibration domain: calibration records, traceability, impact; `lims uncertainty`."""

from __future__ import annotations

from typing import Any

from lims.domains import Domain, Job


def _blueprints() -> tuple[Any, ...]:
    from lims.calibration import nc_views, views

    return (views.bp, views.api, nc_views.bp, nc_views.api)


def _api_paths() -> dict[str, Any]:
    from lims.web.openapi import op, props

    cert = props(number="string", provider="object", calibrated_on="string",
                 valid_until="string?", standards_used="array?", conditions="array?",
                 results="array")
    return {
        "/api/v1/instruments/{asset}": {
            "get": op("Show an instrument", params=["asset"]),
            "post": op("Edit an instrument with a reason", params=["asset"],
                       body=props(reason="string"))},
        "/api/v1/instruments/{asset}/status": {
            "post": op("Take out of service or back into service", params=["asset"],
                       body=props(in_service="boolean", reason="string"))},
        "/api/v1/instruments/{asset}/calibrations": {
            "get": op("Calibration history of an instrument", params=["asset"]),
            "post": op("Record a calibration (LIMS JSON certificate form)", ok=201,
                       params=["asset"], body=cert)},
        "/api/v1/calibrations/import": {
            "post": op("Import a certificate file: PTB DCC XML or LIMS JSON", ok=201,
                       upload=True, query=["instrument", "provider_kind", "valid_until"])},
        "/api/v1/calibrations/{record_id}": {
            "get": op("Show a calibration record", params=["record_id"])},
        "/api/v1/calibrations/{record_id}/corrections": {
            "post": op("Correct a record: a new version with a reason", ok=201,
                       params=["record_id"], body=cert)},
        "/api/v1/calibrations/{record_id}/status": {
            "post": op("Revoke, or mark found out of tolerance", params=["record_id"],
                       body=props(status="string", reason="string"))},
        "/api/v1/calibrations/{record_id}/file": {
            "get": op("The stored certificate file", params=["record_id"], binary=True)},
        "/api/v1/instruments/{asset}/checks": {
            "get": op("Intermediate checks", params=["asset"]),
            "post": op("Record an intermediate check", ok=201, params=["asset"],
                       body=props(nominal="string", unit="string", readings="array",
                                  limit="string", check_standard="string?"))},
        "/api/v1/instruments/{asset}/checks/capture": {
            "post": op("Record an intermediate check read through the instrument's driver",
                       ok=201, params=["asset"],
                       body=props(nominal="string", limit="string", count="integer?",
                                  unit="string?", check_standard="string?"))},
        "/api/v1/reports/{number}/traceability": {
            "get": op("Traceability chain of every result of a report", params=["number"])},
        "/api/v1/instruments/{asset}/impact": {
            "get": op("Impact analysis: what relied on an instrument", params=["asset"],
                      query=["from", "to"])},
        "/api/v1/nonconformities": {
            "get": op("Nonconforming-work cases, newest first"),
            "post": op("Open a nonconforming-work case from an impact analysis", ok=201,
                       body=props(asset="string", description="string", to="string?",
                                  **{"from": "string"}))},
        "/api/v1/nonconformities/{number}": {
            "get": op("A nonconforming-work case with its affected reports", params=["number"])},
        "/api/v1/nonconformities/{number}/evaluations": {
            "post": op("Evaluate an affected report: no impact, re-test or recall",
                       params=["number"],
                       body=props(report="string", evaluation="string", reason="string"))},
        "/api/v1/nonconformities/{number}/close": {
            "post": op("Close a case once every report is evaluated", params=["number"])},
        "/api/v1/nonconformities/{number}/letters/{customer_id}.pdf": {
            "get": op("The signed letter to one customer of the case", binary=True,
                      params=["number", "customer_id"])},
    }


def _commands() -> list[Any]:
    from lims.calibration.cli import commands

    return commands()


def _flag_due(session: Any, settings: Any) -> dict[str, Any]:
    from lims.calibration.jobs import flag_calibration_due

    return flag_calibration_due(session, settings)


DOMAIN = Domain(
    "calibration", blueprints=_blueprints, api_paths=_api_paths, commands=_commands,
    jobs=(Job("flag-calibration-due", _flag_due, lambda s: {"hour": 6, "minute": 0},
              run_at_start=True,
              doc="flag equipment due for calibration within the warning period or overdue"),))
