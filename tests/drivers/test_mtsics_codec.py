"""MT-SICS replies parsed from the manual's example lines (protocols.md §1.2), not our simulator."""

from __future__ import annotations

import pytest

from drivers.errors import DeviceError, ProtocolError
from drivers.mtsics import UNITS, parse_serial_number, parse_weight


@pytest.mark.parametrize(("line", "value", "unit", "stable"), [
    (b"S S     100.00 g", "100.00", "g", True),
    (b"S D     129.07 g", "129.07", "g", False),
    (b"S S    -100.00 g", "-100.00", "g", True),
    (b"S S   0.012345 kg", "0.012345", "kg", True),
    (b"T S     100.00 g", "100.00", "g", True),
    (b"T A 2.486 g", "2.486", "g", True),        # KERN clones answer T with A
    (b"S S      12.35 ct", "12.35", "ct", True),
    (b"\x00\xff\xfeS S     100.00 g", "100.00", "g", True),  # line noise before the reply
])
def test_weight_replies(line, value, unit, stable):
    r = parse_weight(line)
    assert (r.status, r.value, r.unit, r.stable) == ("ok", value, unit, stable)
    assert r.raw == line and r.driver == "mt-sics"


@pytest.mark.parametrize(("line", "status", "message"), [
    (b"S +", "overload", "overload"),
    (b"S -", "underload", "underload"),
    (b"S I", "error", "busy"),
    (b"ES", "error", "syntax error"),
    (b"ET", "error", "transmission error"),
    (b"EL", "error", "logical error"),
    (b"S S     1OO.00 g", "error", "unexpected reply"),   # letter O, not zero
    (b"S S     100.00", "error", "unexpected reply"),     # no unit
    (b"S S     100.00 zz", "error", "unknown weighing unit"),
    (b"\xff\xfe\xfd", "error", "unexpected reply"),
    (b"", "error", "unexpected reply"),
])
def test_non_values_never_become_values(line, status, message):
    r = parse_weight(line)
    assert r.status == status and r.value is None and r.unit is None
    assert message in r.message


def test_serial_number_quoted_and_unquoted():
    assert parse_serial_number(b'I4 A "B021002593"') == "B021002593"
    assert parse_serial_number(b"I4 A B021002593") == "B021002593"
    with pytest.raises(DeviceError):
        parse_serial_number(b"ES")
    with pytest.raises(ProtocolError):
        parse_serial_number(b"I4 I")


def test_every_mapped_unit_is_accepted_by_the_lims_registry():
    from lims.units import parse_unit

    mass = parse_unit("g").dimensionality
    for unit in UNITS.values():
        assert parse_unit(unit).dimensionality == mass, unit
