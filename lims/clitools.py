"""Shared pieces of the ``lims`` command and the commands each domain contributes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from lims.catalogs import localized, tr
from lims.runtime import Runtime, open_runtime

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lims.auth.models import User
    from lims.config import Settings


class LimsGroup(click.Group):
    """The ``lims`` command group: a database or disk that refuses writes (read-only, a hot
    standby, full) ends any command with one sentence saying so, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from lims.db import storage_error

            refused = storage_error(exc)
            if refused is None:
                raise
            fail(refused.message)


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(tr("error: %(message)s", message=localized(message)), err=True)
    sys.exit(code)


def runtime() -> Runtime:
    """The runtime from ``LIMS_*`` settings; no Flask app is built."""
    return open_runtime()


T = TypeVar("T")


def read(query: Callable[[Session, Settings], T]) -> T:
    """Run a read-only query in a session of a fresh runtime; an error the application raises
    on purpose exits 1 naming its field, never a traceback."""
    from lims.errors import LimsError

    rt = runtime()
    try:
        with rt.session() as session:
            return query(session, rt.settings)
    except LimsError as exc:
        invalid(exc, 1)
    finally:
        rt.dispose()


def load_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as exc:
        fail(tr("cannot read %(path)s: %(reason)s", path=path, reason=exc.strerror), 2)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        fail(tr("%(path)s is not valid JSON: %(reason)s", path=path, reason=exc), 2)


def active_user(session: Session, username: str) -> User:
    """The active user a command acts as (``--user``), or exit 1 naming the option."""
    from lims.auth.services import get_user

    actor = get_user(session, username)
    if actor is None or not actor.active:
        fail(tr("user: no active user %(username)r", username=username))
    return actor


def invalid(exc: Exception, code: int = 2) -> NoReturn:
    """Exit naming the field of a :class:`lims.errors.LimsError`."""
    field = getattr(exc, "field", None)
    text = localized(getattr(exc, "message", exc))
    fail(f"{field}: {text}" if field else text, code)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))
