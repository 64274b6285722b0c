"""Scheduled calibration jobs."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from lims.config import Settings
from lims.db import utcnow


def flag_calibration_due(session: Session, settings: Settings) -> dict[str, Any]:
    """Flag equipment whose calibration is due within the warning period or overdue."""
    from lims.calibration.services import flag_calibration_due as flag

    today = utcnow().astimezone(ZoneInfo(settings.timezone)).date()
    return {"changed": flag(session, today=today, warning_days=settings.calibration_warning_days,
                            timezone=settings.timezone)}
