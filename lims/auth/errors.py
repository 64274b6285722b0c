"""Errors of the auth domain that the general tree (:mod:`lims.errors`) has no class for."""

from __future__ import annotations

from lims.errors import LimsError, PermissionDenied


class TooManyAttempts(LimsError):
    """Too many failed logins for this account or from this address: answered 429 with
    ``Retry-After`` (:mod:`lims.web.auth`). ``field`` is ``username`` or ``address``;
    ``data["retry_after"]`` is the wait in whole seconds."""

    code = "too_many_attempts"

    @property
    def retry_after(self) -> int:
        return int(self.data["retry_after"])


class ReauthenticationFailed(PermissionDenied):
    """The password re-entered to apply an electronic signature is wrong (or the account is
    locked): answered 403, since the request's own credentials are fine (a 401 would tell an
    API client to drop its token, and a browser to log in again). ``field`` is ``password``.

    ``data["record"]`` says whether the edge must record it as a failed attempt
    (:func:`lims.auth.sessions.record_reauthentication_failure`) after rolling back the
    request's own transaction, so that it counts towards throttling and lockout."""

    code = "reauthentication_failed"
