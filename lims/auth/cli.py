"""User commands: ``lims user create|token|list|disable|enable|reset-password|roles|unlock|
sign-out|tokens|revoke-token``.

The administration commands act as ``LIMS_CLI_USER`` (default ``admin``), who must hold the
``admin`` role; each change is audited with that user as actor. That user need not be able to
log in (disabled, locked): whoever runs the CLI on the server can always restore access.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from lims.catalogs import label, localized, tr
from lims.clitools import echo_json, fail, invalid, runtime


@click.group(help=tr("Users and API tokens."))
def user() -> None:
    """Users and API tokens."""


@user.command("create", help=tr(
    "Create USERNAME with roles (and signatory scopes); prompts for the password."))
@click.argument("username")
@click.option("--full-name", default="", help=tr("Full name (default: the username)."))
@click.option("--role", "roles", multiple=True, required=True,
              help=tr("A role of the user (repeat for several)."))
@click.option("--scope", "scopes", multiple=True,
              help=tr("Field of work outside the accredited scope the signatory may sign for."))
@click.option("--scope-item", "scope_items", multiple=True, type=int,
              help=tr("Id of an accredited scope item the signatory may sign for "
                      "(`lims scope list`)."))
@click.password_option(prompt=tr("Password"), confirmation_prompt=tr("Repeat for confirmation"),
                       help=tr("The password (prompted if omitted)."))
def user_create(username: str, full_name: str, roles: tuple[str, ...], scopes: tuple[str, ...],
                scope_items: tuple[int, ...], password: str) -> None:
    """Create USERNAME with roles (and signatory scopes); prompts for the password."""
    from lims.auth.services import create_user
    from lims.db import unit_of_work
    from lims.errors import LimsError

    rt = runtime()
    try:
        with rt.session() as session, unit_of_work(session):
            create_user(session, username=username, full_name=full_name or username,
                        password=password, roles=list(roles), scopes=list(scopes),
                        scope_items=list(scope_items))
    except LimsError as exc:
        field = exc.field or tr("input")  # outside the f-string: extraction finds it
        fail(f"{field}: {localized(exc.message)}")
    finally:
        rt.dispose()  # also on a refusal: no pooled connection is left to the garbage collector
    click.echo(tr("created user %(username)s", username=username))


@user.command("token", help=tr("Create an API token for USERNAME and print it once."))
@click.argument("username")
@click.option("--name", default="cli", show_default=True,
              help=tr("A name telling the token apart (for `lims user tokens`)."))
def user_token(username: str, name: str) -> None:
    """Create an API token for USERNAME and print it once."""
    from lims.auth.services import create_token, get_user
    from lims.db import unit_of_work

    rt = runtime()
    try:
        with rt.session() as session, unit_of_work(session):
            u = get_user(session, username)
            if u is None:
                fail(tr("no user %(username)r", username=username))
            token = create_token(session, user=u, name=name)
    finally:
        rt.dispose()
    click.echo(token)


# --- administration ---------------------------------------------------------------------------

@contextmanager
def _as_admin() -> Iterator[tuple[Any, Any]]:
    """One unit of work and the acting administrator (``LIMS_CLI_USER``, default ``admin``);
    a :class:`lims.errors.LimsError` ends the command with its field named."""
    import os

    from lims.auth.services import get_user
    from lims.db import unit_of_work
    from lims.errors import LimsError

    name = os.environ.get("LIMS_CLI_USER", "admin")
    rt = runtime()
    try:
        with rt.session() as session:
            try:
                with unit_of_work(session):
                    actor = get_user(session, name)
                    if actor is None:
                        fail(tr("no user %(username)r to act as; set LIMS_CLI_USER to an "
                                "administrator", username=name))
                    yield session, actor
            except LimsError as exc:
                invalid(exc, 1)
    finally:
        rt.dispose()


def _describe(u: Any) -> dict[str, Any]:
    return {"username": u.username, "full_name": u.full_name,
            "roles": sorted(r.value for r in u.roles), "scopes": sorted(u.scopes),
            "scope_items": sorted(u.scope_items),
            "active": u.active, "locked": u.locked, "failed_logins": u.failed_logins}


@user.command("list", help=tr("List users: roles, scopes, disabled or locked."))
@click.option("--json", "as_json", is_flag=True, help=tr("Print JSON."))
def user_list(as_json: bool) -> None:
    """List users: roles, scopes, disabled or locked."""
    from lims.auth.services import list_users

    with _as_admin() as (session, actor):
        rows = [_describe(u) for u in list_users(session, actor=actor)]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        state = ("" if r["active"] else " " + tr("disabled")) + \
            (" " + tr("locked") if r["locked"] else "")
        roles = ",".join(label(role) for role in r["roles"])  # --json keeps the stored names
        click.echo(f"{r['username']:<20} {roles:<30}{state}")


def _change(message: str, change: Callable[[Any, Any], Any]) -> None:
    with _as_admin() as (session, actor):
        change(session, actor)
    click.echo(message)


def _change_signatory(message: str, username: str, change: Callable[[Any, Any], Any]) -> None:
    """A change that may end a user's authority to sign: once committed, their signing
    certificate is revoked (:func:`lims.reports.sign.withdraw_signatory`)."""
    from lims.auth.services import get_user
    from lims.errors import LimsError
    from lims.reports.sign import withdraw_signatory

    _change(message, change)
    rt = runtime()
    try:
        with rt.session() as session:
            user = get_user(session, username)
            serial = withdraw_signatory(rt.settings, user) if user is not None else None
    except LimsError as exc:
        fail(exc.message)  # fail() shows it in the reader's language
    finally:
        rt.dispose()
    if serial is not None:
        click.echo(tr("signing certificate %(serial)s of %(username)s revoked",
                      serial=f"{serial:x}", username=username))


@user.command("disable", help=tr(
    "Disable USERNAME: their sessions end at once and their API tokens are refused."))
@click.argument("username")
@click.option("--reason", default=None, help=tr("Why (kept in the audit trail)."))
def user_disable(username: str, reason: str | None) -> None:
    """Disable USERNAME: their sessions end at once and their API tokens are refused."""
    from lims.auth.services import set_active

    _change_signatory(tr("disabled %(username)s", username=username), username,
                      lambda s, a: set_active(s, actor=a, username=username, active=False,
                                              reason=reason))


@user.command("enable", help=tr(
    "Enable USERNAME again (their API tokens work again; old sessions stay ended)."))
@click.argument("username")
@click.option("--reason", default=None, help=tr("Why (kept in the audit trail)."))
def user_enable(username: str, reason: str | None) -> None:
    """Enable USERNAME again (their API tokens work again; old sessions stay ended)."""
    from lims.auth.services import set_active

    _change(tr("enabled %(username)s", username=username), lambda s, a: set_active(
        s, actor=a, username=username, active=True, reason=reason))


@user.command("reset-password", help=tr(
    "Set a new password for USERNAME (prompted) and end their sessions."))
@click.argument("username")
@click.password_option(prompt=tr("New password"),
                       confirmation_prompt=tr("Repeat for confirmation"),
                       help=tr("The new password (prompted if omitted)."))
def user_reset_password(username: str, password: str) -> None:
    """Set a new password for USERNAME (prompted) and end their sessions."""
    from lims.auth.services import reset_password

    _change(tr("password of %(username)s reset", username=username), lambda s, a: reset_password(
        s, actor=a, username=username, password=password))


@user.command("roles", help=tr(
    "Replace the roles and signatory authority (fields, scope items) of USERNAME."))
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True,
              help=tr("A role of the user (repeat for several)."))
@click.option("--scope", "scopes", multiple=True,
              help=tr("Field of work outside the accredited scope the signatory may sign for."))
@click.option("--scope-item", "scope_items", multiple=True, type=int,
              help=tr("Id of an accredited scope item the signatory may sign for; given: "
                      "replaces the grants, omitted: keeps them."))
@click.option("--no-scope-items", is_flag=True, help=tr("Withdraw every scope item grant."))
def user_roles(username: str, roles: tuple[str, ...], scopes: tuple[str, ...],
               scope_items: tuple[int, ...], no_scope_items: bool) -> None:
    """Replace the roles and signatory authority (fields, scope items) of USERNAME."""
    from lims.auth.services import set_roles

    items: list[object] | None = [] if no_scope_items else (list(scope_items) or None)
    _change_signatory(tr("roles of %(username)s: %(roles)s", username=username,
                         roles=", ".join(sorted(roles))), username,
                      lambda s, a: set_roles(s, actor=a, username=username, roles=list(roles),
                                             scopes=list(scopes), scope_items=items))


@user.command("unlock", help=tr(
    "Unlock USERNAME after a lockout by failed logins (and clear their throttling)."))
@click.argument("username")
def user_unlock(username: str) -> None:
    """Unlock USERNAME after a lockout by failed logins (and clear their throttling)."""
    from lims.auth.services import unlock_user

    _change(tr("unlocked %(username)s", username=username),
            lambda s, a: unlock_user(s, actor=a, username=username))


@user.command("sign-out", help=tr(
    "End every browser session of USERNAME (API tokens are untouched)."))
@click.argument("username")
def user_sign_out(username: str) -> None:
    """End every browser session of USERNAME (API tokens are untouched)."""
    from lims.auth.services import sign_out

    with _as_admin() as (session, actor):
        n = sign_out(session, actor=actor, username=username)
    click.echo(tr("ended %(n)s session(s) of %(username)s", n=n, username=username))


@user.command("tokens", help=tr("List the API tokens of USERNAME: id, name, created, revoked."))
@click.argument("username")
@click.option("--json", "as_json", is_flag=True, help=tr("Print JSON."))
def user_tokens_command(username: str, as_json: bool) -> None:
    """List the API tokens of USERNAME: id, name, created, revoked."""
    from lims.auth.services import user_tokens

    with _as_admin() as (session, actor):
        rows: list[dict[str, Any]] = [
            {"id": t.id, "name": t.name, "created_at": t.created_at.isoformat(),
             "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None}
            for t in user_tokens(session, actor=actor, username=username)]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['id']:>6}  {r['name']:<30} {r['created_at'][:16]}"
                   + ("  " + tr("revoked %(at)s", at=r["revoked_at"][:16])
                      if r["revoked_at"] else ""))


@user.command("revoke-token", help=tr(
    "Revoke the API token TOKEN_ID (from `lims user tokens`)."))
@click.argument("token_id", type=int)
def user_revoke_token(token_id: int) -> None:
    """Revoke the API token TOKEN_ID (from ``lims user tokens``)."""
    from lims.auth.services import revoke_token

    _change(tr("revoked token %(id)s", id=token_id), lambda s, a: revoke_token(
        s, token_id=token_id, actor=a))


def commands() -> list[click.Command]:
    return [user]
