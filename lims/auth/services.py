"""Users, passwords, API tokens and signatory authority, and their administration.

Logging in (throttling, lockout, sessions) is :mod:`lims.auth.sessions`. Every change an
administrator makes here needs the ``user.manage`` permission and is audited with the
administrator as actor.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import bindparam, delete, exists, select, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from lims.accreditation.models import ScopeItem, SignatoryAuthority
from lims.audit.services import record
from lims.auth.models import (
    ApiToken,
    LoginFailure,
    Role,
    SignatoryScope,
    User,
    UserRole,
    UserSession,
    principal_loading,
)
from lims.auth.permissions import action_name, allowed
from lims.auth.sessions import revoke_sessions
from lims.db import utcnow
from lims.errors import Conflict, InvalidInput, NotFound, PermissionDenied, msg
from lims.validate import as_id

MIN_PASSWORD = 10  # NIST SP 800-63B 5.1.1: length, and no password from a list of common ones
# The most common passwords long enough to pass the length rule (from the published breach
# frequency lists); compared case-insensitively.
COMMON_PASSWORDS = frozenset("""
1234567890 0123456789 0987654321 1111111111 1234512345 123456789a 1q2w3e4r5t 1qaz2wsx3edc
qwertyuiop asdfghjkl; zaq12wsx!@ password12 password123 password1234 passw0rd12 p@ssw0rd12
iloveyou12 abcdefghij abcd123456 a123456789 qwerty1234 qwerty12345 1234qwerty aa12345678
letmein123 welcome123 admin12345 administrator changeme12 football12 baseball12 sunshine12
princess12 dragon1234 monkey1234 superman12 trustno1234 michael123 shadow1234 master1234
11111111111 12345678910 woaini1314 5201314520 1314520520 qq123456789 asd1234567 zxcvbnm123
""".split())


def check_password(password: str | None) -> None:
    """:raises InvalidInput: shorter than :data:`MIN_PASSWORD` or a common password."""
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(msg("password must have at least %(n)s characters", n=MIN_PASSWORD),
                           field="password")
    if (password or "").lower() in COMMON_PASSWORDS:
        raise InvalidInput(msg("this password is among the most common ones; choose another"),
                           field="password")


def get_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def _roles(roles: list[str]) -> list[Role]:
    """:raises InvalidInput: an unknown role, or none."""
    try:
        role_set = sorted({Role(r) for r in roles})
    except ValueError as exc:
        raise InvalidInput(msg("unknown role in %(roles)r; roles are %(known)s", roles=roles,
                               known=", ".join(r.value for r in Role)), field="roles") from exc
    if not role_set:
        raise InvalidInput(msg("at least one role is required"), field="roles")
    return role_set


def _scopes(scopes: list[str] | None) -> list[str]:
    """:raises InvalidInput: a scope that is not 1-80 printable characters."""
    clean = sorted({(s or "").strip() for s in scopes or []} - {""})
    for scope in clean:
        if len(scope) > 80 or not scope.isprintable():
            raise InvalidInput(msg("a scope is 1-80 printable characters"), field="scopes")
    return clean


def _scope_items(session: Session, ids: list[object] | None) -> list[int]:
    """The ids of accredited scope items a signatory is granted (RB/T 214 4.2.4).

    :raises InvalidInput: an id that is not a whole number or names no scope item.
    """
    clean = sorted({as_id(i, "scope_items") for i in ids or []})
    if clean:
        found = set(session.scalars(select(ScopeItem.id).where(ScopeItem.id.in_(clean))))
        missing = [f"#{i}" for i in clean if i not in found]
        if missing:
            raise InvalidInput(msg("no scope item %(items)s", items=", ".join(missing)),
                               field="scope_items")
    return clean


def create_user(session: Session, *, username: str, full_name: str, password: str,
                roles: list[str], scopes: list[str] | None = None,
                actor: User | None = None, scope_items: list[object] | None = None) -> User:
    """Create a user with roles (and signatory authority: accredited scope items, and fields
    of work outside the accredited scope).

    :raises InvalidInput: bad name, short password or unknown role.
    :raises Conflict: the username is taken.
    """
    username = (username or "").strip()
    if not username or len(username) > 60 or not username.replace("_", "").replace(".", "").isalnum():
        raise InvalidInput(msg("username must be 1-60 letters, digits, '.' or '_'"),
                           field="username")
    check_password(password)
    role_set = _roles(roles)
    if get_user(session, username) is not None:
        raise Conflict(msg("user %(username)r exists", username=username), field="username")
    user = User(username=username, full_name=full_name or username,
                password_hash=generate_password_hash(password))
    user.role_rows = [UserRole(role=r.value) for r in role_set]
    user.scope_rows = [SignatoryScope(scope=s) for s in _scopes(scopes)]
    user.authority_rows = [SignatoryAuthority(scope_item_id=i)
                           for i in _scope_items(session, scope_items)]
    session.add(user)
    session.flush()
    record(session, actor=actor, action="user.create", entity_type="users", entity_id=user.id,
           after={"username": username, "full_name": user.full_name,
                  "roles": [r.value for r in role_set], "scopes": sorted(user.scopes),
                  "scope_items": sorted(user.scope_items)})
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, *, user: User, name: str) -> str:
    """Create an API bearer token; the clear text is returned once and never stored."""
    token = "lims_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=(name or "token")[:80], token_hash=_token_hash(token))
    session.add(row)
    session.flush()
    record(session, actor=user, action="token.create", entity_type="api_tokens",
           entity_id=row.id, after={"name": row.name, "user": user.username})
    return token


# Built once: a statement's cache key is memoised on it, so every request after the first
# skips building the query and its key (issue 14: a fifth of authentication's cost).
_USER_FOR_TOKEN = (select(User).join(ApiToken, ApiToken.user_id == User.id)
                   .where(ApiToken.token_hash == bindparam("token_hash"),
                          ApiToken.revoked_at.is_(None), User.active.is_(True))
                   .options(*principal_loading()))


def user_for_token(session: Session, token: str) -> User | None:
    """The active user of a live token, or None; in one statement with the roles and scopes
    (:func:`principal_loading`)."""
    return session.execute(_USER_FOR_TOKEN, {"token_hash": _token_hash(token)}) \
        .unique().scalar_one_or_none()



def revoke_token(session: Session, *, token_id: int, actor: User) -> None:
    row = session.get(ApiToken, as_id(token_id, "token_id"))
    if row is None or (row.user_id != actor.id and Role.ADMIN not in actor.roles):
        raise InvalidInput(msg("no such token"), field="token_id")
    if row.revoked_at is not None:
        return
    row.revoked_at = utcnow()
    record(session, actor=actor, action="token.revoke", entity_type="api_tokens",
           entity_id=row.id, after={"name": row.name, "user": row.user.username})


def require(user: User | None, action: str) -> User:
    """Refuse an action the user's roles do not allow.

    :raises PermissionDenied:
    """
    if user is None or not allowed(user.roles, action):
        raise PermissionDenied(msg("your roles do not allow '%(action)s'",
                                   action=action_name(action)),
                               action=action)
    return user


# --- administration (the ``admin`` role: permission ``user.manage``) -------------------------

def managed_user(session: Session, *, actor: User | None, username: str) -> User:
    """The user ``actor`` administers.

    :raises PermissionDenied: the actor may not manage users. :raises NotFound:
    """
    require(actor, "user.manage")
    # One administrator's change at a time: lock the active administrators (in id order, so
    # two changes cannot deadlock), then the user; :func:`_keep_an_admin` then counts rows no
    # one else can change meanwhile (two admins disabling each other would leave none).
    session.execute(_active_admins().with_for_update(of=User))
    user = session.scalar(select(User).where(User.username == username).with_for_update(of=User)
                          .execution_options(populate_existing=True)) \
        if isinstance(username, str) else None
    if user is None:
        raise NotFound(msg("no user %(username)r", username=username), field="username")
    return user


def _active_admins() -> Any:
    return (select(User.id).where(User.active.is_(True), exists().where(
        UserRole.user_id == User.id, UserRole.role == Role.ADMIN.value)).order_by(User.id))


def _keep_an_admin(session: Session, user: User, *, active: bool, roles: list[Role]) -> None:
    """Refuse a change to ``user`` that would leave no active administrator.

    :raises Conflict:
    """
    if active and Role.ADMIN in roles:
        return
    others = [a for a in session.scalars(_active_admins()) if a != user.id]  # locked above
    if not others:
        raise Conflict(msg("this would leave no active administrator"), field="username")


def list_users(session: Session, *, actor: User | None) -> list[User]:
    require(actor, "user.manage")
    return list(session.scalars(select(User).order_by(User.username)))


def user_tokens(session: Session, *, actor: User | None, username: str) -> list[ApiToken]:
    user = managed_user(session, actor=actor, username=username)
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.id)))


def live_sessions(session: Session, *, actor: User | None, username: str) -> list[UserSession]:
    """The user's sessions not revoked (some may have expired by time)."""
    user = managed_user(session, actor=actor, username=username)
    return list(session.scalars(select(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .order_by(UserSession.id)))


def set_active(session: Session, *, actor: User | None, username: str, active: bool,
               reason: str | None = None) -> User:
    """Disable or enable a user. Disabling ends their sessions at once; their API tokens are
    refused while they are disabled and work again when they are enabled.

    :raises Conflict: disabling the last active administrator.
    """
    user = managed_user(session, actor=actor, username=username)
    if user.active == active:
        return user
    if not active:
        _keep_an_admin(session, user, active=False, roles=sorted(user.roles))
    before = {"active": user.active}
    user.active = active
    after: dict[str, object] = {"active": active}
    if not active:
        after["sessions_revoked"] = revoke_sessions(session, user)
    session.flush()
    record(session, actor=actor, action="user.enable" if active else "user.disable",
           entity_type="users", entity_id=user.id, before=before, after=after,
           reason=reason)
    return user


def reset_password(session: Session, *, actor: User | None, username: str,
                   password: str) -> User:
    """Give a user a new password (the policy of :func:`check_password`) and end their
    sessions. A lock stays until :func:`unlock_user`.

    :raises InvalidInput: the password is too short or too common.
    """
    user = managed_user(session, actor=actor, username=username)
    check_password(password)
    user.password_hash = generate_password_hash(password)
    revoked = revoke_sessions(session, user)
    session.flush()
    record(session, actor=actor, action="user.password_reset", entity_type="users",
           entity_id=user.id, after={"sessions_revoked": revoked})
    return user


def set_roles(session: Session, *, actor: User | None, username: str, roles: list[str],
              scopes: list[str] | None = None,
              scope_items: list[object] | None = None) -> User:
    """Replace a user's roles, fields and granted scope items (``None``: scope items kept).

    :raises InvalidInput: an unknown role or none, an unknown scope item. :raises Conflict:
        the last active administrator would lose the role.
    """
    user = managed_user(session, actor=actor, username=username)
    role_set, scope_list = _roles(roles), _scopes(scopes)
    items = sorted(user.scope_items) if scope_items is None else _scope_items(session,
                                                                              scope_items)
    _keep_an_admin(session, user, active=user.active, roles=role_set)
    before = {"roles": sorted(r.value for r in user.roles), "scopes": sorted(user.scopes),
              "scope_items": sorted(user.scope_items)}
    after = {"roles": [r.value for r in role_set], "scopes": scope_list, "scope_items": items}
    if before == after:
        return user
    user.role_rows = [UserRole(role=r.value) for r in role_set]
    user.scope_rows = [SignatoryScope(scope=s) for s in scope_list]
    kept = {a.scope_item_id: a for a in user.authority_rows}  # a grant keeps its date
    user.authority_rows = [kept.get(i) or SignatoryAuthority(scope_item_id=i) for i in items]
    session.flush()
    record(session, actor=actor, action="user.roles", entity_type="users", entity_id=user.id,
           before=before, after=after)
    return user


def unlock_user(session: Session, *, actor: User | None, username: str) -> User:
    """Unlock an account locked by failed logins and forget its recent failures, so that its
    user can log in at once."""
    user = managed_user(session, actor=actor, username=username)
    failures = session.execute(delete(LoginFailure).where(LoginFailure.username == user.username))
    before = {"locked_at": user.locked_at, "failed_logins": user.failed_logins,
              "recent_failures": failures.rowcount}  # type: ignore[attr-defined]
    user.locked_at, user.failed_logins = None, 0
    session.flush()
    record(session, actor=actor, action="user.unlock", entity_type="users", entity_id=user.id,
           before=before)
    return user


def sign_out(session: Session, *, actor: User | None, username: str) -> int:
    """End every session of a user (their API tokens are untouched); return how many."""
    user = managed_user(session, actor=actor, username=username)
    revoked = revoke_sessions(session, user)
    record(session, actor=actor, action="user.sign_out", entity_type="users",
           entity_id=user.id, after={"sessions_revoked": revoked})
    return revoked


def revoke_user_token(session: Session, *, actor: User | None, username: str,
                      token_id: int) -> None:
    """Revoke one of ``username``'s API tokens (audited by :func:`revoke_token`).

    :raises InvalidInput: no such token of that user.
    """
    user = managed_user(session, actor=actor, username=username)
    row = session.get(ApiToken, as_id(token_id, "token_id"))
    if row is None or row.user_id != user.id:
        raise InvalidInput(msg("no such token"), field="token_id")
    revoke_token(session, token_id=row.id, actor=actor)  # type: ignore[arg-type]


LOCALES = ("zh_CN", "en")


def set_locale(session: Session, *, user_id: int, locale: str | None) -> None:
    """Save a user's language for the pages (a display preference: not audited)."""
    if locale is not None and locale not in LOCALES:
        raise InvalidInput(msg("locale must be one of %(locales)s", locales=", ".join(LOCALES)),
                           field="locale")
    session.execute(update(User).where(User.id == user_id).values(locale=locale))
