"""Legacy customers (委托单位): name, unified social credit code, contact, address, phone.

A customer already on record (the same credit code, or the same name once full-width forms,
spaces, punctuation and the legal form are set aside: :func:`lims.samples.duplicates.normalise`)
is refused, as is the same customer twice in the file: an import never makes a duplicate firm.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lims.audit.bulk import PendingEvent
from lims.config import Settings
from lims.db import utcnow
from lims.errors import msg
from lims.imports.table import Column, RowPlan, Rows, chunks, table_of
from lims.samples.duplicates import normalise
from lims.samples.models import Customer
from lims.samples.names import initials
from lims.samples.refdata import credit_code

PERMISSION = "customer.create"
COLUMNS = (
    Column("name", ("name", "委托单位", "客户名称", "单位名称"), True),
    Column("credit_code", ("credit code", "统一社会信用代码", "信用代码"), False,
           "18 characters, check character verified (GB 32100-2015)"),
    Column("contact", ("contact", "联系人")),
    Column("address", ("address", "地址", "单位地址")),
    Column("phone", ("phone", "电话", "联系电话")),
)


Plan = RowPlan


def validate(session: Session, rows: Rows, settings: Settings, tick: Any) -> Plan:
    names: dict[str, str] = {}
    codes: dict[str, str] = {}
    for name, code in session.execute(select(Customer.name, Customer.credit_code)):
        names.setdefault(normalise(name), name)
        if code:
            codes[code] = name
    in_file_names: dict[str, int] = {}
    in_file_codes: dict[str, int] = {}
    plan = Plan([])
    now = utcnow()
    for row in rows:
        tick(1)
        name = row.text("name", required=True, max_len=200)
        code = row.check("credit_code", credit_code) or ""
        given = {"contact": row.text("contact", max_len=200),
                 "address": row.text("address", max_len=300),
                 "phone": row.text("phone", max_len=40)}
        key = normalise(name)
        if key and key in names:
            row.error("name", msg("customer %(name)s is on record already", name=names[key]))
        elif key and key in in_file_names:
            row.error("name", msg("the same customer is in row %(row)s", row=in_file_names[key]))
        if code and code in codes:
            row.error("credit_code", msg("credit code %(code)s is on record already (%(name)s)",
                                         code=code, name=codes[code]))
        elif code and code in in_file_codes:
            row.error("credit_code", msg("the same credit code is in row %(row)s",
                                         row=in_file_codes[code]))
        if not row.ok:
            continue
        in_file_names.setdefault(key, row.number)
        if code:
            in_file_codes[code] = row.number
        plan.rows.append({"name": name, "name_initials": initials(name), "credit_code": code,
                          "created_at": now, "version": 1, **given})
    return plan


def write(session: Session, plan: Plan, actor: Any, tick: Any) -> list[PendingEvent]:
    table = table_of(Customer)
    events: list[PendingEvent] = []
    for part in chunks(plan.rows, 1000):
        ids = session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                              part).scalars().all()
        events.extend(PendingEvent("customer.import", "customers", cid, after={**row, "id": cid})
                      for cid, row in zip(ids, part, strict=True))
        tick(len(part))
    return events
