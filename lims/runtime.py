"""Settings, engine and sessions without a Flask app: for the CLI, the scheduler, jobs and demo.

The web app holds one :class:`Runtime` in ``app.extensions["lims"]``; everything else opens its
own with :func:`open_runtime`. Nothing here imports Flask.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lims.config import Settings
from lims.db import make_engine, make_sessionmaker, unit_of_work


@dataclasses.dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessionmaker: sessionmaker[Session]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reading (or for the caller's own units of work); closed afterwards."""
        session = self.sessionmaker()
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write transaction: committed on success, rolled back on any error."""
        with self.session() as session, unit_of_work(session):
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def open_runtime(settings: Settings | None = None, **overrides: Any) -> Runtime:
    """Resolve settings (``LIMS_*`` variables unless given) and create the engine; no I/O yet."""
    settings = (settings or Settings.from_env(**overrides)).resolved()
    engine = make_engine(settings.database_url)
    return Runtime(settings=settings, engine=engine, sessionmaker=make_sessionmaker(engine))
