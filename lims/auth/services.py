"""Users, passwords, API tokens and signatory scopes."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from lims.audit.services import record
from lims.auth.models import ApiToken, Role, SignatoryScope, User, UserRole
from lims.auth.permissions import allowed
from lims.db import utcnow
from lims.errors import Conflict, InvalidInput, PermissionDenied
from lims.validate import as_id, is_utf8

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
# A fixed hash to compare against when the user does not exist, so that a login attempt takes
# the same time whether or not the name is known.
_DUMMY_HASH = generate_password_hash("not-a-password")


def check_password(password: str | None) -> None:
    """:raises InvalidInput: shorter than :data:`MIN_PASSWORD` or a common password."""
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD} characters",
                           field="password")
    if (password or "").lower() in COMMON_PASSWORDS:
        raise InvalidInput("this password is among the most common ones; choose another",
                           field="password")


def get_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def create_user(session: Session, *, username: str, full_name: str, password: str,
                roles: list[str], scopes: list[str] | None = None,
                actor: User | None = None) -> User:
    """Create a user with roles (and signatory scopes).

    :raises InvalidInput: bad name, short password or unknown role.
    :raises Conflict: the username is taken.
    """
    username = (username or "").strip()
    if not username or len(username) > 60 or not username.replace("_", "").replace(".", "").isalnum():
        raise InvalidInput("username must be 1-60 letters, digits, '.' or '_'", field="username")
    check_password(password)
    try:
        role_set = sorted({Role(r) for r in roles})
    except ValueError as exc:
        raise InvalidInput(f"unknown role in {roles!r}; roles are "
                           f"{', '.join(r.value for r in Role)}", field="roles") from exc
    if not role_set:
        raise InvalidInput("at least one role is required", field="roles")
    if get_user(session, username) is not None:
        raise Conflict(f"user {username!r} exists", field="username")
    user = User(username=username, full_name=full_name or username,
                password_hash=generate_password_hash(password))
    user.role_rows = [UserRole(role=r.value) for r in role_set]
    user.scope_rows = [SignatoryScope(scope=s) for s in sorted(set(scopes or []))]
    session.add(user)
    session.flush()
    record(session, actor=actor, action="user.create", entity_type="users", entity_id=user.id,
           after={"username": username, "full_name": user.full_name,
                  "roles": [r.value for r in role_set], "scopes": sorted(user.scopes)})
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """Return the active user with this password, or None; failures are audited."""
    # No stored name holds a control character or a lone surrogate (PostgreSQL would refuse
    # the query); such a name is simply not a user.
    if not username.isprintable() or not is_utf8(username):
        username = username.encode("utf-8", "backslashreplace").decode("ascii", "replace")
        username = "".join(ch if ch.isprintable() else "?" for ch in username)
        user = None
    else:
        user = get_user(session, username)
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password or "")
        ok = False
    else:
        ok = check_password_hash(user.password_hash, password or "")
    record(session, actor=user if ok else None, action="auth.login" if ok else "auth.login_failed",
           entity_type="users", entity_id=user.id if user else username[:60])
    return user if ok else None


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


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    return row.user


def revoke_token(session: Session, *, token_id: int, actor: User) -> None:
    row = session.get(ApiToken, as_id(token_id, "token_id"))
    if row is None or (row.user_id != actor.id and Role.ADMIN not in actor.roles):
        raise InvalidInput("no such token", field="token_id")
    row.revoked_at = utcnow()
    record(session, actor=actor, action="token.revoke", entity_type="api_tokens",
           entity_id=row.id)


def require(user: User | None, action: str) -> User:
    """Refuse an action the user's roles do not allow.

    :raises PermissionDenied:
    """
    if user is None or not allowed(user.roles, action):
        raise PermissionDenied(f"your roles do not allow {action!r}", action=action)
    return user
