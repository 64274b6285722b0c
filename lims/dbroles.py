"""PostgreSQL roles: the owner migrates, the application only reads and writes rows.

The guard triggers (audit events, issued reports, calibration records) stop the application
from rewriting records; they do not stop whoever owns the tables, who can drop them. So in
production the application connects as a role that owns nothing: it gets SELECT, INSERT,
UPDATE and DELETE on the tables and USAGE on the sequences, and nothing else — no DROP, ALTER
or TRIGGER privilege (ISO/IEC 17025 7.11.3, 21 CFR 11.10(d)). ``lims init`` runs the
migrations with ``LIMS_MIGRATION_DATABASE_URL`` (the owner) and then grants the role named in
``LIMS_DATABASE_URL`` what it needs.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def grant_application_role(owner_url: str, app_url: str) -> str:
    """Grant the application's role row access to every table of the schema; return its name.

    :raises ValueError: the two URLs name the same role (the application would own the tables).
    """
    owner, app = make_url(owner_url), make_url(app_url)
    role = app.username or ""
    if not role or role == owner.username:
        raise ValueError("LIMS_DATABASE_URL must connect as a role other than the owner in "
                         "LIMS_MIGRATION_DATABASE_URL")
    engine = create_engine(owner_url)
    try:
        with engine.begin() as conn:
            quoted = conn.dialect.identifier_preparer.quote(role)
            conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {quoted}"))
            conn.execute(text("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "
                              f"public TO {quoted}"))
            conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}"))
    finally:
        engine.dispose()
    return role
