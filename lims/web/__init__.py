"""The web edge: per-request session, authentication hooks, error mapping, domain blueprints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    from lims.domains import domains
    from lims.units import display
    from lims.web import auth, errors, i18n, listing
    from lims.web.context import close_session, local_time

    app.teardown_appcontext(close_session)
    auth.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["unit"] = display  # ℃ as people write it, not degC
    app.jinja_env.globals.update(url_with=listing.url_with, sort_url=listing.sort_url)
    app.after_request(_security_headers)
    # Before any rule is added: rules bind their converters when registered.
    app.url_map.converters["default"] = app.url_map.converters["string"] = _printable_text()
    for domain in domains():
        for bp in domain.blueprints():
            app.register_blueprint(bp)


# No inline script anywhere, so scripts come only from our own static files; no framing
# (clickjacking of the approve and issue buttons); no MIME sniffing of downloads.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")


def _security_headers(response: Any) -> Any:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _printable_text() -> type[Any]:
    from werkzeug.routing import UnicodeConverter

    class PrintableText(UnicodeConverter):
        """A path segment without control characters: no sample, report or asset number has
        one, and PostgreSQL cannot even compare text holding a NUL, so such a URL matches no
        route (404) instead of reaching a query."""

        def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(url_map, *args, **kwargs)
            self.regex = r"[^/\x00-\x1f\x7f]+"  # the parent sets its own in __init__

    return PrintableText
