"""What the bench page offers a technician: the instruments fit to measure each characteristic.

The result service refuses an instrument that is not fit for use when the result is recorded
(ISO/IEC 17025 6.4.4, 6.4.10); the page goes one step earlier and never offers such an
instrument, nor one that does not measure the characteristic's quantity (6.4.1).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.calibration.services import DIMENSIONLESS, check_fit_for_use, dimension_of
from lims.db import utcnow
from lims.errors import LimsError
from lims.instruments.models import Instrument, InstrumentStatus
from lims.samples.models import Characteristic


def _dimension(ch: Characteristic) -> str | None:
    """The characteristic's pint dimension, or None for a grade or a qualitative value."""
    if not ch.unit_text:
        return None
    try:
        return dimension_of(ch.unit_text)
    except LimsError:
        return None


def _measures(instrument: Instrument, ch: Characteristic, dim: str | None) -> bool:
    """Whether one of the instrument's declared quantities is of the characteristic's kind: the
    same dimension, or for a dimensionless ratio (%, %RH) the same unit as written."""
    if dim is None:
        return False
    for q in instrument.quantities:
        if dim != DIMENSIONLESS and q.dimension == dim:
            return True
        if dim == DIMENSIONLESS and q.unit == ch.unit_text:
            return True
    return False


def fit_instruments(session: Session, characteristics: Iterable[Characteristic], *,
                    timezone: str) -> dict[int, list[Instrument]]:
    """For each characteristic, the instruments in service, with a calibration in force today and
    no failed check, that measure its quantity; ordered by asset number (the first is the
    page's default for capture)."""
    chars = [(ch, _dimension(ch)) for ch in characteristics]
    offered: dict[int, list[Instrument]] = {ch.id: [] for ch, _ in chars}
    if not any(dim for _, dim in chars):
        return offered
    now = utcnow()
    fit: dict[int, bool] = {}
    candidates = session.scalars(select(Instrument)
                                 .where(Instrument.status == InstrumentStatus.IN_SERVICE)
                                 .order_by(Instrument.asset_number)).all()
    for instrument in candidates:
        for ch, dim in chars:
            if not _measures(instrument, ch, dim):
                continue
            if instrument.id not in fit:  # one look-up of the record in force per instrument
                try:
                    check_fit_for_use(session, instrument, now, timezone=timezone)
                    fit[instrument.id] = True
                except LimsError:
                    fit[instrument.id] = False
            if fit[instrument.id]:
                offered[ch.id].append(instrument)
    return offered
