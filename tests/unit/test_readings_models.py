"""The readings API's body model alone (no app): what the ingestion view refuses, and how."""

from __future__ import annotations

import base64

import pytest

from lims.errors import InvalidInput
from lims.readings.api_models import ReadingsBatch
from lims.web.inputs import validated


def _reading(**change: object) -> dict[str, object]:
    return {"seq": 1, "asset": "EQ-1", "read_at": "2026-11-27T01:02:03.5+01:00",
            "value": "12.3456", "unit": "g", "stable": True, "status": "ok", "error": None,
            "raw": base64.b64encode(b"S S     12.3456 g").decode()} | change


@pytest.mark.parametrize("field", ["asset", "value", "unit", "error"])
@pytest.mark.parametrize("control", ["\x00", "\x07", "\n", "\x7f"])
def test_control_characters_are_refused_by_name(field, control):
    bad = {"readings": [_reading(), _reading(seq=2, **{field: f"a{control}b"})]}
    with pytest.raises(InvalidInput) as refused:
        validated(ReadingsBatch, bad)
    assert refused.value.field == f"readings[1].{field}"
    assert refused.value.message == "must not contain control characters"


def test_a_reading_arrives_as_utc_and_bytes_with_its_text_as_sent():
    got = validated(ReadingsBatch, {"readings": [_reading(unit="°C", error="é 中")]})
    r = got.readings[0]
    assert r.read_at.isoformat() == "2026-11-27T00:02:03.500000+00:00"  # type: ignore[attr-defined]
    assert r.raw == b"S S     12.3456 g"
    assert (r.unit, r.error) == ("°C", "é 中")
