"""A small lab to test in: users of every role, a customer, a method and instruments."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from lims.auth.models import User
from lims.auth.services import create_token, create_user, get_user
from lims.db import unit_of_work, utcnow
from lims.instruments.services import register_instrument
from lims.samples import services as samples

PASSWORD = "correct horse battery"
USERS = {
    "tech": ["technician"],
    "tech2": ["technician"],
    "reviewer": ["reviewer"],
    "signatory": ["signatory"],
    "signatory2": ["signatory"],
    "qm": ["quality_manager"],
    "auditor": ["auditor"],
    "admin": ["admin"],
}
SCOPES = {"signatory": ["textiles"], "signatory2": ["electrical"]}
TZ = "Asia/Shanghai"
FMT = {"number_format": "YP{year}-{seq:06d}", "timezone": "Asia/Shanghai"}


@dataclasses.dataclass
class World:
    customer_id: int
    method_id: int
    mass_id: int        # characteristic: specimen mass, g, 99.50 … 100.50
    length_id: int      # characteristic: length, mm, ≥ 10.0
    balance_id: int
    overdue_id: int

    @staticmethod
    def user(session: Session, name: str) -> User:
        user = get_user(session, name)
        assert user is not None
        return user

    def token(self, session: Session, name: str) -> str:
        with unit_of_work(session):
            return create_token(session, user=self.user(session, name), name="test")

    def new_sample(self, session: Session, *, receive: bool = True,
                   customer_id: int | None = None) -> str:
        tech = self.user(session, "tech")
        with unit_of_work(session):
            req = samples.create_request(session, actor=tech,
                                         customer_id=customer_id or self.customer_id,
                                         number_format="WT{year}-{seq:06d}",
                                         timezone="Asia/Shanghai")
            s = samples.register_sample(session, actor=tech, request_id=req.id,
                                        description="test fabric", method_ids=[self.method_id],
                                        **FMT)
            if receive:
                samples.receive_sample(session, actor=tech, number=s.number, condition="intact")
            return s.number


    def calibrate(self, session: Session, instrument_id: int, *, valid_until: dt.date,
                  calibrated_on: dt.date | None = None, number: str = "RECAL-1") -> None:
        """Record a new calibration of an instrument (by the quality manager)."""
        from lims.calibration.certificates import parse_json
        from lims.calibration.services import record_certificate
        from lims.instruments.models import Instrument

        with unit_of_work(session):
            instrument = session.get(Instrument, instrument_id)
            cert = parse_json({
                "number": number, "instrument": instrument.asset_number,
                "provider": {"name": "Provincial Metrology Institute", "kind": "accredited",
                             "accreditation": "CNAS L0001", "country": "CN"},
                "calibrated_on": (calibrated_on or utcnow().date()).isoformat(),
                "valid_until": valid_until.isoformat(), "standards_used": [],
                "results": [{"quantity": "mass", "nominal": "100", "value": "100.0002",
                             "unit": "g", "expanded_uncertainty": "0.0003", "k": "2"}]})
            record_certificate(session, actor=self.user(session, "qm"), instrument=instrument,
                               cert=cert, source="typed", timezone=TZ)

    def reported_sample(self, session: Session, settings: object, *, value: str = "100.00",
                        instrument: bool = True, customer_id: int | None = None
                        ) -> tuple[str, str]:
        """A sample whose mass was weighed on the balance EQ-1 (unless ``instrument`` is false;
        the length is typed), reviewed, approved and reported: (sample, report number)."""
        from lims.reports.services import issue_report

        number = self.new_sample(session, customer_id=customer_id)
        tech = self.user(session, "tech")
        with unit_of_work(session):
            samples.record_result(session, actor=tech, number=number,
                                  characteristic_id=self.mass_id, value=value, unit="g",
                                  instrument_id=self.balance_id if instrument else None,
                                  timezone=TZ)
            samples.record_result(session, actor=tech, number=number,
                                  characteristic_id=self.length_id, value="12.0", unit="mm",
                                  timezone=TZ)
            samples.complete_testing(session, actor=tech, number=number)
            samples.review_sample(session, actor=self.user(session, "reviewer"), number=number)
            samples.approve_sample(session, actor=self.user(session, "signatory"), number=number,
                                   password=PASSWORD)
            report = issue_report(session, actor=self.user(session, "signatory"),
                                  sample_number=number, settings=settings,  # type: ignore[arg-type]
                                  password=PASSWORD)
            return number, report.number

    def approved_sample(self, session: Session) -> str:
        """A sample with both results recorded, reviewed and approved, ready to report."""
        number = self.new_sample(session)
        with unit_of_work(session):
            for ch, value, unit in ((self.mass_id, "100.00", "g"), (self.length_id, "12.0", "mm")):
                samples.record_result(session, actor=self.user(session, "tech"), number=number,
                                      characteristic_id=ch, value=value, unit=unit,
                                      timezone="Asia/Shanghai")
            samples.complete_testing(session, actor=self.user(session, "tech"), number=number)
            samples.review_sample(session, actor=self.user(session, "reviewer"), number=number)
            samples.approve_sample(session, actor=self.user(session, "signatory"), number=number,
                                   password=PASSWORD)
        return number


def build_world(session: Session) -> World:
    for name, roles in USERS.items():
        create_user(session, username=name, full_name=f"{name.title()} Tester", password=PASSWORD,
                    roles=roles, scopes=SCOPES.get(name, []))
    qm, tech = get_user(session, "qm"), get_user(session, "tech")
    today = utcnow().date()
    balance = register_instrument(session, actor=qm, timezone="Asia/Shanghai", data={
        "asset_number": "EQ-1", "name": "Balance", "serial_number": "B021002593",
        "driver": "mt-sics", "port": "/nonexistent",
        "quantities": [{"quantity": "mass", "unit": "g", "range_min": "0", "range_max": "220",
                        "resolution": "0.0001"}],
        "calibrated_on": (today - dt.timedelta(days=265)).isoformat(),
        "calibration_due_on": (today + dt.timedelta(days=100)).isoformat()})
    overdue = register_instrument(session, actor=qm, timezone="Asia/Shanghai", data={
        "asset_number": "EQ-2", "name": "Old balance",
        "calibration_due_on": (today - dt.timedelta(days=2)).isoformat()})
    customer = samples.create_customer(session, actor=tech, name="ACME Textiles")
    method = samples.create_method(session, actor=qm, code="GB/T 4669-2008", title="Fabric mass",
                                   field="textiles", characteristics=[
                                       {"name": "Specimen mass", "kind": "mass", "unit": "g",
                                        "lower_limit": "99.50", "upper_limit": "100.50"},
                                       {"name": "Length", "unit": "mm", "lower_limit": "10.0"}])
    return World(customer_id=customer.id, method_id=method.id,
                 mass_id=method.characteristics[0].id, length_id=method.characteristics[1].id,
                 balance_id=balance.id, overdue_id=overdue.id)


def login(client: Any, name: str) -> None:
    """Log a test client in through the real login form (CSRF token included)."""
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    resp = client.post("/login", data={"username": name, "password": PASSWORD,
                                       "csrf_token": token})
    assert resp.status_code == 303, resp.get_data(as_text=True)


def csrf(client: Any, path: str = "/") -> str:
    page = client.get(path).get_data(as_text=True)
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
