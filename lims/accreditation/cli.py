"""``lims scope``: the lab's CMA and CNAS certificates and the items of its accredited scope.

Changes act as ``LIMS_CLI_USER`` (default ``admin``), who needs ``scope.manage`` (quality
manager or administrator); each is one transaction, audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from lims.catalogs import tr
from lims.clitools import echo_json, fail, invalid, read, runtime


@contextmanager
def _acting() -> Iterator[tuple[Any, Any]]:
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
                        fail(tr("no user %(username)r to act as; set LIMS_CLI_USER to a quality "
                                "manager or an administrator", username=name))
                    yield session, actor
            except LimsError as exc:
                invalid(exc, 1)
    finally:
        rt.dispose()


@click.group(help=tr("The accredited scope (CMA 资质认定, CNAS 认可) and its items."))
def scope() -> None:
    """The accredited scope (CMA 资质认定, CNAS 认可) and its items."""


@scope.command("accreditation",
               help=tr("Record the SCHEME certificate NUMBER (or its renewal)."))
@click.argument("scheme", type=click.Choice(["CMA", "CNAS"], case_sensitive=False))
@click.argument("number")
@click.option("--from", "valid_from", required=True, help=tr("First valid day, YYYY-MM-DD."))
@click.option("--until", "valid_until", required=True, help=tr("Last valid day, YYYY-MM-DD."))
def accreditation(scheme: str, number: str, valid_from: str, valid_until: str) -> None:
    """Record the SCHEME certificate NUMBER (or its renewal)."""
    from lims.accreditation.services import set_accreditation

    with _acting() as (session, actor):
        a = set_accreditation(session, actor=actor, scheme=scheme, certificate_number=number,
                              valid_from=valid_from, valid_until=valid_until)
        click.echo(tr("%(scheme)s %(number)s valid %(start)s … %(end)s", scheme=a.scheme,
                      number=a.certificate_number, start=a.valid_from, end=a.valid_until))


@scope.command("add", help=tr("Add an item to the accredited scope; prints its id (for `lims user "
                              "roles --scope-item`)."))
@click.option("--method", "method_code", required=True,
              help=tr("Method code with its year, or the JJF/JJG procedure."))
@click.option("--parameter", default="", help=tr("Characteristic or calibrated quantity "
              "(omitted: every parameter of the method, 全部参数)."))
@click.option("--scheme", "schemes", multiple=True, required=True,
              type=click.Choice(["CMA", "CNAS"], case_sensitive=False))
@click.option("--category", type=click.Choice(["test", "calibration"]), default="test",
              show_default=True)
@click.option("--object", "object_", default="",
              help=tr("Object tested or calibrated (检测对象 / 校准对象)."))
@click.option("--min", "minimum", help=tr("Lower bound of the range."))
@click.option("--max", "maximum", help=tr("Upper bound of the range."))
@click.option("--unit", default="", help=tr("Unit of the range, as written."))
@click.option("--kind", help=tr("Quantity kind of the range (default: the kind the unit names)."))
@click.option("--limitation", default="", help=tr("Limitation or note (限制范围 / 说明), CMC."))
def add(method_code: str, parameter: str, schemes: tuple[str, ...], category: str,
        object_: str, minimum: str | None, maximum: str | None, unit: str, kind: str | None,
        limitation: str) -> None:
    """Add an item to the accredited scope; prints its id (for `lims user roles --scope-item`)."""
    from lims.accreditation.services import add_scope_item, signatories_to_grant

    with _acting() as (session, actor):
        item = add_scope_item(session, actor=actor, method_code=method_code, schemes=list(schemes),
                              parameter=parameter, category=category, object_=object_,
                              minimum=minimum, maximum=maximum, unit=unit, kind=kind,
                              limitation=limitation)
        click.echo(tr("scope item #%(id)s: %(method)s %(parameter)s %(range)s (%(schemes)s)",
                      id=item.id, method=item.method_code, parameter=item.parameter,
                      range=item.range_text(), schemes=", ".join(item.schemes)))
        waiting, item_id = signatories_to_grant(session, item), item.id
    if waiting:
        click.echo(tr("note: %(users)s signed %(method)s under their field and now need this item: "
                      "lims user roles USER --scope-item %(id)s …", users=", ".join(waiting),
                      method=method_code, id=item_id))


def _listing(session: Any, _settings: Any) -> dict[str, Any]:
    from lims.accreditation.services import scope_json

    return scope_json(session)


@scope.command("list", help=tr("List the certificates and the scope items."))
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """List the certificates and the scope items."""
    data = read(_listing)
    if as_json:
        echo_json(data)
        return
    for a in data["accreditations"]:
        click.echo(tr("%(scheme)-5s %(number)s  valid %(start)s … %(end)s", scheme=a["scheme"],
                      number=a["certificate_number"], start=a["valid_from"], end=a["valid_until"]))
    everything = tr("every parameter")
    for i in data["items"]:
        click.echo(f"#{i['id']:<4} {i['method_code']:<22} {i['parameter'] or everything:<20} "
                   f"{i['range']:<22} {','.join(i['schemes'])}")

