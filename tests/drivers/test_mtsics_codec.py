"""MT-SICS replies parsed from the manual's example lines (protocols.md §1.2), not our simulator."""

from __future__ import annotations

import datetime as dt

import pytest

from drivers.errors import DeviceError, ProtocolError
from drivers.mtsics import UNITS, parse_serial_number, parse_stream_lines, parse_weight
from drivers.reading import Reading


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


AT = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
PLAIN = [b"S S     100.00 g", b"S D     129.07 g", b"S S    -100.00 g", b"S A 2.486 ozt  ",
         b"S S   0.012345 kg", b"S D      12.35 ct", b"S S 7 GN", b"S D 0. dwt"]


def test_a_block_of_plain_lines_parses_as_each_line_does():
    got = parse_stream_lines(b"".join(line + b"\r\n" for line in PLAIN), AT)
    assert got == [parse_weight(line, at=AT) for line in PLAIN]
    assert all(type(r) is Reading and r.quantity == "mass" for r in got)


@pytest.mark.parametrize("odd", [
    b"T S     100.00 g",           # a tare reply: the per-line parser skips it
    b"\x00S S     100.00 g",       # noise before the line
    b"S S\t100.00 g",              # a tab where spaces are usual
    b"S S     100.00 zz",          # an unknown unit: an error reading
    b"S +", b"ES", b"",
    b"junk\nS S     100.00 g",     # a bare LF inside a frame
    b"S S     100.00 g\r",         # a CR before the CRLF
])
def test_a_block_with_any_other_line_is_left_to_the_line_parser(odd):
    block = b"S S 1.00 g\r\n" + odd + b"\r\nS D 2.00 g\r\n"
    assert parse_stream_lines(block, AT) is None


def test_a_reading_stays_immutable_and_checks_its_quantity():
    r = Reading(driver="mt-sics", value="1.00", unit="g", stable=True, status="ok",
                raw=b"S S 1.00 g", at=AT, quantity="mass")
    assert r == Reading("mt-sics", "1.00", "g", True, "ok", b"S S 1.00 g", AT, None, "mass")
    assert r.message is None and r.to_json()["at"] == "2026-11-27T08:00:00Z"
    with pytest.raises(AttributeError):
        r.value = "2.00"  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown quantity"):
        Reading("mt-sics", "1.00", "g", True, "ok", b"", AT, quantity="weight")
