"""Errors of the auth domain that the general tree (:mod:`lims.errors`) has no class for."""

from __future__ import annotations

from lims.errors import LimsError


class TooManyAttempts(LimsError):
    """Too many failed logins for this account or from this address: answered 429 with
    ``Retry-After`` (:mod:`lims.web.auth`). ``field`` is ``username`` or ``address``;
    ``data["retry_after"]`` is the wait in whole seconds."""

    code = "too_many_attempts"

    @property
    def retry_after(self) -> int:
        return int(self.data["retry_after"])
