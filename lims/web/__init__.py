"""The web edge: per-request session, authentication hooks, error mapping, domain blueprints."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    from lims.domains import domains
    from lims.units import symbol
    from lims.web import auth, errors
    from lims.web.context import close_session, local_time

    app.teardown_appcontext(close_session)
    auth.init_app(app)
    errors.init_app(app)
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["unit"] = symbol
    for domain in domains():
        for bp in domain.blueprints():
            app.register_blueprint(bp)
