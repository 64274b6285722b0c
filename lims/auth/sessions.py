"""Logging in: throttling, lockout and server-side sessions.

A login takes two steps, so that the password hash never runs for a throttled attempt and
never runs inside a write transaction:

1. :func:`check_login` reads only. It refuses with :class:`TooManyAttempts` when the typed
   username or the client address has had ``max_failures`` (``max_failures_per_address``)
   failures within ``window``. That costs one query (two index lookups) and no hash, and
   while the same key keeps hammering, not even the query (:class:`Refusals`): a flood of
   wrong passwords costs less than a flood of any other request. Otherwise it checks the
   password, against a dummy hash for unknown names so the time does not tell whether the
   name exists.
2. :func:`finish_login` runs in the caller's unit of work. On failure it records a
   ``login_failures`` row (the throttle's memory, in the database so every gunicorn worker
   shares it), counts the wrong password on the account, and at ``lockout_failures`` in a row
   locks it until an administrator unlocks it. On success it opens a session. Both outcomes
   are audited.

Concurrent attempts that all pass step 1 before any of them records its failure each run the
hash once: the overshoot is bounded by the number of worker threads, not by the attacker.

A session is a ``user_sessions`` row. The (signed) cookie carries a random id; the row keeps
only its SHA-256. :func:`resume_session` refuses a session that was revoked (logout, or an
administrator's disable, password reset or sign-out), one idle for longer than ``idle``, one
older than ``lifetime``, and any session of a disabled user.

Applying an electronic signature (approving, issuing a report) asks a logged-in user for their
password again (21 CFR 11.200(a)(1)): :func:`reauthenticate`. It shares the login's memory of
failures: a wrong signing password is a failed login for throttling and lockout
(:func:`record_reauthentication_failure`), so the signing form is no way around the login's
limits (21 CFR 11.300(d): attempts at unauthorised use are detected and stopped).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import secrets
import threading
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from lims.audit.services import record
from lims.auth.errors import ReauthenticationFailed, TooManyAttempts
from lims.auth.models import LoginFailure, User, UserSession, principal_loading
from lims.db import utcnow
from lims.errors import InvalidInput, msg
from lims.validate import is_utf8

# A fixed hash to compare against when the user does not exist, so that a login attempt takes
# the same time whether or not the name is known.
_DUMMY_HASH = generate_password_hash("not-a-password")
# A session's last request is stored at most this often (a write per request would serialise
# SQLite readers behind the write lock); the idle timeout is exact to within this interval.
TOUCH_INTERVAL = dt.timedelta(seconds=60)


@dataclasses.dataclass(frozen=True)
class LoginPolicy:
    """Limits on logins and sessions; ``0`` switches a limit off."""

    max_failures: int = 5                # failures per typed username within ``window``
    max_failures_per_address: int = 20   # failures per client address within ``window``
    window: dt.timedelta = dt.timedelta(minutes=15)
    lockout_failures: int = 10           # wrong passwords in a row that lock the account
    idle: dt.timedelta = dt.timedelta(minutes=30)
    lifetime: dt.timedelta = dt.timedelta(hours=12)

    @classmethod
    def from_settings(cls, settings: Any) -> LoginPolicy:
        """Read ``login_*`` and ``session_*`` from :class:`lims.config.Settings`, with the
        defaults above for any it does not have."""
        d = cls()

        def get(name: str, default: float) -> int:
            return max(0, int(getattr(settings, name, default)))

        minutes = dt.timedelta(minutes=1)
        return cls(
            max_failures=get("login_max_failures", d.max_failures),
            max_failures_per_address=get("login_max_failures_per_address",
                                         d.max_failures_per_address),
            window=get("login_window_minutes", d.window / minutes) * minutes,
            lockout_failures=get("login_lockout_failures", d.lockout_failures),
            idle=get("session_idle_minutes", d.idle / minutes) * minutes,
            lifetime=get("session_lifetime_hours", d.lifetime / (60 * minutes)) * 60 * minutes,
        )


@dataclasses.dataclass(frozen=True)
class LoginAttempt:
    """What :func:`check_login` found; :func:`finish_login` records it."""

    username: str          # as typed, made printable, at most 60 characters
    address: str
    user_id: int | None    # the user of that name, if any
    password_ok: bool      # the password matched that user's hash


@dataclasses.dataclass(frozen=True)
class LoginOutcome:
    user_id: int | None = None
    sid: str | None = None    # on success: the session id for the cookie, shown once
    locked: bool = False      # the password was right, but the account is locked


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _login_name(username: str) -> tuple[str, bool]:
    """The name to key failures by, and whether it can be a stored username at all."""
    # No stored name holds a control character or a lone surrogate (PostgreSQL would refuse
    # the query); such a name is simply not a user.
    if username.isprintable() and is_utf8(username):
        return username[:60], True
    name = username.encode("utf-8", "backslashreplace").decode("ascii", "replace")
    return "".join(ch if ch.isprintable() else "?" for ch in name)[:60], False


def _nth_failure(column: Any, key: str, skip: str) -> Any:
    # The skip+1-th most recent failure of a key inside the window: if there is one, the
    # limit is reached, and it is the failure whose expiry lets the next attempt through.
    failures = LoginFailure.__table__.c
    return (select(failures.at).where(column == bindparam(key), failures.at > bindparam("since"))
            .order_by(failures.at.desc()).offset(bindparam(skip)).limit(1).scalar_subquery())


# Built once, Core only, one round trip for both keys: this is all a throttled attempt costs.
_THROTTLE = select(
    _nth_failure(LoginFailure.__table__.c.username, "username", "username_skip"),
    _nth_failure(LoginFailure.__table__.c.address, "address", "address_skip"))
_NEVER = 2**31 - 1  # an offset no key reaches: the limit is off


class Refusals:
    """Refusals this worker read from ``login_failures``, repeated for at most ``ttl``.

    The database decides, and every worker sees the same counts; this only spares the
    database a query per attempt while one account or address keeps hammering: a flood costs
    one query per key per worker every ``ttl``. A refusal is never kept past the moment the
    database would lift it; only an unlock lifts one early, and other workers then follow
    within ``ttl`` (the worker that unlocked forgets at once).
    """

    def __init__(self, ttl: dt.timedelta = dt.timedelta(seconds=2), size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self._lock = threading.Lock()
        self._memo: dict[tuple[str, str], tuple[dt.datetime, dt.datetime]] = {}

    def check(self, keys: tuple[tuple[str, str], ...], now: dt.datetime) -> None:
        """:raises TooManyAttempts: a key refused within ``ttl``."""
        with self._lock:
            hits = [(field, self._memo.get((field, key))) for field, key in keys]
        for field, hit in hits:
            if hit is not None and hit[0] > now:
                raise _refused(field, hit[1], now)

    def remember(self, field: str, key: str, lifted_at: dt.datetime, now: dt.datetime) -> None:
        with self._lock:
            if len(self._memo) >= self.size:
                self._memo = {k: v for k, v in self._memo.items() if v[0] > now}
                if len(self._memo) >= self.size:  # a flood of distinct keys: start over
                    self._memo.clear()
            self._memo[(field, key)] = (min(now + self.ttl, lifted_at), lifted_at)

    def forget(self, username: str | None = None) -> None:
        """Forget the refusals of ``username`` (all refusals if None)."""
        with self._lock:
            if username is None:
                self._memo.clear()
            else:
                self._memo.pop(("username", username), None)


def _refused(field: str, lifted_at: dt.datetime, now: dt.datetime) -> TooManyAttempts:
    wait = max(1, math.ceil((lifted_at - now).total_seconds()))
    minutes = math.ceil(wait / 60)
    # Two whole sentences, not one with a spliced-in phrase: a translation reorders them.
    message = msg("too many failed logins for this account; try again in %(minutes)s min",
                  minutes=minutes) if field == "username" else \
        msg("too many failed logins from your address; try again in %(minutes)s min",
            minutes=minutes)
    return TooManyAttempts(message, field=field, retry_after=wait)


def throttle(session: Session, *, username: str, address: str | None, policy: LoginPolicy,
             now: dt.datetime | None = None, refusals: Refusals | None = None) -> None:
    """Refuse a login attempt for an account or from an address that failed too often.

    :param address: None to count the account's failures only (a re-authentication).
    :param refusals: this worker's memo of recent refusals, if any (:class:`Refusals`).
    :raises TooManyAttempts: with the seconds until the oldest counted failure leaves the
        window (``retry_after``) and ``field`` ``username`` or ``address``.
    """
    now = now or utcnow()
    keys = (("username", username), ("address", address or ""))
    if refusals is not None:
        refusals.check(keys, now)
    by_name, by_address = session.execute(_THROTTLE, {
        "since": now - policy.window, "username": username, "address": address or "",
        "username_skip": policy.max_failures - 1 if policy.max_failures else _NEVER,
        "address_skip": (policy.max_failures_per_address - 1
                         if policy.max_failures_per_address and address is not None
                         else _NEVER)}).one()
    for (field, key), nth in zip(keys, (by_name, by_address), strict=True):
        if nth is not None:
            if refusals is not None:
                refusals.remember(field, key, nth + policy.window, now)
            raise _refused(field, nth + policy.window, now)


def check_login(session: Session, *, username: str, password: str, address: str,
                policy: LoginPolicy, now: dt.datetime | None = None,
                refusals: Refusals | None = None) -> LoginAttempt:
    """Step 1 of a login (reads only): throttle, then check the password.

    :raises TooManyAttempts: see :func:`throttle`; the password is then not checked.
    """
    name, storable = _login_name(username or "")
    address = (address or "unknown")[:64]
    throttle(session, username=name, address=address, policy=policy, now=now,
             refusals=refusals)
    user = session.scalar(select(User).where(User.username == name)) if storable else None
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return LoginAttempt(name, address, None, False)
    # Checked for disabled and locked accounts too, so the time tells nothing about them.
    ok = check_password_hash(user.password_hash, password or "")
    return LoginAttempt(name, address, user.id, ok)


def finish_login(session: Session, attempt: LoginAttempt, *, policy: LoginPolicy,
                 now: dt.datetime | None = None) -> LoginOutcome:
    """Step 2 of a login (inside a unit of work): record the outcome, audited.

    A right password for an active, unlocked account opens a session and clears the
    account's failures. A right password for a locked account is refused but is not a
    failure. Anything else is a failure: throttling row, the account's count, and the lock at
    ``policy.lockout_failures`` in a row.
    """
    now = now or utcnow()
    user = session.get(User, attempt.user_id) if attempt.user_id is not None else None
    if user is not None and user.active and attempt.password_ok:
        if user.locked_at is not None:
            record(session, actor=None, action="auth.login_failed", entity_type="users",
                   entity_id=user.id, reason="account locked")
            return LoginOutcome(user_id=user.id, locked=True)
        if user.failed_logins:
            user.failed_logins = 0
        session.execute(delete(LoginFailure).where(LoginFailure.username == user.username))
        record(session, actor=user, action="auth.login", entity_type="users",
               entity_id=user.id)
        return LoginOutcome(user_id=user.id, sid=start_session(
            session, user=user, address=attempt.address, policy=policy, now=now))
    _record_failure(session, username=attempt.username, address=attempt.address, user=user,
                    policy=policy, now=now, action="auth.login_failed", actor=None)
    return LoginOutcome()


def _record_failure(session: Session, *, username: str, address: str, user: User | None,
                    policy: LoginPolicy, now: dt.datetime, action: str,
                    actor: User | None, reason: str | None = None) -> None:
    """Remember a wrong password: the throttle's row, the account's count in a row, and the
    lock at ``policy.lockout_failures``; audited."""
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - policy.window))
    session.add(LoginFailure(at=now, username=username, address=address))
    record(session, actor=actor, action=action, entity_type="users",
           entity_id=user.id if user else username, reason=reason)
    if user is not None:
        # Incremented in SQL: concurrent failures must not lose a count.
        count = session.execute(
            update(User).where(User.id == user.id)
            .values(failed_logins=User.failed_logins + 1).returning(User.failed_logins)
            .execution_options(synchronize_session=False)).scalar_one()
        if policy.lockout_failures and count >= policy.lockout_failures:
            locked = session.execute(
                update(User).where(User.id == user.id, User.locked_at.is_(None))
                .values(locked_at=now).execution_options(synchronize_session=False))
            if locked.rowcount:  # type: ignore[attr-defined]
                record(session, actor=None, action="user.lock", entity_type="users",
                       entity_id=user.id, after={"failed_logins": count},
                       reason=f"{count} wrong passwords in a row")
        session.expire(user)
    session.flush()


def reauthenticate(session: Session, *, user: User, password: Any, meaning: str,
                   policy: LoginPolicy | None = None, now: dt.datetime | None = None) -> None:
    """Check the password a logged-in signer re-entered to apply an electronic signature
    (21 CFR 11.200(a)(1): the secret component again at each signing). Run it inside the
    signing transaction, before the record is changed.

    A right password clears the account's failures, as a login does (they roll back with the
    signing if it fails).

    :param meaning: what the signature means ("批准 Approved"), for the messages.
    :raises InvalidInput: no password was sent (``field`` ``password``).
    :raises TooManyAttempts: the account had ``policy.max_failures`` failures (logins or
        signings) within the window; the password is not checked.
    :raises ReauthenticationFailed: a wrong password (``data["record"]``: the edge records
        it), or a right one for a locked account.
    """
    policy = policy or LoginPolicy()
    if not isinstance(password, str) or not password:
        raise InvalidInput(msg("enter your password to apply your electronic signature "
                               "(%(meaning)s)", meaning=meaning), field="password")
    now = now or utcnow()
    # The password and the lock as they stand now: the request's user was loaded when it was
    # authenticated and kept (lims.db.keep_loaded); a lock or a new password since then counts.
    session.refresh(user, ["password_hash", "locked_at", "failed_logins"])
    throttle(session, username=user.username, address=None, policy=policy, now=now)
    if not check_password_hash(user.password_hash, password[:200]):
        raise ReauthenticationFailed(
            msg("wrong password: your electronic signature (%(meaning)s) was not applied",
                meaning=meaning),
            field="password", record=True, user_id=user.id, username=user.username)
    if user.locked_at is not None:
        raise ReauthenticationFailed(
            msg("this account is locked after too many wrong passwords; ask an administrator "
                "to unlock it"), field="password", record=False, user_id=user.id,
            username=user.username)
    if user.failed_logins:
        user.failed_logins = 0
    session.execute(delete(LoginFailure).where(LoginFailure.username == user.username))


def record_reauthentication_failure(session: Session, exc: ReauthenticationFailed, *,
                                    address: str, policy: LoginPolicy | None = None,
                                    now: dt.datetime | None = None) -> None:
    """Record a wrong signing password (in its own unit of work, after the signing one rolled
    back): a failed login for throttling and lockout, audited as ``auth.reauth_failed``."""
    if not exc.data.get("record"):
        return
    user = session.get(User, exc.data["user_id"])
    _record_failure(session, username=exc.data["username"], address=(address or "unknown")[:64],
                    user=user, policy=policy or LoginPolicy(), now=now or utcnow(),
                    action="auth.reauth_failed", actor=user,
                    reason="wrong password to apply an electronic signature")


def start_session(session: Session, *, user: User, address: str, policy: LoginPolicy,
                  now: dt.datetime | None = None) -> str:
    """Open a session for ``user``; return its id (for the cookie) once."""
    now = now or utcnow()
    if policy.lifetime:  # sessions past the absolute lifetime can never be used again
        session.execute(delete(UserSession).where(
            UserSession.created_at < now - policy.lifetime))
    sid = secrets.token_urlsafe(32)
    session.add(UserSession(user_id=user.id, sid_hash=_hash(sid), created_at=now,
                            last_seen_at=now, address=(address or "unknown")[:64]))
    session.flush()
    return sid


def resume_session(session: Session, sid: str, *, policy: LoginPolicy,
                   now: dt.datetime | None = None) -> UserSession | None:
    """The live session with this id, or None if it is unknown, revoked, idle too long, too
    old, or its user is disabled."""
    now = now or utcnow()
    # The row and its user with roles and scopes in one statement (principal_loading).
    row = session.execute(
        select(UserSession).where(UserSession.sid_hash == _hash(sid))
        .options(joinedload(UserSession.user).options(*principal_loading()))
    ).unique().scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if (policy.idle and now - row.last_seen_at > policy.idle) \
            or (policy.lifetime and now - row.created_at > policy.lifetime):
        return None
    if not row.user.active:
        return None
    return row


def needs_touch(row: UserSession, now: dt.datetime | None = None) -> bool:
    return (now or utcnow()) - row.last_seen_at >= TOUCH_INTERVAL


def touch_session(session: Session, session_id: int, now: dt.datetime | None = None) -> None:
    """Store a session's latest request time (the idle timeout counts from it)."""
    session.execute(update(UserSession).where(UserSession.id == session_id)
                    .values(last_seen_at=now or utcnow())
                    .execution_options(synchronize_session=False))


def end_session(session: Session, sid: str, *, actor: User | None) -> None:
    """Log out: revoke the session so that its cookie, replayed, is refused."""
    row = session.scalar(select(UserSession).where(UserSession.sid_hash == _hash(sid)))
    if row is None or row.revoked_at is not None:
        return
    row.revoked_at = utcnow()
    record(session, actor=actor, action="auth.logout", entity_type="user_sessions",
           entity_id=row.id)


def revoke_sessions(session: Session, user: User) -> int:
    """Revoke every live session of ``user``; return how many (the caller audits)."""
    result = session.execute(
        update(UserSession).where(UserSession.user_id == user.id,
                                  UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow()).execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]
