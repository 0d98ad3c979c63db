"""Exceptions raised by memory_rs: one class per engine error kind, all under
:class:`Error`, each carrying the engine's message."""

from __future__ import annotations


class Error(Exception):
    """Base of every error the engine raises.

    Attributes:
        message: What went wrong, as the engine words it (names the field or
            backend at fault).
        kind: The engine's stable snake_case error kind (``"invalid_input"``,
            ``"not_found"``, ...), the same as the REST API's ``error.kind``.
        retry_after: For a rate limit, seconds until a retry may succeed.
    """

    def __init__(self, message: str, kind: str = "internal", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.retry_after = retry_after


class InvalidInput(Error, ValueError):
    """The request was invalid: empty content, a bad filter, an unknown field."""


class NotFound(Error, LookupError):
    """The named memory, session or message does not exist in the tenant."""


class Conflict(Error):
    """A write lost a race: a stale ``expected_version`` or a uniqueness clash."""


class DimensionMismatch(Error):
    """A vector's length differs from the collection's recorded dimension."""


class RateLimited(Error):
    """A rate limit refused the call; see ``retry_after``."""


class Unavailable(Error):
    """A backend could not be reached or did not answer in time."""


class Unsupported(Error):
    """The configured backend cannot do this at all."""


class ConfigError(Error):
    """The configuration is wrong: an unknown key or scheme, a bad URL, a
    model that is not prepared."""


class InternalError(Error):
    """A bug or an unexpected backend answer."""


__all__ = [
    "Error",
    "InvalidInput",
    "NotFound",
    "Conflict",
    "DimensionMismatch",
    "RateLimited",
    "Unavailable",
    "Unsupported",
    "ConfigError",
    "InternalError",
]
