"""Users, roles, signatory scopes, API tokens, login sessions and failed logins."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, joinedload, lazyload, mapped_column, relationship

from lims.accreditation.models import SignatoryAuthority
from lims.db import Model, utcnow


class Role(enum.StrEnum):
    TECHNICIAN = "technician"
    REVIEWER = "reviewer"
    SIGNATORY = "signatory"
    QUALITY_MANAGER = "quality_manager"
    AUDITOR = "auditor"
    ADMIN = "admin"


class User(Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Wrong passwords in a row since the last successful login or unlock; at the policy's
    # limit the account is locked until an administrator unlocks it.
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_at: Mapped[dt.datetime | None]
    # The language of the pages for this user (lims.web.i18n): "zh_CN", "en" or None to follow
    # the browser and the instance default.
    locale: Mapped[str | None] = mapped_column(String(10))

    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin")
    scope_rows: Mapped[list[SignatoryScope]] = relationship(
        cascade="all, delete-orphan", lazy="selectin")
    # The scope items the signatory is authorised for (授权签字人授权范围, RB/T 214 4.2.4).
    authority_rows: Mapped[list[SignatoryAuthority]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="SignatoryAuthority.scope_item_id")

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.role_rows)

    @property
    def scopes(self) -> frozenset[str]:
        """The fields of work outside the accredited scope the signatory may sign for."""
        return frozenset(s.scope for s in self.scope_rows)

    @property
    def scope_items(self) -> frozenset[int]:
        """The ids of the accredited scope items the signatory may sign for."""
        return frozenset(a.scope_item_id for a in self.authority_rows)

    @property
    def locked(self) -> bool:
        return self.locked_at is not None


def principal_loading() -> tuple[Any, ...]:
    """How a request's user is loaded: its roles and signatory scopes joined to the user's own
    row (a handful of rows), and the granted scope items (possibly hundreds) only when a
    signing check asks for them; one statement for the authentication of every request."""
    return (joinedload(User.role_rows), joinedload(User.scope_rows),
            lazyload(User.authority_rows))


class UserRole(Model):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(30), primary_key=True)


class SignatoryScope(Model):
    """A field of work *outside* the accredited scope a signatory may sign for.

    Before migration 0009 this free-text field was the whole of a signatory's authority. Work
    that a scope item lists now needs a grant of that item
    (:class:`lims.accreditation.models.SignatoryAuthority`); the field still authorises work
    no scope item lists, so that no signatory lost what they could sign (RB/T 214 4.2.4).
    """

    __tablename__ = "signatory_scopes"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)


class ApiToken(Model):
    """A bearer token for scripts; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


class UserSession(Model):
    """A browser login: the cookie holds a random id, the database its SHA-256.

    Ended by logout (``revoked_at``), by an administrator (disable, password reset, sign-out),
    after ``idle`` without a request and after an absolute lifetime from ``created_at``.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(index=True)
    last_seen_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    address: Mapped[str] = mapped_column(String(64))

    user: Mapped[User] = relationship()


class LoginFailure(Model):
    """One wrong password (or unknown name), kept for the throttling window.

    Shared by every web worker because it is in the database; counted per typed username and
    per client address, so that neither many guesses at one account nor one address guessing
    at many accounts gets more than the policy allows.
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(60))
    address: Mapped[str] = mapped_column(String(64))
