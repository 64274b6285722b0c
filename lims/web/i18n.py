"""Language of the pages: Chinese first, English second (Flask-Babel).

Message ids are English; ``lims/translations/zh`` holds the Chinese (the folder is named for
the language alone: Babel spells zh_CN as zh_Hans_CN, and gettext finds ``zh`` from either).
The locale of a request is, in order: ``?lang=`` (kept in the session cookie for the pages
that follow), the user's saved preference, the browser's ``Accept-Language``, then the
instance default (``LIMS_DEFAULT_LOCALE``, zh_CN). Times are shown in the lab's zone (``LIMS_TIMEZONE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, g, request, session
from flask_babel import Babel, lazy_gettext

from lims.web.context import settings

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
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
    "normal": lazy_gettext("normal"),
    "urgent": lazy_gettext("urgent"),
    "delivered": lazy_gettext("delivered"),
    "sampled": lazy_gettext("sampled"),
}


def label(value: object) -> str:
    """Jinja filter: a stored value (status, verdict …) in the reader's language; unknown
    values are shown as stored."""
    if value is None:
        return ""
    text = str(value)
    found = LABELS.get(text)
    return str(found) if found is not None else text
