"""Domain errors shared by both services.

    DomainError
    ├── InvalidRequestError          a client sent a value we cannot accept
    │   └── InvalidImageError        the photo is empty, unreadable or too big
    ├── IdempotencyKeyReusedError    the key already created a different plant
    ├── PlantNotFoundError           no plant has the requested id
    ├── DeadlineExceededError        the caller's deadline passed before the work
    └── StorageUnavailableError      the database or image store is down

Messages start lower-case, name the offending value and say what was expected.
"""

from pydantic_core import ErrorDetails


class DomainError(Exception):
    """Root of the errors this product raises on purpose."""


class InvalidRequestError(DomainError):
    """A request field is missing or out of bounds."""


class InvalidImageError(InvalidRequestError):
    """The uploaded photo cannot be accepted."""


class IdempotencyKeyReusedError(DomainError):
    """An idempotency key came back with a different photo or nickname."""


class PlantNotFoundError(DomainError):
    """No plant has the requested id."""


class DeadlineExceededError(DomainError):
    """The caller's deadline passed before the work could start or finish."""


class StorageUnavailableError(DomainError):
    """PostgreSQL or the image store cannot be reached; the call may be retried."""


def describe_validation_error(error: ErrorDetails) -> str:
    """Return a pydantic error's message without its "Value error, " prefix."""
    return error["msg"].removeprefix("Value error, ")
