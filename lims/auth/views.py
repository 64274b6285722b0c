"""Login, logout, API tokens, and user administration (``/users``, the ``admin`` role)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lims.accreditation import scope_lookup
from lims.auth import services
from lims.auth.models import ApiToken, Role, User
from lims.auth.sessions import check_login, end_session, finish_login
from lims.db import unit_of_work
from lims.errors import InvalidInput, PermissionDenied, Unauthenticated, msg
from lims.web import listing
from lims.web.auth import client_address, current_user, login_policy, refusals
from lims.web.context import get_session, settings
from lims.web.errors import localized, wants_json
from lims.web.listing import contains_text

bp = Blueprint("auth", __name__)

SCOPE_TYPED = "scope_items_typed"  # the scope field's typed items (scope_lookup.resolve)
USER_SORTS = {"username": User.username, "full_name": User.full_name,
              "created": User.created_at}

WRONG = msg("wrong username or password")
LOCKED = msg(
    "this account is locked after too many failed logins; ask an administrator to unlock it")
# The same refusals as a browser user reads them (the API keeps the English above).
WRONG_PAGE = lazy_gettext("Wrong username or password.")
LOCKED_PAGE = lazy_gettext(
    "This account is locked after too many failed logins; ask an administrator to unlock it.")


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: an open redirect would help phishing. Browsers read a
    # backslash as a slash and drop tabs and newlines, so "/\\evil" and "/\t/evil" are
    # "//evil" to them: refused too.
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc \
            and not any(c == "\\" or ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return target
    return url_for("work.queue")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("auth/login.html", next=request.args.get("next", ""))
    policy, db = login_policy(), get_session()
    # Throttled attempts stop here with 429 (lims.web.auth), before any password hash.
    attempt = check_login(db, username=request.form.get("username", "")[:60],
                          password=request.form.get("password", "")[:200],
                          address=client_address(), policy=policy, refusals=refusals())
    with unit_of_work(db):
        outcome = finish_login(db, attempt, policy=policy)
    if outcome.sid is None:
        if wants_json():
            raise PermissionDenied(LOCKED) if outcome.locked else Unauthenticated(WRONG)
        return render_template("auth/login.html",
                               message=LOCKED_PAGE if outcome.locked else WRONG_PAGE,
                               next=request.form.get("next", "")), 403 if outcome.locked else 401
    lang = session.get("lang")
    session.clear()  # a new session id and CSRF secret: no session fixation
    session["sid"] = outcome.sid
    if isinstance(lang, str):
        session["lang"] = lang
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/locale")
def set_locale() -> ResponseReturnValue:
    """The language switch in every page's header: kept on the user's account when logged in
    (so it follows them to the bench tablet), else in the session cookie."""
    from lims.web.i18n import normalise

    locale = normalise(request.form.get("locale"))
    if locale is None:
        raise InvalidInput(msg("locale must be zh_CN or en"), field="locale")
    session["lang"] = locale
    user = g.get("user")
    if user is not None:
        with unit_of_work(get_session()) as db:
            services.set_locale(db, user_id=user.id, locale=locale)
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    sid = session.get("sid")
    if isinstance(sid, str):
        with unit_of_work(get_session()) as db:
            end_session(db, sid, actor=g.get("user"))
    session.clear()
    return redirect(url_for("auth.login"), code=303)


@bp.get("/tokens")
def tokens() -> ResponseReturnValue:
    user = current_user()
    rows = get_session().scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                 .order_by(ApiToken.id)).all()
    return render_template("auth/tokens.html", tokens=rows)


@bp.post("/tokens")
def new_token() -> ResponseReturnValue:
    user = current_user()
    with unit_of_work(get_session()) as db:
        token = services.create_token(db, user=user, name=request.form.get("name", "token"))
    rows = get_session().scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                 .order_by(ApiToken.id)).all()
    return render_template("auth/tokens.html", tokens=rows, new_token=token)


@bp.post("/tokens/<int:token_id>/revoke")
def revoke(token_id: int) -> ResponseReturnValue:
    with unit_of_work(get_session()) as db:
        services.revoke_token(db, token_id=token_id, actor=current_user())
    flash(_("Token revoked"), "ok")
    return redirect(url_for("auth.tokens"), code=303)


# --- user administration ----------------------------------------------------------------------

def _scopes() -> list[str]:
    return [s.strip() for s in request.form.get("scopes", "").split(",") if s.strip()]


def _scope_items(db: Session) -> list[object]:
    """The accredited scope items granted on the form (授权签字人授权范围): the ticked boxes
    (ids, as scripts post them too) and the items typed in the scope field, resolved here so
    that an unknown one is named."""
    return [*request.form.getlist("scope_items"),
            *scope_lookup.resolve(db, request.form.getlist(SCOPE_TYPED), field=SCOPE_TYPED)]


def _done(username: str, message: str) -> ResponseReturnValue:
    flash(message, "ok")
    return redirect(url_for("auth.user_detail", username=username), code=303)


def _scope_refused(exc: InvalidInput) -> bool:
    """A refusal of the scope field on a page: shown beside the field, with what was typed and
    ticked kept (other refusals go back to the form as a message, as before)."""
    return exc.field in (SCOPE_TYPED, "scope_items") and not wants_json()


def _scope_boxes(db: Session, chosen: Iterable[object]) -> list[tuple[str, str, bool]]:
    """The scope field's boxes: the chosen items ticked, then the latest granted (issue 14:
    not a box for every item of the scope)."""
    return scope_lookup.options(scope_lookup.by_ids(db, chosen), scope_lookup.recent(db))


def _posted_scope() -> dict[str, Any]:
    """What a refused form had in its scope field, to show it again."""
    return {"chosen": request.form.getlist("scope_items"),
            "typed": request.form.get(SCOPE_TYPED, "")}


@bp.get("/users")
def users() -> ResponseReturnValue:
    return _users_page()


def _users_page(*, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    """The users, a page at a time (searched by username or full name), and the form that
    creates one; after a refusal of its scope field, the form as it was posted."""
    db, args = get_session(), request.args
    services.require(current_user(), "user.manage")
    term = listing.search_term(args)
    query = select(User)
    if term:
        query = query.where(or_(contains_text(User.username, term),
                                contains_text(User.full_name, term)))
    page = listing.paginate(db, query, args, sorts=USER_SORTS, default="username",
                            tiebreak=User.id)
    posted = _posted_scope() if error else {"chosen": [], "typed": ""}
    values = request.form if error else {}
    return render_template("auth/users.html", page=page, filters=args,
                           roles=[r.value for r in Role], values=values,
                           posted_roles=request.form.getlist("roles") if error else [],
                           scope_boxes=_scope_boxes(db, posted["chosen"]),
                           scope_typed=posted["typed"], scope_error=error), status


@bp.post("/users")
def create_user() -> ResponseReturnValue:
    db = get_session()
    try:
        with unit_of_work(db):
            user = services.create_user(
                db, actor=services.require(current_user(), "user.manage"),
                username=request.form.get("username", ""),
                full_name=request.form.get("full_name", ""),
                password=request.form.get("password", ""),
                roles=request.form.getlist("roles"), scopes=_scopes(),
                scope_items=_scope_items(db))
            username = user.username
    except InvalidInput as exc:
        if not _scope_refused(exc):
            raise
        return _users_page(error=localized(exc.message), status=422)
    return _done(username, _("Created user %(user)s", user=username))


@bp.get("/users/<username>")
def user_detail(username: str) -> ResponseReturnValue:
    return _user_page(username)


def _user_page(username: str, *, error: str | None = None,
               status: int = 200) -> ResponseReturnValue:
    """A user's page; after a refusal of the scope field, the roles form as it was posted."""
    db, actor = get_session(), current_user()
    user = services.managed_user(db, actor=actor, username=username)
    posted = _posted_scope() if error else {"chosen": sorted(user.scope_items), "typed": ""}
    return render_template(
        "auth/user.html", managed=user, roles=[r.value for r in Role],
        checked_roles=request.form.getlist("roles") if error else [r.value for r in user.roles],
        scopes_text=request.form.get("scopes", "") if error
        else ", ".join(sorted(user.scopes)),
        scope_boxes=_scope_boxes(db, posted["chosen"]), scope_typed=posted["typed"],
        scope_error=error,
        tokens=services.user_tokens(db, actor=actor, username=username),
        sessions=services.live_sessions(db, actor=actor, username=username)), status


def _withdraw(user: object) -> str:
    """After a committed change: revoke the signing certificate of a user who may no longer
    sign (:func:`lims.reports.sign.withdraw_signatory`); a note for the message."""
    from lims.reports.sign import withdraw_signatory

    serial = withdraw_signatory(settings(), user)
    return _("; signing certificate %(serial)s revoked", serial=f"{serial:x}") \
        if serial is not None else ""


@bp.post("/users/<username>/disable")
def disable(username: str) -> ResponseReturnValue:
    with unit_of_work(get_session()) as db:
        user = services.set_active(db, actor=current_user(), username=username, active=False,
                                   reason=request.form.get("reason") or None)
    return _done(username, _("%(user)s disabled; their sessions have ended", user=username)
                 + _withdraw(user))


@bp.post("/users/<username>/enable")
def enable(username: str) -> ResponseReturnValue:
    with unit_of_work(get_session()) as db:
        services.set_active(db, actor=current_user(), username=username, active=True,
                            reason=request.form.get("reason") or None)
    return _done(username, _("%(user)s enabled", user=username))


@bp.post("/users/<username>/password")
def reset_password(username: str) -> ResponseReturnValue:
    with unit_of_work(get_session()) as db:
        services.reset_password(db, actor=current_user(), username=username,
                                password=request.form.get("password", ""))
    return _done(username, _("Password of %(user)s reset; their sessions have ended",
                             user=username))


@bp.post("/users/<username>/roles")
def set_roles(username: str) -> ResponseReturnValue:
    db = get_session()
    try:
        with unit_of_work(db):
            user = services.set_roles(db, actor=current_user(), username=username,
                                      roles=request.form.getlist("roles"), scopes=_scopes(),
                                      scope_items=_scope_items(db))
    except InvalidInput as exc:
        if not _scope_refused(exc):
            raise
        return _user_page(username, error=localized(exc.message), status=422)
    return _done(username, _("Roles of %(user)s saved", user=username) + _withdraw(user))


@bp.post("/users/<username>/unlock")
def unlock(username: str) -> ResponseReturnValue:
    with unit_of_work(get_session()) as db:
        services.unlock_user(db, actor=current_user(), username=username)
    refusals().forget(username)
    return _done(username, _("%(user)s unlocked", user=username))


@bp.post("/users/<username>/sign-out")
def sign_out(username: str) -> ResponseReturnValue:
    with unit_of_work(get_session()) as db:
        n = services.sign_out(db, actor=current_user(), username=username)
    return _done(username, _("Ended %(n)s session(s) of %(user)s", n=n, user=username))


@bp.post("/users/<username>/tokens/<int:token_id>/revoke")
def revoke_user_token(username: str, token_id: int) -> ResponseReturnValue:
    with unit_of_work(get_session()) as db:
        services.revoke_user_token(db, actor=current_user(), username=username,
                                   token_id=token_id)
    return _done(username, _("Token revoked"))
