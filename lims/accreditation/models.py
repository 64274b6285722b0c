"""Accreditations (CMA, CNAS), the items of the accredited scope, and signatory authority.

A scope item is one line of the scope attached to the certificate: the object (检测对象 /
校准对象), the parameter, characteristic or calibrated quantity (项目/参数), the method (the
test method's code with its year, or the JJF/JJG procedure), the range (限制范围 / 测量范围)
and which schemes list it. A signatory is authorised for scope items (RB/T 214 4.2.4,
CNAS-CL01 6.2.6: the signatory's authorised scope), not for a free-text field.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.db import Model, utcnow


class Scheme(enum.StrEnum):
    CMA = "CMA"    # 检验检测机构资质认定 (RB/T 214), the CMA mark
    CNAS = "CNAS"  # CNAS accreditation (ISO/IEC 17025), the CNAS mark with ILAC-MRA


class Accreditation(Model):
    """One scheme's certificate: its number and validity (one row per scheme; a renewal
    replaces the number and dates, audited)."""

    __tablename__ = "accreditations"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme: Mapped[str] = mapped_column(String(10), unique=True)
    certificate_number: Mapped[str] = mapped_column(String(40))
    valid_from: Mapped[dt.date]
    valid_until: Mapped[dt.date]  # lab calendar: this day is still valid
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


scope_item_schemes = Table(
    "scope_item_schemes", Model.metadata,
    Column("scope_item_id", ForeignKey("scope_items.id"), primary_key=True),
    Column("accreditation_id", ForeignKey("accreditations.id"), primary_key=True, index=True),
)


class ScopeItem(Model):
    """A line of the accredited scope.

    ``parameter`` empty means every parameter of the method (全部参数). ``minimum`` and
    ``maximum`` keep their digits as written, in ``unit`` (as written); ``kind`` is the quantity
    kind of :mod:`lims.kinds` the range is in (a value is compared only after conversion within
    it); no range: the whole method's range.
    """

    __tablename__ = "scope_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(20))   # "test" or "calibration"
    object: Mapped[str] = mapped_column(String(120), default="")  # 检测对象 / 校准对象
    parameter: Mapped[str] = mapped_column(String(120), default="")
    method_code: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str | None] = mapped_column(String(40))
    minimum: Mapped[str | None] = mapped_column(String(40))
    maximum: Mapped[str | None] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(40), default="")  # as written
    limitation: Mapped[str] = mapped_column(String(200), default="")  # 限制范围 / 说明, CMC
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    accreditations: Mapped[list[Accreditation]] = relationship(
        secondary=scope_item_schemes, lazy="selectin", order_by="Accreditation.scheme")

    @property
    def schemes(self) -> tuple[str, ...]:
        return tuple(a.scheme for a in self.accreditations)

    def range_text(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.minimum is None and self.maximum is None:
            return "—"
        if self.maximum is None:
            return f"≥ {self.minimum}{unit}"
        if self.minimum is None:
            return f"≤ {self.maximum}{unit}"
        return f"({self.minimum} … {self.maximum}){unit}"

    def label(self) -> str:
        """How an error or a page names the item: "#3 GB/T 26497-2011 质量"."""
        return f"#{self.id} {self.method_code} {self.parameter or '全部参数 all parameters'}"


class SignatoryAuthority(Model):
    """A scope item a signatory is authorised to sign for (授权签字人授权范围)."""

    __tablename__ = "signatory_authorities"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    scope_item_id: Mapped[int] = mapped_column(ForeignKey("scope_items.id"), primary_key=True,
                                               index=True)
    granted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
