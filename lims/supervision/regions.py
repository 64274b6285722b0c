"""Regions by their GB/T 2260 code: look one up, and find every region below one (a plan's
quota for a prefecture covers its counties; the statistics filter a prefecture the same way).

The province, its prefectures and a few counties are seeded by migration 0025.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.errors import InvalidInput, NotFound, msg
from lims.supervision.models import Region
from lims.validate import is_utf8, text

MAX_DEPTH = 4  # province → prefecture → county (→ township): deeper is a data error


def get_region(session: Session, code: str) -> Region:
    """:raises NotFound:"""
    code = str(code).strip()[:12]
    # A NUL or a lone surrogate names no region (and PostgreSQL would refuse the query).
    found = session.scalar(select(Region).where(Region.code == code)) \
        if code.isprintable() and is_utf8(code) else None
    if found is None:
        raise NotFound(msg("no region %(code)s", code=str(code)[:12]), region=str(code)[:12])
    return found


def resolve(session: Session, value: Any, field: str = "region") -> Region:
    """The region named by ``value`` (its code).

    :raises InvalidInput: not text, or no such region (named ``field``).
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(msg("must be a region code (GB/T 2260, e.g. 420100)"), field=field)
    code = text(value, field, max_len=12)
    found = session.scalar(select(Region).where(Region.code == code))
    if found is None:
        raise InvalidInput(msg("no region %(code)s", code=code), field=field)
    return found


def list_regions(session: Session) -> list[Region]:
    """All regions, by code (a parent's code sorts before its children's)."""
    return list(session.scalars(select(Region).order_by(Region.code)))


def below(session: Session, region_id: int) -> set[int]:
    """The ids of the region and of every region below it (one query per level)."""
    found, level = {region_id}, {region_id}
    for _ in range(MAX_DEPTH):
        level = set(session.scalars(select(Region.id).where(Region.parent_id.in_(level)))) \
            - found
        if not level:
            break
        found |= level
    return found


def descendant_ids(session: Session, code: str) -> set[int]:
    """The ids of the region ``code`` and of all regions below it, for filtering records
    by region (``Enterprise.region_id.in_(descendant_ids(session, "420100"))``).

    :raises NotFound: no region ``code``.
    """
    return below(session, get_region(session, code).id)
