"""What the bench page offers a technician: the instruments fit to measure each characteristic.

The result service refuses an instrument that is not fit for use when the result is recorded
(ISO/IEC 17025 6.4.4, 6.4.10); the page goes one step earlier and never offers such an
instrument, nor one that does not measure the characteristic's quantity (6.4.1).

A centre registers thousands of instruments (issue 14): the page never lists them all. The
instrument of a typed result is chosen by type-ahead (:func:`search`, a bounded answer per
keystroke) or typed by asset number (:func:`resolve`); only the capture sources are listed, a
bounded few. Each answer reads the candidates a page at a time, in asset order, until it has
enough fit ones, so its cost does not grow with the register.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.sql.elements import ColumnElement

from lims.calibration.services import DIMENSIONLESS, dimension_of, fit_for_use
from lims.db import utcnow
from lims.errors import InvalidInput, LimsError, msg
from lims.instruments.lists import resolve_asset
from lims.instruments.models import (
    CalibrationFlag,
    Instrument,
    InstrumentQuantity,
    InstrumentStatus,
)
from lims.readings.models import Agent, AgentInstrument
from lims.samples.models import Characteristic
from lims.web.listing import like

SHOWN = 20  # instruments one type-ahead answer offers
SOURCES = 10  # capture sources listed per characteristic
SCANNED = 200  # candidates checked for fitness at most per answer: a bounded cost


def _dimension(ch: Characteristic) -> str | None:
    """The characteristic's pint dimension, or None for a grade or a qualitative value."""
    if not ch.unit_text:
        return None
    try:
        return dimension_of(ch.unit_text)
    except LimsError:
        return None


def measures(ch: Characteristic) -> ColumnElement[bool] | None:
    """Instruments one of whose declared quantities is of the characteristic's kind: the same
    dimension, or for a dimensionless ratio (%, %RH) the same unit as written; None when no
    instrument can measure it (a grade, a qualitative value)."""
    dim = _dimension(ch)
    if dim is None:
        return None
    same = (InstrumentQuantity.unit == ch.unit_text if dim == DIMENSIONLESS
            else InstrumentQuantity.dimension == dim)
    return exists().where(InstrumentQuantity.instrument_id == Instrument.id, same)


def _candidates(ch: Characteristic) -> Select[Instrument] | None:
    """In service, no failed check, measuring the characteristic's quantity (the calibration in
    force is checked on each candidate by the service's own rule)."""
    measured = measures(ch)
    if measured is None:
        return None
    return (select(Instrument).options(lazyload(Instrument.quantities))
            .where(Instrument.status == InstrumentStatus.IN_SERVICE,
                   Instrument.calibration_flag != CalibrationFlag.CHECK_FAILED, measured))


class _Fitness:
    """Whether an instrument is fit for use now, checked once per instrument per request: a
    page of candidates at a time, their records in force read in one query
    (:func:`lims.calibration.services.fit_for_use`, the rules of ``check_fit_for_use``)."""

    def __init__(self, session: Session, timezone: str) -> None:
        self.session, self.timezone, self.now = session, timezone, utcnow()
        self.known: dict[int, bool] = {}

    def check(self, instruments: list[Instrument]) -> list[Instrument]:
        """The fit ones of ``instruments``, in their order."""
        unknown = [i for i in instruments if i.id not in self.known]
        if unknown:
            fit = fit_for_use(self.session, unknown, self.now, timezone=self.timezone)
            self.known.update((i.id, i.id in fit) for i in unknown)
        return [i for i in instruments if self.known[i.id]]

    def first(self, query: Select[Instrument], limit: int) -> list[Instrument]:
        """The first ``limit`` fit instruments of ``query`` (ordered), reading it a page of
        ``limit`` at a time and giving up after :data:`SCANNED` candidates."""
        found: list[Instrument] = []
        for offset in range(0, SCANNED, limit):
            page = list(self.session.scalars(query.limit(limit).offset(offset)))
            found += self.check(page)
            if len(found) >= limit or len(page) < limit:
                break
        return found[:limit]


def search(session: Session, ch: Characteristic, term: str, *, timezone: str,
           limit: int = SHOWN) -> list[Instrument]:
    """Fit instruments for ``ch`` whose asset number or name contains ``term`` (any case),
    those whose asset number starts with it first, then by asset number."""
    query = _candidates(ch)
    if query is None:
        return []
    term = term.strip()
    if term:
        pattern = like(term)
        query = query.where(or_(Instrument.asset_number.ilike(pattern, escape="\\"),
                                Instrument.name.ilike(pattern, escape="\\")))
        starts = func.upper(Instrument.asset_number).startswith(term.upper(), autoescape=True)
        query = query.order_by(starts.desc())
    return _Fitness(session, timezone).first(
        query.order_by(Instrument.asset_number, Instrument.id), limit)


def capture_sources(session: Session, characteristics: Iterable[Characteristic], *,
                    timezone: str) -> dict[int, list[Instrument]]:
    """For each characteristic, the fit instruments Capture can read: those with a driver, in
    asset order, then those a capture agent reads; at most :data:`SOURCES` (the first is the
    page's default)."""
    fit = _Fitness(session, timezone)
    fed = exists().where(AgentInstrument.instrument_id == Instrument.id,
                         AgentInstrument.agent_id == Agent.id, Agent.revoked_at.is_(None))
    offered: dict[int, list[Instrument]] = {}
    for ch in characteristics:
        query = _candidates(ch)
        offered[ch.id] = [] if query is None else fit.first(
            query.where(or_(Instrument.driver.is_not(None), fed))
            .order_by(Instrument.driver.is_(None), Instrument.asset_number, Instrument.id),
            SOURCES)
    return offered


def resolve(session: Session, ch: Characteristic, text: str) -> int:
    """The id of the instrument the grid's instrument field names by its asset number (any
    case), as typed without JavaScript or picked from the type-ahead's list ("EQ-1 Balance").

    Its fitness at the time of measurement is the result service's to check (it names the
    field); this refuses an unknown asset number and an instrument that does not measure the
    characteristic's quantity (ISO/IEC 17025 6.4.1).

    :raises InvalidInput: naming ``instrument_id``.
    """
    found = resolve_asset(session, text)
    # One that declares no quantity (registered before quantities were kept) is let through:
    # what it measures is not known, so it is not refused for it.
    measured = measures(ch)
    mismatch = [Instrument.id == found.id,
                exists().where(InstrumentQuantity.instrument_id == Instrument.id)]
    if measured is not None:
        mismatch.append(~measured)
    if session.scalar(select(exists().where(*mismatch))):
        raise InvalidInput(msg("instrument %(asset)s does not measure %(name)s (%(unit)s)",
                               asset=found.asset_number, name=ch.name,
                               unit=ch.unit_text or "—"), field="instrument_id")
    return int(found.id)
