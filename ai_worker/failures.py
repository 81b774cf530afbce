"""How an identification attempt can fail, and what happens next.

    IdentificationError                  carries a FailureCode and a message
    ├── IdentificationUnavailableError   transient: retried with backoff
    ├── InvalidModelOutputError          retried once, then permanent
    └── IdentificationRejectedError      permanent: the plant fails at once

Every failure the worker expects is turned into one of these in a single place
(the Gemini adapter and the reply parser), so the processing step decides the
plant's fate from the class alone.
"""

from shared.plant import FailureCode


class IdentificationError(Exception):
    def __init__(self, code: FailureCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class IdentificationUnavailableError(IdentificationError):
    """The model or a dependency is temporarily unavailable."""

    def __init__(
        self, code: FailureCode, message: str, *, retry_after_s: float | None = None
    ) -> None:
        super().__init__(code, message)
        # Minimum wait the server asked for (a 429's RetryInfo), if any.
        self.retry_after_s = retry_after_s


class InvalidModelOutputError(IdentificationError):
    """The model replied, but not with usable data, so a new call may succeed."""


class IdentificationRejectedError(IdentificationError):
    """Retrying cannot help: a blocked photo, a rejected request, a bad image."""
