"""Legacy samples with their requests (委托单) and the methods they were tested by.

A sample keeps its number as recorded and the status it had (a finished legacy sample is
``reported``; "archived" 已归档 is read as reported, the recorded word kept in its audit
event). Rows with the same request number make one request, which must name one customer.
Imported samples carry no results and no report: the legacy reports stay where they were
issued.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lims.audit.bulk import PendingEvent
from lims.config import Settings
from lims.db import utcnow
from lims.errors import InvalidInput, msg
from lims.imports.table import Column, Row, Rows, choice, chunks, names, table_of
from lims.samples.duplicates import normalise_credit_code
from lims.samples.lifecycle import SampleStatus
from lims.samples.models import Customer, ProductCategory, Sample, SampleTest, TestMethod, TestRequest
from lims.samples.particulars import INSPECTION_TYPES

PERMISSION = "sample.register"
COLUMNS = (
    Column("number", ("sample number", "样品编号"), True, "as recorded, unique"),
    Column("request", ("request number", "委托编号", "委托单号"), True,
           "rows with the same number make one request"),
    Column("customer", ("customer", "委托单位", "委托方"), True,
           "a customer's name or unified social credit code"),
    Column("description", ("sample name", "样品名称"), True),
    Column("status", ("status", "状态", "样品状态"), False,
           "registered, received, in testing, results complete, reviewed, approved or reported "
           "(default), in English or as the pages label them; archived / 已归档 is read as "
           "reported"),
    Column("registered", ("registered on", "登记日期"), False, "default: the earliest date given"),
    Column("received", ("received on", "收样日期", "接收日期"), False),
    Column("sampled", ("sampled on", "抽样日期"), False, "default: the registration date"),
    Column("reported", ("reported on", "报告日期", "签发日期"), False),
    Column("category", ("category", "产品类别"), False, "a product category code"),
    Column("inspection_type", ("inspection type", "检验类别"), False, "default commissioned"),
    Column("product_standard", ("product standard", "判定依据"), False),
    Column("methods", ("methods", "检验方法", "检验依据"), False,
           "method codes separated by ; or 、"),
    Column("trademark", ("trademark", "商标")),
    Column("model", ("model", "规格型号")),
    Column("batch", ("batch", "生产日期/批号", "批号")),
    Column("quantity", ("quantity", "样品数量")),
    Column("manufacturer", ("manufacturer", "生产单位")),
    Column("conclusion", ("conclusion", "检验结论")),
)
STATUSES = names({
    "registered": ("已登记",), "received": ("已接收", "已收样"), "in testing": ("检测中",),
    "results complete": ("结果已完成",), "reviewed": ("已审核",), "approved": ("已批准",),
    "reported": ("已出报告", "已报告", "archived", "已归档", "已完成")})
TYPES = names({key: pair for key, pair in INSPECTION_TYPES.items()})
_SPLIT = re.compile(r"[;；、\n]+")
PARTICULARS = {"trademark": 120, "model": 120, "batch": 120, "quantity": 120, "manufacturer": 200}


@dataclasses.dataclass
class Plan:
    requests: dict[str, dict[str, Any]]
    samples: list[dict[str, Any]]
    methods: dict[str, list[int]]  # sample number -> method ids
    recorded_status: dict[str, str]

    @property
    def count(self) -> int:
        return len(self.samples)

    @property
    def steps(self) -> int:  # for the progress bar: the rows, then their audit events
        return 2 * len(self.samples) + len(self.requests)


def _existing(session: Session, column: Any, values: list[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(sorted(set(values)), 500):
        found.update(session.scalars(select(column).where(column.in_(part))))
    return found


class _Customers:
    def __init__(self, session: Session) -> None:
        self.by_code: dict[str, int] = {}
        self.by_name: dict[str, list[int]] = defaultdict(list)
        for cid, name, code in session.execute(select(Customer.id, Customer.name,
                                                      Customer.credit_code)):
            if code:
                self.by_code[code] = cid
            self.by_name[name.strip()].append(cid)

    def find(self, value: str) -> int:
        if not value:
            raise InvalidInput(msg("is required"))
        code = normalise_credit_code(value)
        if code in self.by_code:
            return self.by_code[code]
        ids = self.by_name.get(value.strip(), [])
        if len(ids) > 1:
            raise InvalidInput(msg("%(count)s customers are named %(name)s: give the unified social "
                                   "credit code", count=len(ids), name=value))
        if not ids:
            raise InvalidInput(msg("no customer named or with the credit code %(name)s", name=value))
        return ids[0]


def _midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def validate(session: Session, rows: Rows, settings: Settings, tick: Any) -> Plan:
    zone = ZoneInfo(settings.timezone)
    today = utcnow().astimezone(zone).date()
    customers = _Customers(session)
    categories = {code: (cid, retired) for cid, code, retired in session.execute(
        select(ProductCategory.id, ProductCategory.code, ProductCategory.retired))}
    methods = {code: (mid, retired is not None) for mid, code, retired in session.execute(
        select(TestMethod.id, TestMethod.code, TestMethod.retired_at))}
    plan = Plan({}, [], {}, {})
    seen: dict[str, int] = {}
    request_rows: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        tick(1)
        number = row.raw("number")
        if number in seen:
            row.error("number", msg("sample number %(number)s is also in row %(row)s",
                                    number=number, row=seen[number]))
        elif number:
            seen[number] = row.number
        sample = _sample(row, customers, categories, methods, today, zone, plan)
        if sample is not None:
            request_rows[sample["request"]].append(row.number)
            plan.samples.append(sample)
    taken = _existing(session, Sample.number, list(seen))
    for number in sorted(taken):
        rows.error(seen[number], "number", msg("sample %(number)s exists already", number=number))
    for number in sorted(_existing(session, TestRequest.number, list(plan.requests))):
        rows.error(request_rows[number][0], "request",
                   msg("request %(number)s exists already", number=number))
    return plan


def _sample(row: Row, customers: _Customers, categories: dict[str, tuple[int, bool]],
            methods: dict[str, tuple[int, bool]], today: dt.date, zone: ZoneInfo,
            plan: Plan) -> dict[str, Any] | None:
    number = row.text("number", required=True, max_len=40)
    request = row.text("request", required=True, max_len=40)
    customer_id = row.check("customer", customers.find)
    description = row.text("description", required=True, max_len=300)
    status = row.check("status", lambda v: choice(v, STATUSES, "status", SampleStatus.REPORTED))
    dates = {key: row.date(key) for key in ("registered", "received", "sampled", "reported")}
    for key, day in dates.items():
        if day is not None and day > today:
            row.error(key, msg("%(day)s is in the future", day=day))
    category_id = row.check("category", lambda v: _category(v, categories))
    method_ids = row.check("methods", lambda v: _methods(v, methods))
    kind = row.check("inspection_type",
                     lambda v: choice(v, TYPES, "inspection_type", "commissioned"))
    standard = row.text("product_standard", max_len=300)
    given = {key: row.text(key, max_len=size) for key, size in PARTICULARS.items()}
    conclusion = row.text("conclusion", max_len=2000) or None
    if not row.ok or customer_id is None or status is None or kind is None:
        return None
    known = [d for d in dates.values() if d is not None]
    registered = dates["registered"] or (min(known) if known else today)
    req = plan.requests.get(request)
    if req is None:
        plan.requests[request] = {
            "number": request, "customer_id": customer_id, "description": "",
            "created_at": _midnight(registered, zone), "inspection_type": kind,
            "product_standard": standard, "customer_data": "", "decision_rule": "simple",
            "guard_factor": None, "_row": row.number}
    elif req["customer_id"] != customer_id:
        row.error("customer", msg("request %(request)s is for another customer (row %(row)s)",
                                  request=request, row=req["_row"]))
        return None
    elif req["inspection_type"] != kind:
        row.error("inspection_type", msg("request %(request)s has another inspection type (row "
                                         "%(row)s)", request=request, row=req["_row"]))
        return None
    plan.methods[number] = method_ids or []
    plan.recorded_status[number] = row.raw("status")
    return {"number": number, "request": request, "description": description,
            "status": str(status), "registered_at": _midnight(registered, zone),
            "received_at": _midnight(dates["received"], zone) if dates["received"] else None,
            "reported_at": _midnight(dates["reported"], zone) if dates["reported"] else None,
            "sampled_on": dates["sampled"] or registered, "category_id": category_id,
            "conclusion": conclusion, "acquisition": "delivered", "priority": "normal", **given}


def _category(value: str, categories: dict[str, tuple[int, bool]]) -> int | None:
    if not value:
        return None
    found = categories.get(value.strip().upper())
    if found is None:
        raise InvalidInput(msg("no product category %(code)s", code=value[:40]))
    return found[0]  # a retired category still names what a legacy sample was


def _methods(value: str, methods: dict[str, tuple[int, bool]]) -> list[int]:
    codes = [c.strip() for c in _SPLIT.split(value) if c.strip()]
    unknown = [c for c in codes if c not in methods]
    if unknown:
        raise InvalidInput(msg("no method %(codes)s", codes=", ".join(unknown)))
    return sorted({methods[c][0] for c in codes})


def write(session: Session, plan: Plan, actor: Any, tick: Any) -> list[PendingEvent]:
    """Insert the requests, samples and their tests; return the audit events to append."""
    events: list[PendingEvent] = []
    request_ids: dict[str, int] = {}
    requests = [{k: v for k, v in r.items() if k != "_row"} | {"created_by_id": actor.id}
                for r in plan.requests.values()]
    table = table_of(TestRequest)
    for part in chunks(requests, 1000):
        ids = session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                              part).scalars().all()
        request_ids.update(zip((r["number"] for r in part), ids, strict=True))
    for r in requests:
        events.append(PendingEvent("request.import", "test_requests", r["number"],
                                   after={**r, "id": request_ids[r["number"]]}))
    table = table_of(Sample)
    tests_table = table_of(SampleTest)
    for part in chunks(plan.samples, 1000):
        rows = [{k: v for k, v in s.items() if k != "request"}
                | {"request_id": request_ids[s["request"]], "registered_by_id": actor.id}
                for s in part]
        ids = session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                              rows).scalars().all()
        tests = [{"sample_id": sid, "method_id": mid}
                 for sid, s in zip(ids, part, strict=True) for mid in plan.methods[s["number"]]]
        if tests:
            session.execute(insert(tests_table), tests)
        for sid, s, row in zip(ids, part, rows, strict=True):
            after = {**row, "id": sid, "request": s["request"],
                     "method_ids": plan.methods[s["number"]]}
            recorded = plan.recorded_status[s["number"]]
            if recorded and recorded != s["status"]:
                after["status_as_recorded"] = recorded
            events.append(PendingEvent("sample.import", "samples", s["number"], after=after))
        tick(len(part))
    return events
