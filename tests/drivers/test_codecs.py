"""Every protocol's codec against the example lines quoted from the manuals (protocols.md)."""

from __future__ import annotations

import struct

import pytest

from drivers import fluke, mitutoyo, modbus, sbi, scpi, vaisala
from drivers.errors import DeviceError, DriverError


def H(text: str) -> bytes:  # noqa: N802 - reads like the spec's hex dumps
    return bytes.fromhex(text)


# --- Sartorius SBI (§2.2-2.4) ---------------------------------------------------------------

@pytest.mark.parametrize(("record", "value", "unit", "stable"), [
    (b"+   1255.7 g  ", "1255.7", "g", True),
    (b"+   1255.7    ", "1255.7", None, False),       # no unit: not stable yet
    (b"-     0.02 g  ", "-0.02", "g", True),
    (b"N     +   123.56 g  ", "123.56", "g", True),   # 22-character record with an ID
    (b"+    12.34 g  ", "12.34", "g", True),
    (b"+       12 pcs", "12", "count", True),
])
def test_sbi_values(record, value, unit, stable):
    r = sbi.parse_record(record)
    assert (r.status, r.value, r.unit, r.stable) == ("ok", value, unit, stable)


@pytest.mark.parametrize(("record", "status", "words"), [
    (b"      H       ", "overload", "H"), (b"      HH      ", "overload", "HH"),
    (b"      L       ", "underload", "L"), (b"      LL      ", "underload", "LL"),
    (b"   Err  54    ", "error", "54"), (b"Stat     High       ", "overload", "High"),
    (b"Stat     Low        ", "underload", "Low"), (b"Stat     ERR 054    ", "error", "54"),
    (b"Stat     Cal. Ext.  ", "error", "Cal. Ext."), (b"      C       ", "error", "calibration"),
    (b"+   12?5.7 g  ", "error", "unexpected"), (b"+   1255.7 zz ", "error", "unit"),
])
def test_sbi_states_and_errors_never_become_values(record, status, words):
    r = sbi.parse_record(record)
    assert r.status == status and r.value is None and words in r.message


def test_sbi_serial_number():
    assert sbi.parse_serial_number(b"SerNo.    0031801165") == "0031801165"
    assert sbi.parse_serial_number(b"+   1255.7 g  ") is None


# --- SCPI multimeters (§3.2) ----------------------------------------------------------------

@pytest.mark.parametrize(("line", "status", "value"), [
    (b"+1.00000000E+01", "ok", "+1.00000000E+01"), (b"+9.99987300E+02", "ok", "+9.99987300E+02"),
    (b"-1.23456700E-03", "ok", "-1.23456700E-03"), (b"+1.23456789E+00\r", "ok", "+1.23456789E+00"),
    (b"+9.90000000E+37", "overload", None), (b"+9.9E37", "overload", None),
    (b'-113,"Undefined header"', "error", None), (b"HEWLETT-PACKARD,34401A,0,11-5-2", "error",
                                                  None),
])
def test_scpi_readings(line, status, value):
    r = scpi.parse_reading(line, "V")
    assert (r.status, r.value) == (status, value)
    assert r.unit == ("V" if status == "ok" else None)


@pytest.mark.parametrize(("line", "code", "text"), [
    (b'-113,"Undefined header"', -113, "Undefined header"), (b'+0,"No error"', 0, "No error"),
    (b'0,"No error"', 0, "No error"), (b'-222,"Data out of range"', -222, "Data out of range"),
    (b'-350,"Queue overflow"', -350, "Queue overflow"),
])
def test_scpi_error_queue(line, code, text):
    assert scpi.parse_error(line) == (code, text)


def test_scpi_units_follow_the_function():
    assert scpi.FUNCTIONS["RES"] == ("resistance", "ohm")
    assert scpi.FUNCTIONS["FREQ"] == ("frequency", "Hz")
    assert scpi.FUNCTIONS["TEMP"] == ("temperature", None)  # from UNIT:TEMP?
    with pytest.raises(DriverError):
        scpi.parse_error(b"+1.00000000E+01")


# --- Vaisala HMT330 (§4.2) ------------------------------------------------------------------

def test_vaisala_default_line_gives_one_reading_per_quantity_in_order():
    rh, t = vaisala.parse_line(b"RH= 98.4 %RH T= 31.1 'C")
    assert (rh.value, rh.unit, rh.message) == ("98.4", "%RH", "RH")
    assert (t.value, t.unit, t.message) == ("31.1", "degC", "T")


def test_vaisala_custom_form_with_abutting_units():
    rh, t = vaisala.parse_line(b"RH= 16.03%RH\tT= 74.66'F")
    assert (rh.value, rh.unit, t.value, t.unit) == ("16.03", "%RH", "74.66", "degF")


def test_vaisala_failed_quantity_and_non_measurement_lines():
    rh, t = vaisala.parse_line(b"RH= *** %RH T= 31.1 'C")
    assert rh.status == "error" and rh.value is None and t.value == "31.1"
    (err,) = vaisala.parse_line(b"E40 f ( all ) out of range")
    assert err.status == "error"
    assert vaisala.parse_line(b">RH= 21.9 %RH T= 23.9 'C")[0].value == "21.9"  # after a prompt


def test_percent_rh_is_relative_humidity_not_ronnahenry():
    from lims.units import parse_unit

    assert parse_unit("%RH").dimensionality == parse_unit("percent").dimensionality


# --- Fluke 1521/1522 and 1504 (§4.3) -------------------------------------------------------------

@pytest.mark.parametrize(("line", "value", "unit"), [
    (b"t: 25.587 C", "25.587", "degC"), (b"t: 125.745 C", "125.745", "degC"),
    (b"min: -14.653 C", "-14.653", "degC"), (b"max: 416.781 C", "416.781", "degC"),
    (b"t:   25.587 C", "25.587", "degC"), (b"t: 77.10 F", "77.10", "degF"),
    (b"t: 298.150 K", "298.150", "K"), (b"t: 100.0123 O", "100.0123", "ohm"),
    (b"25.587", "25.587", "degC"),   # FETC? on a 1504: the unit comes from configuration
])
def test_fluke_readings(line, value, unit):
    r = fluke.parse_reading(line, default_unit="degC")
    assert (r.status, r.value, r.unit) == ("ok", value, unit)


def test_fluke_timestamps_and_unknowns():
    assert fluke.is_timestamp(b"03-01-1999 15:49:15")
    assert fluke.parse_reading(b"t: 1.000 R").status == "error"
    assert fluke.parse_reading(b"Error: invalid command").status == "error"


# --- Modbus RTU (§5.2, byte-exact) ----------------------------------------------------------------

def test_modbus_request_frames():
    assert modbus.read_request(1, 3, 0, 10) == H("01 03 00 00 00 0A C5 CD")
    assert modbus.read_request(1, 4, 0, 2) == H("01 04 00 00 00 02 71 CB")
    assert modbus.read_request(1, 4, 1, 2) == H("01 04 00 01 00 02 20 0B")  # XY-MD02 T, RH
    assert modbus.with_crc(H("01 06 00 01 00 03")) == H("01 06 00 01 00 03 98 0B")


def test_modbus_responses():
    assert modbus.parse_response(H("01 03 04 00 64 00 C8 BA 7A"), device=1, function=3) == \
        [100, 200]
    regs = modbus.parse_response(H("01 04 04 41 BC 00 00 2E 5C"), device=1, function=4)
    assert modbus.Register("T", 4, 0, "float32", "1", "degC", resolution="0.1").decode(
        regs) == "23.5"
    assert modbus.Register("T", 4, 0, "float32", "1", "degC", "CDAB", "0.1").decode(
        [regs[1], regs[0]]) == "23.5"


@pytest.mark.parametrize(("frame", "t", "rh"), [
    ("01 04 04 00 EB 01 C8 8B B6", "23.5", "45.6"),
    ("01 04 04 FF 9C 01 C8 0B B8", "-10.0", "45.6"),   # two's complement
])
def test_xy_md02_profile(frame, t, rh):
    regs = modbus.parse_response(H(frame), device=1, function=4)
    temperature, humidity = modbus.PROFILES["xy-md02"]
    assert (temperature.decode(regs[:1]), temperature.unit) == (t, "degC")
    assert (humidity.decode(regs[1:]), humidity.unit) == (rh, "%RH")


@pytest.mark.parametrize(("frame", "function", "words"), [
    ("01 83 02 C0 F1", 3, "illegal data address"), ("01 84 02 C2 C1", 4, "illegal data address"),
    ("01 90 03 0C 01", 16, "illegal data value"),
])
def test_modbus_exceptions(frame, function, words):
    with pytest.raises(DeviceError, match=words):
        modbus.parse_response(H(frame), device=1, function=function)


def test_modbus_bad_crc_and_foreign_replies():
    with pytest.raises(DriverError, match="CRC"):
        modbus.parse_response(H("01 03 04 00 64 00 C8 BA 7B"), device=1, function=3)
    with pytest.raises(DriverError, match="device 1"):
        modbus.parse_response(H("01 03 04 00 64 00 C8 BA 7A"), device=2, function=3)


# --- Mitutoyo Digimatic (§6.1, §6.3) ---------------------------------------------------------------

@pytest.mark.parametrize(("line", "unit", "value"), [
    (b"01A+0000.123", "mm", "0.123"), (b"01A+0000.125", "mm", "0.125"),
    (b"01A+00.12345", "in", "0.12345"), (b"01A+000.1234", "in", "0.1234"),
    (b"01A-0012.345", "mm", "-12.345"), (b"01A+0012.345", "mm", "12.345"),
    (b"01A-0000.002", "mm", "-0.002"), (b"01A+0025.400", "mm", "25.400"),
])
def test_mitutoyo_lines(line, unit, value):
    r = mitutoyo.parse_line(line, unit)
    assert (r.status, r.value, r.unit) == ("ok", value, unit)


@pytest.mark.parametrize("line", [b"01A+00?0.12", b"01A 0000.123", b"1A+0000.123", b"",
                                  b"01A+00.0.123"])
def test_mitutoyo_garbled_lines_are_errors(line):
    assert mitutoyo.parse_line(line, "mm").status == "error"


def test_every_unit_a_driver_emits_is_accepted_by_the_lims():
    from lims.units import parse_unit

    units = {*sbi.UNITS.values(), *(u for _, u in scpi.FUNCTIONS.values() if u),
             *scpi.TEMP_UNITS.values(), *vaisala.UNITS.values(),
             *vaisala.DIFFERENCE_UNITS.values(), *fluke.UNITS.values(),
             *mitutoyo.UNITS.values(), *(r.unit for p in modbus.PROFILES.values() for r in p)}
    for unit in units:
        parse_unit(unit)

# --- Driver corrections (issue 9 §6): parsing rules -------------------------------------------

def test_vaisala_dt_is_a_temperature_difference_not_a_temperature():
    # FORM "T=" t U3 #t "Td=" td U3 #t "dT=" dt U3 #r #n, in the manual's FORM syntax (§4.1).
    t, td, dt = vaisala.parse_line(b"T= 21.0'C\tTd= 8.0'C\tdT= 13.0'C")
    assert (t.value, t.unit, t.quantity) == ("21.0", "degC", "temperature")
    assert (td.value, td.unit, td.quantity) == ("8.0", "degC", "temperature")  # a dewpoint
    assert (dt.value, dt.unit, dt.quantity) == ("13.0", "delta_degC", "temperature_difference")
    (dt_f,) = vaisala.parse_line(b"dT= 23.4'F")
    assert (dt_f.unit, dt_f.quantity) == ("delta_degF", "temperature_difference")
    (bad,) = vaisala.parse_line(b"dT= 13.0 %RH")  # never passed off as another quantity
    assert bad.status == "error" and bad.value is None


def test_vaisala_default_line_and_custom_labels_carry_their_kind():
    rh, t = vaisala.parse_line(b"RH= 98.4 %RH T= 31.1 'C")
    assert (rh.quantity, t.quantity) == ("relative_humidity", "temperature")
    # M210566EN FORM example with free-text labels: no kind is guessed, the unit stays degC.
    tfrost, temp = vaisala.parse_line(b"Tfrost= 36.0'C Temp= 31.0'C")
    assert (tfrost.unit, tfrost.quantity, temp.unit, temp.quantity) == \
        ("degC", None, "degC", None)


def test_a_dt_reading_converts_as_a_difference_in_the_lims():
    from decimal import Decimal

    from lims.errors import UnitMismatch
    from lims.units import convert, parse_unit

    (dt,) = vaisala.parse_line(b"dT= 13.0'C")
    unit = parse_unit(dt.unit)
    assert convert(Decimal(dt.value), unit, parse_unit("K")) == Decimal("13.0")  # not 286.15
    with pytest.raises(UnitMismatch):
        convert(Decimal(dt.value), unit, parse_unit("degC"))


@pytest.mark.parametrize(("line", "channel", "value"), [
    (b"01A+0000.123", "1", "0.123"), (b"02A-0012.345", "2", "-12.345"),
    (b"02A-0012.345", None, "-12.345"),  # no channel configured: any
])
def test_mitutoyo_channel_digit_matches(line, channel, value):
    r = mitutoyo.parse_line(line, "mm", channel=channel)
    assert (r.status, r.value, r.quantity) == ("ok", value, "length")


def test_mitutoyo_line_from_another_channel_is_refused():
    r = mitutoyo.parse_line(b"02A+0000.123", "mm", channel="1")
    assert r.status == "error" and r.value is None
    assert "channel 2" in r.message and "configured channel 1" in r.message


def _float_words(value: float) -> list[int]:
    return list(struct.unpack(">HH", struct.pack(">f", value)))


def test_modbus_float_is_stored_at_the_profile_resolution():
    hi, lo = _float_words(43.2)
    assert (hi, lo) == (0x422C, 0xCCCD)
    # The trap: the float32 as Python prints it.
    assert repr(struct.unpack(">f", struct.pack(">HH", hi, lo))[0]) == "43.20000076293945"
    rh, t = modbus.PROFILES["hmt330"]
    assert rh.decode([lo, hi]) == "43.20"        # CDAB, at the profile's 0.01
    assert t.decode(list(reversed(_float_words(21.05)))) == "21.05"
    coarse = modbus.Register("RH", 4, 0, "float32", "1", "%RH", resolution="0.1")
    assert coarse.decode([hi, lo]) == "43.2"
    assert coarse.decode(_float_words(-0.04)) == "0.0"


def test_modbus_float_register_needs_a_power_of_ten_resolution():
    with pytest.raises(ValueError, match="resolution"):
        modbus.Register("T", 4, 0, "float32", "1", "degC")
    with pytest.raises(ValueError, match="power of ten"):
        modbus.Register("T", 4, 0, "float32", "1", "degC", resolution="0.5")


def test_modbus_float_that_is_not_a_number_is_no_value():
    from drivers.errors import ProtocolError

    rh = modbus.PROFILES["hmt330"][0]
    with pytest.raises(ProtocolError, match="not a number"):
        rh.decode([0x0000, 0x7FC0])  # NaN, CDAB


def test_scpi_idn_of_a_34401a_has_an_uninformative_serial_field():
    from drivers.identity import Identity

    assert scpi.parse_idn(b"HEWLETT-PACKARD,34401A,0,11-5-2\r") == \
        ("HEWLETT-PACKARD", "34401A", "0", "11-5-2")
    seen = Identity.from_serial("0", model="HEWLETT-PACKARD 34401A")
    assert seen.serial is None and seen.reported == "0"
    assert "not reported by this model" in seen.note
    assert Identity.from_serial("MY54501234").serial == "MY54501234"
    assert Identity.from_serial("0031801165").serial == "0031801165"  # leading zeros identify


@pytest.mark.parametrize(("reply", "unit"), [(b"C", "degC"), (b"F", "degF"), (b"K", "K"),
                                             (b"C\r", "degC"), (b"k", "K")])
def test_scpi_temperature_unit_reply(reply, unit):
    assert scpi.parse_temperature_unit(reply) == unit


@pytest.mark.parametrize("reply", [b"CEL", b"", b"+2.3E+01", b'-113,"Undefined header"'])
def test_scpi_temperature_unit_reply_refuses_anything_else(reply):
    from drivers.errors import ProtocolError

    with pytest.raises(ProtocolError, match="UNIT:TEMP"):
        scpi.parse_temperature_unit(reply)


def test_scpi_temperature_reading_carries_the_reported_unit_and_kind():
    r = scpi.parse_reading(b"+2.96600000E+02", "K", quantity="temperature")
    assert (r.value, r.unit, r.quantity) == ("+2.96600000E+02", "K", "temperature")

