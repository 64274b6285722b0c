"""Alembic environment: our models' metadata, the URL from LIMS settings, batch mode on SQLite."""

from __future__ import annotations

from alembic import context

import lims.models  # noqa: F401 - registers every table on the metadata
from lims.config import Settings
from lims.db import Model, make_engine

# Tables that belong to libraries but are created by our migrations, so they are not compared.
FOREIGN_TABLES = {"apscheduler_jobs"}


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    return not (type_ == "table" and name in FOREIGN_TABLES)


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
            compare_type=True, include_name=include_name)
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
