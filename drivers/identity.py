"""Who answers on a port: the identity an instrument reports, and the check against the record.

protocols.md §7.6 rule 2: on every (re)connect compare the serial number the instrument reports
(MT ``I4``, SBI ``ESC x2_``, ``*IDN?``, Vaisala ``?``) with the asset record and refuse readings
on a mismatch. Some instruments report a field that identifies nothing: the 34401A answers
``*IDN?`` with ``HEWLETT-PACKARD,34401A,0,11-5-2`` (§3.2), a serial field of ``0`` on every
unit. Comparing that ``0`` would either refuse every 34401A or, with ``0`` typed into the
record, pass any 34401A at all. Such a field is "serial number not reported by this model": the
check says so in a warning and falls back to the configured identity, while a mismatch on a
serial number that does identify the unit still refuses.
"""

from __future__ import annotations

import dataclasses

from drivers.errors import IdentityMismatch

MATCH = "match"                 # the reported serial number is the configured one
NOT_REPORTED = "not_reported"   # nothing identifying on the wire: the configured identity stands
RECORDED = "recorded"           # nothing configured to compare with: the reported one is kept


def is_uninformative(serial: str | None) -> bool:
    """True for a serial field that cannot tell two units apart: empty, or zeros only (``0``)."""
    text = (serial or "").strip()
    return not text or set(text) == {"0"}


@dataclasses.dataclass(frozen=True)
class Identity:
    """What an instrument says about itself.

    ``serial`` is None when the instrument reports no serial number that identifies the unit;
    ``reported`` keeps the field as sent (``"0"``) and ``note`` says why it was set aside.
    """

    serial: str | None
    reported: str | None = None
    model: str | None = None
    note: str | None = None

    @classmethod
    def from_serial(cls, reported: str | None, *, model: str | None = None,
                    source: str = "the instrument") -> Identity:
        """Build an identity from a reported serial field, setting an uninformative one aside."""
        if not is_uninformative(reported):
            return cls((reported or "").strip(), reported, model)
        if reported is None:
            return cls(None, None, model, f"{source} reports no serial number")
        return cls(None, reported, model, f"{source} reports serial number {reported!r}, which "
                                          "identifies no unit: serial number not reported by "
                                          "this model")


@dataclasses.dataclass(frozen=True)
class IdentityCheck:
    """The outcome of :func:`check_identity`.

    ``identity`` is the serial number in force for this connection: the reported one, or the
    configured one when the instrument reports none (``outcome == NOT_REPORTED``, with a
    ``warning`` to show or log).
    """

    outcome: str
    identity: str | None
    reported: Identity
    configured: str | None
    warning: str | None = None


def check_identity(reported: Identity, configured: str | None, *, port: str = "") -> IdentityCheck:
    """Compare what the instrument reports with the configured serial number.

    :raises IdentityMismatch: the instrument reports an identifying serial number that is not
        the configured one; its readings must be refused.
    """
    configured = (configured or "").strip() or None
    where = f" on {port}" if port else ""
    if reported.serial is None:
        note = reported.note or "serial number not reported by this model"
        if configured is None:
            warning = f"the instrument{where}: {note}; its identity is not checked"
        else:
            warning = (f"the instrument{where}: {note}; its identity cannot be checked on the "
                       f"line, the configured serial number {configured!r} is assumed")
        return IdentityCheck(NOT_REPORTED, configured, reported, configured, warning)
    if configured is None:
        return IdentityCheck(RECORDED, reported.serial, reported, None)
    if reported.serial != configured:
        raise IdentityMismatch(f"the instrument{where} reports serial number "
                               f"{reported.serial!r}, not {configured!r}; its readings are "
                               "refused")
    return IdentityCheck(MATCH, configured, reported, configured)
