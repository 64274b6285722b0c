"""The white papers page: those issued, a form to issue one for a year (quality manager or
administrator), each one's signed PDF and its figures as JSON."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from lims.auth.models import User
from lims.auth.permissions import allowed
from lims.db import unit_of_work
from lims.supervision import whitepaper
from lims.web.auth import current_user
from lims.web.context import get_session, settings
from lims.web.inputs import form

bp = Blueprint("whitepapers", __name__)


@bp.get("/whitepapers")
def index() -> Any:
    db = get_session()
    papers = whitepaper.list_papers(db)
    ids = {p.issued_by_id for p in papers if p.issued_by_id is not None}
    names = dict(db.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all()
                 ) if ids else {}
    return render_template("supervision/whitepapers.html", papers=papers, names=names,
                           can_issue=allowed(current_user().roles, "whitepaper.issue"))


@bp.post("/whitepapers")
def issue() -> Any:
    """Issue the paper of the form's ``year``; a bad year comes back to the form naming it."""
    with unit_of_work(get_session()) as db:
        paper = whitepaper.issue(db, actor=current_user(), year=form().get("year"),
                                 settings=settings())
        year = paper.year
    flash(_("White paper %(year)s issued", year=year), "ok")
    return redirect(url_for("whitepapers.index"), code=303)


@bp.get("/whitepapers/<int:paper_id>.pdf")
def download(paper_id: int) -> Any:
    paper = whitepaper.get_paper(get_session(), paper_id)
    return Response(paper.pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="whitepaper-{paper.year}-{paper.id}.pdf"'})


@bp.get("/whitepapers/<int:paper_id>/figures.json")
def figures(paper_id: int) -> Any:
    """The figures the paper printed, as stored with it (the statistics API's payload)."""
    paper = whitepaper.get_paper(get_session(), paper_id)
    body = {"id": paper.id, "year": paper.year, "sha256": paper.sha256,
            "figures": json.loads(paper.figures)}
    return Response(json.dumps(body, ensure_ascii=False, indent=1),
                    mimetype="application/json")
