"""The one reading shape every driver returns."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

OK, OVERLOAD, UNDERLOAD, ERROR = "ok", "overload", "underload", "error"


@dataclasses.dataclass(frozen=True)
class Reading:
    """A reading as received: the digits as sent, the unit text, and the raw frame.

    ``value`` is None unless ``status`` is ``ok``; ``raw`` is the frame exactly as received
    (without the terminator), kept as the original observation (ISO/IEC 17025 7.5.1).
    """

    driver: str
    value: str | None
    unit: str | None
    stable: bool | None
    status: str
    raw: bytes
    at: dt.datetime
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "driver": self.driver,
            "value": self.value,
            "unit": self.unit,
            "stable": self.stable,
            "status": self.status,
            "raw": self.raw.decode("latin-1"),
            "at": self.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        }
        if self.message:
            data["message"] = self.message
        return data
