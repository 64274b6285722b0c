"""The error tree of the LIMS.

Services raise these; they carry data (ids, dates, units), never HTTP codes. The one place that
maps them to HTTP is :mod:`lims.web.errors`; the CLI maps them to exit codes.

::

    LimsError                       anything the application raises on purpose
    ├── BadRequest                  -> 400 (malformed JSON, not an object)
    ├── NotFound                    -> 404
    ├── Unauthenticated             -> 401
    ├── PermissionDenied            -> 403
    │   ├── SeparationOfDuties      approver entered results, reviewer measured (ISO/IEC 17025 7.5.1)
    │   ├── OutsideScope            signatory not authorised for the field (RB/T 214 4.2.4)
    │   └── NotTheApprover          only the approving signatory signs the report (21 CFR 11.50)
    ├── InvalidInput                -> 422 (names the field)
    │   ├── UnitMismatch            a unit not of the expected kind (or dimension); names both
    │   └── InstrumentNotFit        a result measured with an instrument not fit for use then
    ├── Conflict                    -> 409 (the state does not allow this)
    │   ├── SampleStateError        illegal lifecycle transition
    │   ├── CalibrationExpired      instrument overdue at the time of measurement (ISO/IEC 17025 6.4)
    │   ├── InstrumentUnavailable   out of service, or the driver failed
    │   └── ReportError             rendering, signing, storing an issued report
    └── Unavailable                 -> 503 (the database cannot be opened; reads may still work)
        ├── ReadOnly                the database or the instance folder refuses writes
        └── StorageFull             the disk under the database or the instance folder is full

``Unavailable`` and its subclasses are not raised by services: the edges (web, CLI) translate
the driver's error into them with :func:`lims.db.storage_error`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class Message(str):
    """An error message that can be shown in the reader's language.

    It *is* the English text (``str``), so the API, the CLI and logs use it unchanged; pages
    look its ``template`` up in the message catalog and fill in ``params`` (lims.web.errors).
    Services stay free of Flask: they only mark the template with :func:`msg`, which is also
    the keyword the catalog extraction looks for (``make translations``).
    """

    template: str
    params: Mapping[str, object]

    def __new__(cls, template: str, params: Mapping[str, object]) -> Message:
        made = super().__new__(cls, template % params if params else template)
        made.template, made.params = template, dict(params)
        return made


class Named(Message):
    """A name the code already knows in both languages (a quantity kind: ``mass`` / 质量).

    The English text is the ``str`` (API, CLI in English, logs); a Chinese reader sees ``zh``
    (lims.web.errors, lims.catalogs), so the registry stays the one place the name is written.
    """

    zh: str

    def __new__(cls, en: str, zh: str) -> Named:
        made = str.__new__(cls, en)
        made.template, made.params, made.zh = en, {}, zh
        return made


# Parameters that hold a stored state ("received", "issued" …): shown through the same labels
# as the pages' status column, so a Chinese refusal does not carry an English status.
STATE_PARAMS = frozenset({"status", "state", "target"})


class Choices(str):
    """The allowed values of a refusal ("must be one of %(choices)s"): the English text joins
    them as stored; pages and the command line show each through its label (issue 11 §1)."""

    items: tuple[str, ...]

    def __new__(cls, items: Iterable[object]) -> Choices:
        # A str enum's member as its value (str() of a (str, Enum) member is its name).
        shown = tuple(str.__str__(i) if isinstance(i, str) else str(i) for i in items)
        made = super().__new__(cls, ", ".join(shown))
        made.items = shown
        return made


class FieldName(str):
    """A field's name inside a message ("%(name)s must be …"): pages show its label."""


def msg(template: str, **params: object) -> Message:
    """A translatable message: ``msg("%(unit)s is not a unit of %(kind)s", unit=u, kind=k)``."""
    return Message(template, params)


class LimsError(Exception):
    """Base of every error the application raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.data = data

    def __str__(self) -> str:
        return self.message


class NotFound(LimsError):
    code = "not_found"


class Unauthenticated(LimsError):
    code = "unauthenticated"


class PermissionDenied(LimsError):
    code = "forbidden"


class SeparationOfDuties(PermissionDenied):
    code = "separation_of_duties"


class OutsideScope(PermissionDenied):
    code = "outside_scope"


class NotTheApprover(PermissionDenied):
    code = "not_the_approver"


class InvalidInput(LimsError):
    code = "invalid"


class UnitMismatch(InvalidInput):
    code = "unit_mismatch"


class InstrumentNotFit(InvalidInput):
    """A result's instrument was not fit for use at its measurement time (ISO/IEC 17025 6.4):
    overdue, out of service, failed check. ``data["reason"]`` is the code of the underlying
    :class:`CalibrationExpired` or :class:`InstrumentUnavailable`."""

    code = "instrument_not_fit"


class Conflict(LimsError):
    code = "conflict"


class SampleStateError(Conflict):
    code = "illegal_transition"


class CalibrationExpired(Conflict):
    code = "calibration_expired"


class InstrumentUnavailable(Conflict):
    code = "instrument_unavailable"


class ReportError(Conflict):
    code = "report_error"


class BadRequest(LimsError):
    """The request itself is malformed (not JSON, not an object)."""

    code = "bad_request"


class Unavailable(LimsError):
    """The database cannot be used now: nothing the user did is wrong, so try again later."""

    code = "unavailable"


class ReadOnly(Unavailable):
    code = "read_only"


class StorageFull(Unavailable):
    code = "disk_full"
