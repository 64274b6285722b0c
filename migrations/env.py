"""Alembic environment: our models' metadata, the URL from LIMS settings, batch mode on SQLite."""

from __future__ import annotations

from collections.abc import Callable

from alembic import context

import lims.models  # noqa: F401 - registers every table on the metadata
from lims.config import Settings
from lims.db import Model, make_engine

# Tables that belong to libraries but are created by our migrations, so they are not compared.
FOREIGN_TABLES = {"apscheduler_jobs"}
# SQLite's full-text tables of the list search (migration 0020) and the shadow tables FTS5
# keeps beside them: made by the migration, no model.
SEARCH_TABLES = ("samples_search", "test_requests_search")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    if type_ == "table" and name is not None and name.startswith(SEARCH_TABLES):
        return False
    return not (type_ == "table" and name in FOREIGN_TABLES)


def include_object(sqlite: bool) -> Callable[..., bool]:
    """Trigram indexes (``ix_…_trgm``) exist on PostgreSQL only: SQLite searches its FTS5
    tables instead (migration 0020)."""
    def include(obj: object, name: str | None, type_: str, *_: object) -> bool:
        return not (sqlite and type_ == "index" and (name or "").endswith("_trgm"))
    return include


def run() -> None:
    config = context.config
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url") \
        or Settings.from_env().resolved().database_url
    engine = make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table by copy, drop and rename; with foreign keys on, the
            # drop of a referenced table fails (Alembic docs, "batch mode with SQLite"). They
            # are switched off for the migration and the references checked afterwards.
            # On the DBAPI connection, before SQLAlchemy begins a transaction: inside one,
            # SQLite ignores this pragma.
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection, target_metadata=Model.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True, include_name=include_name, include_object=include_object(sqlite))
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"migration left broken references: {broken[:5]}")
        if sqlite:
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
    engine.dispose()


run()
