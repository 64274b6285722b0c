"""User commands: ``lims user create|token``."""

from __future__ import annotations

import click

from lims.clitools import fail, runtime


@click.group()
def user() -> None:
    """Users and API tokens."""


@user.command("create")
@click.argument("username")
@click.option("--full-name", default="")
@click.option("--role", "roles", multiple=True, required=True)
@click.option("--scope", "scopes", multiple=True, help="Signatory scope (field).")
@click.password_option()
def user_create(username: str, full_name: str, roles: tuple[str, ...], scopes: tuple[str, ...],
                password: str) -> None:
    from lims.auth.services import create_user
    from lims.db import unit_of_work
    from lims.errors import LimsError

    rt = runtime()
    with rt.session() as session:
        try:
            with unit_of_work(session):
                create_user(session, username=username, full_name=full_name or username,
                            password=password, roles=list(roles), scopes=list(scopes))
        except LimsError as exc:
            fail(f"{exc.field or 'input'}: {exc}")
        finally:
            session.close()
    click.echo(f"created user {username}")


@user.command("token")
@click.argument("username")
@click.option("--name", default="cli")
def user_token(username: str, name: str) -> None:
    """Create an API token for USERNAME and print it once."""
    from lims.auth.services import create_token, get_user
    from lims.db import unit_of_work

    rt = runtime()
    with rt.session() as session:
        try:
            with unit_of_work(session):
                u = get_user(session, username)
                if u is None:
                    fail(f"no user {username!r}")
                token = create_token(session, user=u, name=name)
        finally:
            session.close()
    click.echo(token)


def commands() -> list[click.Command]:
    return [user]
