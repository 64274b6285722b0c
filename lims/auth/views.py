"""Login, logout and API tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from sqlalchemy import select

from lims.auth.models import ApiToken
from lims.auth.services import authenticate, create_token, revoke_token
from lims.db import unit_of_work
from lims.web.auth import current_user
from lims.web.context import get_session

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: an open redirect would help phishing.
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc:
        return target
    return url_for("samples.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> object:
    if request.method == "GET":
        return render_template("auth/login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "")[:60]
    password = request.form.get("password", "")[:200]
    with unit_of_work(get_session()) as db:
        user = authenticate(db, username, password)
        user_id = user.id if user else None
    if user_id is None:
        return render_template("auth/login.html", message="wrong username or password",
                               next=request.form.get("next", "")), 401
    session.clear()
    session["user_id"] = user_id
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/logout")
def logout() -> object:
    session.clear()
    return redirect(url_for("auth.login"), code=303)


@bp.get("/tokens")
def tokens() -> object:
    user = current_user()
    rows = get_session().scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                 .order_by(ApiToken.id)).all()
    return render_template("auth/tokens.html", tokens=rows)


@bp.post("/tokens")
def new_token() -> object:
    user = current_user()
    with unit_of_work(get_session()) as db:
        token = create_token(db, user=user, name=request.form.get("name", "token"))
    rows = get_session().scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                 .order_by(ApiToken.id)).all()
    return render_template("auth/tokens.html", tokens=rows, new_token=token)


@bp.post("/tokens/<int:token_id>/revoke")
def revoke(token_id: int) -> object:
    with unit_of_work(get_session()) as db:
        revoke_token(db, token_id=token_id, actor=current_user())
    flash("token revoked", "ok")
    return redirect(url_for("auth.tokens"), code=303)
