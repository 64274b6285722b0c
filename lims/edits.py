"""What every edit of a register record shares: a required reason and an optimistic check.

An edit carries the ``version`` of the record it was made from; when someone else changed the
record in between, the edit is refused (:class:`StaleEdit`, 409) instead of silently writing
over theirs. Callers hold the record's row lock while they check and bump the version.
"""

from __future__ import annotations

from typing import Any

from lims.errors import Conflict, InvalidInput, msg
from lims.validate import text

MAX_REASON = 500


class StaleEdit(Conflict):
    """The record changed since the page (or client) read it."""

    code = "stale_edit"


def reason_of(value: Any) -> str:
    """The required reason of an edit or retirement.

    :raises InvalidInput: missing, not text or longer than 500 characters (field ``reason``).
    """
    return text(value, "reason", max_len=MAX_REASON, multiline=True)


def check_version(current: int, given: Any, what: str) -> None:
    """Refuse an edit made from another version of the record (``given`` None or "": not
    checked, for API clients that do not send one).

    :raises StaleEdit:
    :raises InvalidInput: ``given`` is not a whole number (field ``version``).
    """
    if given is None or given == "":
        return
    if isinstance(given, str) and given.strip().isascii() and given.strip().isdecimal():
        given = int(given)
    if isinstance(given, bool) or not isinstance(given, int):
        raise InvalidInput(msg("must be a whole number"), field="version")
    if given != current:
        raise StaleEdit(msg("%(what)s was changed by someone else since you opened it (version "
                            "%(given)s, now %(current)s); reload the page and make your change "
                            "again", what=what, given=given, current=current), field="version")
