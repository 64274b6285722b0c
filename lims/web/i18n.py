"""Language of the pages: Chinese first, English second (Flask-Babel).

Message ids are English; ``lims/translations/zh`` holds the Chinese (the folder is named for
the language alone: Babel spells zh_CN as zh_Hans_CN, and gettext finds ``zh`` from either).
The locale of a request is, in order: ``?lang=`` (kept in the session cookie for the pages
that follow), the user's saved preference, the browser's ``Accept-Language``, then the
instance default (``LIMS_DEFAULT_LOCALE``, zh_CN). Times are shown in the lab's zone (``LIMS_TIMEZONE``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request, session
from flask_babel import Babel, lazy_gettext

from lims.catalogs import TRANSLATIONS
from lims.web.context import settings

# Locale ids as Babel spells them, with the name each is offered under in the switcher
# (always in its own language, so a user who cannot read the current one still finds theirs).
LOCALES = {"zh_CN": "中文", "en": "English"}


def normalise(value: object) -> str | None:
    """A supported locale id for ``zh``, ``zh-CN``, ``zh_Hans_CN``, ``en-US`` …, else None."""
    if not isinstance(value, str):
        return None
    v = value.strip().replace("-", "_").lower()
    if v.startswith("zh"):
        return "zh_CN"
    if v == "en" or v.startswith("en_"):
        return "en"
    return None


def select_locale() -> str:
    asked = normalise(request.args.get("lang"))
    if asked:
        session["lang"] = asked
        return asked
    user = g.get("user")
    preferred = normalise(getattr(user, "locale", None))
    if preferred:
        return preferred
    remembered = normalise(session.get("lang"))
    if remembered:
        return remembered
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    return normalise(best) or settings().default_locale


def init_app(app: Flask) -> None:
    configured = app.extensions["lims"].settings
    if configured.default_locale not in LOCALES:
        raise ValueError(f"LIMS_DEFAULT_LOCALE must be one of {', '.join(LOCALES)}, "
                         f"not {configured.default_locale!r}")
    Babel(app, locale_selector=select_locale, timezone_selector=lambda: settings().timezone,
          default_translation_directories=str(TRANSLATIONS),
          default_locale=configured.default_locale, default_timezone=configured.timezone)
    app.jinja_env.globals["LOCALES"] = LOCALES
    app.jinja_env.globals["current_locale"] = _current_locale
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["kind_name"] = kind_name


def _current_locale() -> str:
    from flask_babel import get_locale

    return str(get_locale() or settings().default_locale)


def html_lang() -> str:
    return "zh-Hans" if _current_locale().startswith("zh") else "en"


# Status and other stored enum values, shown in the reader's language. The stored values stay
# English identifiers (the API and the audit trail use them); only their display is translated.
LABELS: dict[str, Any] = {
    "registered": lazy_gettext("registered"),
    "received": lazy_gettext("received"),
    "in testing": lazy_gettext("in testing"),
    "results complete": lazy_gettext("results complete"),
    "reviewed": lazy_gettext("reviewed"),
    "approved": lazy_gettext("approved"),
    "reported": lazy_gettext("reported"),
    "issued": lazy_gettext("issued"),
    "superseded": lazy_gettext("superseded"),
    "withdrawn": lazy_gettext("withdrawn"),
    "pending": lazy_gettext("pending"),
    "pass": lazy_gettext("pass"),
    "fail": lazy_gettext("fail"),
    "conditional pass": lazy_gettext("conditional pass"),
    "conditional fail": lazy_gettext("conditional fail"),
    "open": lazy_gettext("open"),
    "closed": lazy_gettext("closed"),
    "valid": lazy_gettext("valid"),
    "expired": lazy_gettext("expired"),
    "revoked": lazy_gettext("revoked"),
    "due soon": lazy_gettext("due soon"),
    "overdue": lazy_gettext("overdue"),
    "in service": lazy_gettext("in service"),
    "out of service": lazy_gettext("out of service"),
    # Why a report was withdrawn (lims.reports.models.WithdrawalCategory), shown publicly.
    "recall": lazy_gettext("recall"),
    "error": lazy_gettext("error"),
    "customer request": lazy_gettext("customer request"),
    "other": lazy_gettext("other"),
    # Calibration, equipment, nonconforming work and user administration pages.
    "check failed": lazy_gettext("check failed"),
    "ok": lazy_gettext("ok"),
    "out of tolerance": lazy_gettext("out of tolerance"),
    "as found": lazy_gettext("as found"),
    "as left": lazy_gettext("as left"),
    "nmi": lazy_gettext("national metrology institute"),
    "accredited": lazy_gettext("accredited (ILAC MRA)"),
    "in-house": lazy_gettext("in-house"),
    "calibration": lazy_gettext("calibration"),
    "verification": lazy_gettext("verification"),
    "test": lazy_gettext("test"),
    "test equipment": lazy_gettext("test equipment"),
    "working standard": lazy_gettext("working standard"),
    "reference standard": lazy_gettext("reference standard"),
    "no impact": lazy_gettext("no impact"),
    "re-test": lazy_gettext("re-test"),
    # the documents a sample's issue gives (lims.reports.documents.TITLES)
    "test_report": lazy_gettext("Test report"),
    "calibration_certificate": lazy_gettext("Calibration certificate"),
    "verification_certificate": lazy_gettext("Verification certificate"),
    "verification_notice": lazy_gettext("Verification notice"),
    # The sample page (issue 11 §4): a result's verdict and source, the request's decision rule.
    "undecided": lazy_gettext("undecided"),
    "manual": lazy_gettext("manual"),
    "instrument": lazy_gettext("instrument"),
    "simple": lazy_gettext("simple acceptance"),
    "guarded": lazy_gettext("guarded acceptance"),
    "non-binary": lazy_gettext("non-binary"),
    "technician": lazy_gettext("technician"),
    "reviewer": lazy_gettext("reviewer"),
    "signatory": lazy_gettext("signatory"),
    "quality_manager": lazy_gettext("quality manager"),
    "auditor": lazy_gettext("auditor"),
    "admin": lazy_gettext("administrator"),
    "normal": lazy_gettext("normal"),
    "urgent": lazy_gettext("urgent"),
    "delivered": lazy_gettext("delivered"),
    "sampled": lazy_gettext("sampled"),
    # A method's field of testing (free text; the demo's and the usual ones are named here).
    "textiles": lazy_gettext("textiles"),
    # What an instrument measures and a calibration point's quantity (free text as declared).
    "mass": lazy_gettext("mass"),
    "conventional mass": lazy_gettext("conventional mass"),
    "indication": lazy_gettext("indication"),
    "temperature": lazy_gettext("temperature"),
    "relative humidity": lazy_gettext("relative humidity"),
    "DC voltage": lazy_gettext("DC voltage"),
    "AC voltage": lazy_gettext("AC voltage"),
    "length": lazy_gettext("length"),
    "resistance": lazy_gettext("resistance"),
    "pressure": lazy_gettext("pressure"),
    "force": lazy_gettext("force"),
    # A serial port's settings (Instrument.port_settings keys).
    "baudrate": lazy_gettext("baud rate"),
}


def label(value: object) -> str:
    """Jinja filter: a stored value (status, verdict …) in the reader's language; unknown
    values are shown as stored."""
    if value is None:
        return ""
    text = str(value)
    found = LABELS.get(text)
    return str(found) if found is not None else text


def kind_name(value: object) -> str:
    """Jinja filter: a quantity kind (its stored id, or the kind) by its name in the reader's
    language: 质量 or mass, never the id ``mass_fraction`` (issue 11 §1)."""
    from lims.kinds.registry import KINDS, Kind

    kind = value if isinstance(value, Kind) else KINDS.get(str(value or ""))
    if kind is None:
        return "" if value is None else str(value)
    return kind.zh if html_lang() != "en" else kind.en


# Form and API field names as a reader knows them, for the "(field)" of an error on a page.
FIELD_LABELS: dict[str, Any] = {
    "description": lazy_gettext("sample description"),
    "customer_id": lazy_gettext("customer"),
    "customer": lazy_gettext("customer"),
    "method_ids": lazy_gettext("methods"),
    "method_codes": lazy_gettext("method codes"),
    "method_code": lazy_gettext("method code"),
    "request_id": lazy_gettext("request"),
    "value": lazy_gettext("value"),
    "unit": lazy_gettext("unit"),
    "kind": lazy_gettext("quantity kind"),
    "name": lazy_gettext("name"),
    "reason": lazy_gettext("reason"),
    "password": lazy_gettext("password"),
    "username": lazy_gettext("username"),
    "instrument_id": lazy_gettext("instrument"),
    "instrument": lazy_gettext("instrument"),
    "comment": lazy_gettext("comment"),
    "due_date": lazy_gettext("due date"),
    "lower_limit": lazy_gettext("lower limit"),
    "upper_limit": lazy_gettext("upper limit"),
    "condition": lazy_gettext("condition on receipt"),
    "file": lazy_gettext("file"),
    "number": lazy_gettext("number"),
    "page": lazy_gettext("page"),
    "limit": lazy_gettext("page size"),
    "sort": lazy_gettext("sort order"),
    "q": lazy_gettext("search text"),
    # Every other field a page can name: forms, list filters, imports (issue 11 §1).
    "field": lazy_gettext("field of testing"),
    "code": lazy_gettext("code"),
    "title": lazy_gettext("title"),
    "clause": lazy_gettext("clause"),
    "characteristics": lazy_gettext("characteristics"),
    "requires_conditions": lazy_gettext("requires environmental conditions"),
    "method": lazy_gettext("method"),
    "method_id": lazy_gettext("method"),
    "from": lazy_gettext("from date"),
    "to": lazy_gettext("to date"),
    "since": lazy_gettext("from date"),
    "until": lazy_gettext("to date"),
    "size": lazy_gettext("label size"),
    "numbers": lazy_gettext("sample numbers"),
    "flag": lazy_gettext("calibration status"),
    "status": lazy_gettext("status"),
    "role": lazy_gettext("role"),
    "roles": lazy_gettext("roles"),
    "samples": lazy_gettext("samples"),
    "sample": lazy_gettext("sample"),
    "asset_number": lazy_gettext("asset number"),
    "serial_number": lazy_gettext("serial number"),
    "manufacturer": lazy_gettext("manufacturer"),
    "model": lazy_gettext("model"),
    "trademark": lazy_gettext("trademark"),
    "batch": lazy_gettext("batch / production date"),
    "quantity": lazy_gettext("quantity"),
    "request_description": lazy_gettext("request note"),
    "r": lazy_gettext("guard band factor r"),
    "product_standard": lazy_gettext("product standard"),
    "customer_data": lazy_gettext("data supplied by the customer"),
    "location": lazy_gettext("location"),
    "accuracy_class": lazy_gettext("accuracy class"),
    "port": lazy_gettext("port"),
    "driver": lazy_gettext("driver"),
    "baudrate": lazy_gettext("baud rate"),
    "port_settings": lazy_gettext("port settings"),
    "calibrated_on": lazy_gettext("calibration date"),
    "calibration_due_on": lazy_gettext("calibration due date"),
    "valid_from": lazy_gettext("valid from"),
    "valid_until": lazy_gettext("valid until"),
    "schemes": lazy_gettext("schemes"),
    "locale": lazy_gettext("language"),
    "category": lazy_gettext("category"),
    "signatory": lazy_gettext("signatory"),
    "report": lazy_gettext("report"),
    "comments": lazy_gettext("comments"),
    "conclusion": lazy_gettext("conclusion"),
    "evaluation": lazy_gettext("evaluation"),
    "resolution": lazy_gettext("resolution"),
    "standards": lazy_gettext("standards"),
    "standards_used": lazy_gettext("standards used"),
    "points": lazy_gettext("points"),
    "nominal": lazy_gettext("nominal value"),
    "uncertainty": lazy_gettext("uncertainty"),
    "coverage_factor": lazy_gettext("coverage factor"),
    "k": lazy_gettext("coverage factor"),
    "rule": lazy_gettext("decision rule"),
    "decision_rule": lazy_gettext("decision rule"),
    "priority": lazy_gettext("priority"),
    "acquisition": lazy_gettext("sample acquisition"),
    "inspection_type": lazy_gettext("inspection type"),
    "credit_code": lazy_gettext("unified social credit code"),
    "count": lazy_gettext("count"),
    "format": lazy_gettext("format"),
    "target": lazy_gettext("target"),
    "state": lazy_gettext("state"),
    "quantity_kind": lazy_gettext("quantity kind"),
    "measured_at": lazy_gettext("measured at"),
    "checked_at": lazy_gettext("checked at"),
    "expected": lazy_gettext("expected value"),
    "version": lazy_gettext("version"),
    "check_standard": lazy_gettext("check standard"),
    "calibration_provider": lazy_gettext("calibration provider"),
    "provider_kind": lazy_gettext("provider kind"),
    "conformity": lazy_gettext("conformity statement"),
    "expanded_uncertainty": lazy_gettext("expanded uncertainty"),
    "lod": lazy_gettext("limit of detection"),
    "result_id": lazy_gettext("result"),
    "reading_id": lazy_gettext("reading"),
    "token_id": lazy_gettext("token"),
    "scope_items": lazy_gettext("scope items"),
    "scope_items_typed": lazy_gettext("scope items typed"),
    "item": lazy_gettext("item"),
    "conditions": lazy_gettext("environmental conditions"),
    "budget": lazy_gettext("uncertainty budget"),
    "readings": lazy_gettext("readings"),
    "asset": lazy_gettext("asset number"),
    "inputs": lazy_gettext("input quantities"),
    "mass": lazy_gettext("mass"),
    "lower": lazy_gettext("lower limit"),
    "minimum": lazy_gettext("minimum"),
    "quantities": lazy_gettext("quantities"),
    "instruments": lazy_gettext("instruments"),
    "conclusion_reason": lazy_gettext("reason for the conclusion"),
    "rounding": lazy_gettext("rounding"),
    "characteristic_id": lazy_gettext("characteristic"),
    "point_id": lazy_gettext("point"),
    "results": lazy_gettext("results"),
    "measurand": lazy_gettext("measurand"),
    "dsi_unit": lazy_gettext("unit"),
    "scopes": lazy_gettext("scope"),
    "dcc": lazy_gettext("certificate file"),
    "coverage": lazy_gettext("coverage"),
}


def field_label(field: str) -> str:
    """The reader's name of a field (``characteristics[2].unit`` keeps its path)."""
    found = FIELD_LABELS.get(field)
    return str(found) if found is not None else field
