"""Fixtures: real SQLite and real PostgreSQL, migrated by Alembic, a fresh database per test."""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from lims import create_app
from lims.config import Settings
from lims.db import unit_of_work
from lims.migrate import upgrade
from lims.reports.fonts import default_font_dir, ensure_fonts
from lims.reports.pki import create_dev_pki
from tests.support.postgres import Cluster, find_bindir

# The command line speaks the instance's language (LIMS_DEFAULT_LOCALE, zh_CN when unset); the
# tests read its English, as the pages' tests do (tests/functional/test_language.py checks zh).
os.environ.setdefault("LIMS_DEFAULT_LOCALE", "en")
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_counter = itertools.count(1)
_RUN_LOG: list[str] = []


@pytest.fixture
def run_log(record_property: Any) -> Any:
    """``run_log(text)``: a line for the run's summary ("run log" at the end of the output), so
    that what a long test measured (schemathesis' request count, the chaos test's seed) is in
    the CI log even when it passes; it travels with the test's report, so it works on the
    pytest-xdist workers too, where printing to the terminal does not."""
    return lambda line: record_property("run_log", line)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":  # the item's properties, once: as they stand at its end
        return
    _RUN_LOG.extend(f"{report.nodeid}: {value}" for name, value in report.user_properties
                    if name == "run_log")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _RUN_LOG:
        terminalreporter.section("run log")
        for line in _RUN_LOG:
            terminalreporter.write_line(line)


def require_binary(name: str) -> str:
    """Return the path of a system binary; in CI its absence fails the test, else skips it."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install poppler-utils libnss3-tools)"
        if CI:
            pytest.fail(message + "; it is mandatory when CI=true")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def font_dir() -> Path:
    return ensure_fonts(default_font_dir())["Regular"].parent


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    create_dev_pki(d, lab_name="Test Lab")
    return d


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    bindir = find_bindir()
    if bindir is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
        if CI:
            pytest.fail(message + "; the PostgreSQL leg is mandatory when CI=true")
        pytest.skip(message)
    cluster = Cluster(bindir).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _build_world(url: str) -> Any:
    from lims.db import make_engine, make_sessionmaker
    from tests.support.world import build_world

    engine = make_engine(url)
    session = make_sessionmaker(engine)()
    try:
        with unit_of_work(session):
            world = build_world(session)
    finally:
        session.close()
        engine.dispose()
    return world


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Migrated SQLite files: ``bare`` (empty) and ``world`` (with :func:`build_world`)."""
    d = tmp_path_factory.mktemp("tmpl")
    bare, populated = d / "bare.sqlite", d / "world.sqlite"
    upgrade(f"sqlite:///{bare}")
    shutil.copyfile(bare, populated)
    return {"bare": bare, "world": populated, "ids": _build_world(f"sqlite:///{populated}")}


@pytest.fixture(scope="session")
def pg_templates(pg_cluster: Cluster) -> dict[str, Any]:
    engine = create_engine(pg_cluster.url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CREATE DATABASE tmpl_bare"))
    upgrade(pg_cluster.url("tmpl_bare"))
    with engine.connect() as conn:
        conn.execute(text("CREATE DATABASE tmpl_world TEMPLATE tmpl_bare"))
    ids = _build_world(pg_cluster.url("tmpl_world"))
    engine.dispose()
    return {"bare": "tmpl_bare", "world": "tmpl_world", "ids": ids}


@contextlib.contextmanager
def _pg_database(cluster: Cluster, prefix: str, template: str | None = None) -> Iterator[str]:
    """A new database in the test cluster (a copy of ``template``, or empty), dropped after."""
    name = f"{prefix}{os.getpid()}_{next(_counter)}"
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template
                                                        else "")))
    try:
        yield cluster.url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test, on each of SQLite and PostgreSQL.

    Tests that use the ``world`` fixture start from a copy that already holds it (building it
    hashes eight passwords, too slow to repeat per test).
    """
    kind = "world" if "world" in request.fixturenames else "bare"
    if request.param == "sqlite":
        templates = request.getfixturevalue("sqlite_templates")
        path = tmp_path / "lims.sqlite"
        shutil.copyfile(templates[kind], path)
        request.node.world_ids = templates["ids"]
        yield f"sqlite:///{path}"
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    templates = request.getfixturevalue("pg_templates")
    request.node.world_ids = templates["ids"]
    with _pg_database(cluster, "t", template=templates[kind]) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database for a ``lims`` process the test starts (``LIMS_DATABASE_URL``): ""
    for the instance's own SQLite file, or a new, unmigrated PostgreSQL database."""
    if request.param == "sqlite":
        yield ""
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    with _pg_database(cluster, "srv") as url:
        yield url


@pytest.fixture(autouse=True)
def _collect_leaked_connections() -> Iterator[None]:
    """Collect garbage after each test, at a safe point.

    A connection some code dropped in a reference cycle is otherwise finalised whenever the
    collector next runs, which can be in the middle of a later ``ast.parse`` (werkzeug compiles
    every route that way); its failed reset is logged with a traceback, and CPython 3.11 formats
    tracebacks with ``ast`` too, which corrupts the outer parse ("AST constructor recursion
    depth mismatch"). The leak itself still shows in the log."""
    yield
    gc.collect()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, pki_dir: Path, font_dir: Path) -> Settings:
    return Settings(
        instance_path=tmp_path / "instance", database_url=database_url, secret_key="test-secret",
        signing_pkcs12=str(pki_dir / "signer.p12"),
        signing_passphrase=(pki_dir / "signer.pass").read_text(), font_dir=str(font_dir),
        public_url="https://lims.example.test",
        # The pages' language when a request asks for none; tests that check the Chinese pages
        # ask for zh_CN (Accept-Language, ?lang=, or the user's choice), as staff browsers do.
        default_locale="en")


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    app = create_app(settings)
    yield app
    app.extensions["lims"].engine.dispose()


@pytest.fixture
def session(app: Any) -> Iterator[Any]:
    s = app.extensions["lims"].sessionmaker()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def world(request: pytest.FixtureRequest, session: Any) -> Any:
    """Users for every role, a customer, a method and instruments (tests/support/world.py)."""
    return request.node.world_ids


@pytest.fixture
def balance(tmp_path: Path) -> Iterator[Any]:
    """A simulated MT-SICS balance on a real pseudo-terminal behind a stable symlink."""
    from drivers.simulators.mtsics import MTSICSBalanceModel
    from drivers.simulators.pty import PtySimulator

    sim = PtySimulator(MTSICSBalanceModel(serial_number="B021002593", load="100.02"),
                       tmp_path / "dev" / "balance")
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def attached_balance(session: Any, world: Any, balance: Any) -> Any:
    """Point the world's balance (EQ-1) at the simulator."""
    from lims.instruments.models import Instrument

    with unit_of_work(session):
        session.get(Instrument, world.balance_id).port = balance.port
    return balance
