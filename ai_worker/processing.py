"""The steps of identifying one plant: claim, prepare, identify, store.

Each plant ends COMPLETED with validated care data or FAILED with a code,
within `max_attempts` model calls. A transient failure puts the plant back to
PENDING and returns the delay after which the caller should retry.
"""

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
import structlog
from dramatiq.middleware.time_limit import TimeLimitExceeded
from psycopg_pool import ConnectionPool, PoolTimeout

from ai_worker import plant_repository
from ai_worker.failures import (
    IdentificationError,
    IdentificationRejectedError,
    IdentificationUnavailableError,
    InvalidModelOutputError,
)
from ai_worker.gemini import ModelAnswer
from ai_worker.image_preparation import PreparedImage, prepare_image
from ai_worker.model_reply import parse_model_reply
from ai_worker.plant_repository import Claim
from shared.image_store import ImageKeyError, ImageStore
from shared.plant import FailureCode, ProcessingStatus

log = structlog.get_logger()


# Outputs that count as "the model's reply was unusable" for the one retry
# such replies get, whichever of the two came first.
_INVALID_OUTPUT_CODES = frozenset(
    {FailureCode.AI_OUTPUT_INVALID.value, FailureCode.AI_TRUNCATED.value}
)
# Waits between tries of a write after the model call, in seconds. The model's
# reply is already paid for, so a short database outage should not lose it.
WRITE_RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 4.0)


def _retry_write(write: Callable[..., bool], *args: Any, **kwargs: Any) -> bool:
    """Run a write, retrying it while the database is unreachable.

    Re-raises the last error when every try failed; the plant then stays
    PROCESSING until its lease ends and the re-send loop offers it again.
    """
    for delay_s in WRITE_RETRY_DELAYS_S:
        try:
            return write(*args, **kwargs)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            log.warning(
                "plant_write_retry_scheduled",
                write=write.__name__,
                error=str(exc),
                retry_in_s=delay_s,
            )
            time.sleep(delay_s)
    return write(*args, **kwargs)


class PlantIdentifier(Protocol):
    def identify(self, image: PreparedImage) -> ModelAnswer: ...


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    min_backoff_ms: int
    max_backoff_ms: int

    def delay_ms(self, attempt: int, retry_after_s: float | None) -> int:
        """Return the wait before the next attempt: exponential with jitter.

        The wait is never shorter than `retry_after_s`, which a 429 carries,
        even when that is above `max_backoff_ms`.
        """
        ceiling = min(self.max_backoff_ms, self.min_backoff_ms * 2 ** (attempt - 1))
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        if retry_after_s is not None:
            delay = max(delay, retry_after_s * 1000 * random.uniform(1.0, 1.1))
        return max(1, round(delay))


@dataclass(frozen=True)
class Redelivery:
    """A request to deliver the plant's message again after `delay_ms`."""

    delay_ms: int


# Added to a computed wait, so the redelivered message finds the lease or
# backoff over even when clocks of worker and database differ slightly.
REDELIVERY_MARGIN_MS = 250


def _redelivery_ms(wait_s: float) -> int:
    return round(wait_s * 1000) + REDELIVERY_MARGIN_MS


@dataclass
class PlantProcessor:
    pool: ConnectionPool
    image_store: ImageStore
    identifier: PlantIdentifier
    retry_policy: RetryPolicy
    lease_s: float
    image_max_side_px: int

    def process(self, plant_id: uuid.UUID) -> int | Redelivery | None:
        """Process one delivery of a plant's message.

        Returns the retry delay in milliseconds when an attempt failed and the
        plant was put back for another one. Returns a `Redelivery` when the
        plant could not be claimed yet, so the message should come back later
        without counting as a retry. Returns None when this delivery is done
        with the plant. Database errors propagate, so that the caller's broker
        retries.
        """
        claim = plant_repository.claim_plant(
            self.pool,
            plant_id,
            max_attempts=self.retry_policy.max_attempts,
            lease_s=self.lease_s,
        )
        if claim is None:
            return self._skip_unclaimable(plant_id)
        log.info(
            "processing_status_changed",
            status=ProcessingStatus.PROCESSING,
            attempt=claim.attempts,
            max_attempts=self.retry_policy.max_attempts,
        )

        usage: dict[str, Any] | None = None
        try:
            answer = self.identifier.identify(self._read_image(claim))
            usage = answer.usage
            reply = parse_model_reply(answer.text)
        except IdentificationError as exc:
            return self._handle_failure(claim, exc, usage)
        except TimeLimitExceeded:
            # Dramatiq raised this in our thread, typically in a reply that
            # trickled in too slowly for the per-read timeout to catch.
            timed_out = IdentificationUnavailableError(
                FailureCode.AI_TIMEOUT, "model call ran past the worker's time limit"
            )
            return self._handle_failure(claim, timed_out, usage)
        except Exception as exc:
            # A bug, not a model problem: retrying would pay for the same crash.
            log.exception("identification_crashed")
            message = f"internal error: {type(exc).__name__}"
            self._fail(claim, FailureCode.INTERNAL_ERROR, message, usage)
            return None

        if not reply.is_plant or reply.plant is None:
            message = (
                f"the photo does not show a plant (confidence {reply.confidence:.2f})"
            )
            self._fail(claim, FailureCode.NOT_A_PLANT, message, usage)
            return None

        if _retry_write(
            plant_repository.complete_plant, self.pool, claim, reply.plant, usage
        ):
            log.info(
                "processing_status_changed",
                status=ProcessingStatus.COMPLETED,
                attempt=claim.attempts,
                scientific_name=reply.plant.scientific_name,
                confidence=reply.confidence,
                total_tokens=usage.get("total_tokens"),
            )
        else:
            log.warning("plant_claim_lost", step="complete")
        return None

    def _read_image(self, claim: Claim) -> PreparedImage:
        try:
            image_bytes = self.image_store.read(claim.image_path)
        except (ImageKeyError, FileNotFoundError) as exc:
            message = f"image {claim.image_path!r} is missing: {exc}"
            raise IdentificationRejectedError(
                FailureCode.IMAGE_MISSING, message
            ) from exc
        return prepare_image(image_bytes, max_side_px=self.image_max_side_px)

    def _handle_failure(
        self, claim: Claim, error: IdentificationError, usage: dict[str, Any] | None
    ) -> int | None:
        is_last_attempt = claim.attempts >= self.retry_policy.max_attempts
        if isinstance(error, IdentificationRejectedError):
            self._fail(claim, error.code, error.message, usage)
            return None
        if isinstance(error, InvalidModelOutputError) and (
            claim.last_error_code in _INVALID_OUTPUT_CODES
        ):
            # Bad output twice in a row: the model will not fix it by itself.
            self._fail(claim, error.code, f"{error.message} (twice in a row)", usage)
            return None
        if is_last_attempt:
            message = (
                f"gave up after {claim.attempts} attempts; last error "
                f"{error.code}: {error.message}"
            )
            self._fail(claim, FailureCode.MAX_ATTEMPTS_EXCEEDED, message, usage)
            return None

        retry_after_s = (
            error.retry_after_s
            if isinstance(error, IdentificationUnavailableError)
            else None
        )
        delay_ms = self.retry_policy.delay_ms(claim.attempts, retry_after_s)
        if not _retry_write(
            plant_repository.release_plant,
            self.pool,
            claim,
            error.code,
            error.message,
            delay_ms=delay_ms,
        ):
            log.warning("plant_claim_lost", step="release")
            return None
        log.warning(
            "processing_status_changed",
            status=ProcessingStatus.PENDING,
            attempt=claim.attempts,
            max_attempts=self.retry_policy.max_attempts,
            failure_code=error.code,
            error=error.message,
            retry_in_ms=delay_ms,
            retry_after_s=retry_after_s,
        )
        return delay_ms

    def _fail(
        self,
        claim: Claim,
        code: FailureCode,
        message: str,
        usage: dict[str, Any] | None,
    ) -> None:
        if _retry_write(
            plant_repository.fail_claimed_plant, self.pool, claim, code, message, usage
        ):
            log.error(
                "processing_status_changed",
                status=ProcessingStatus.FAILED,
                attempt=claim.attempts,
                failure_code=code,
                error=message,
            )
        else:
            log.warning("plant_claim_lost", step="fail")

    def _skip_unclaimable(self, plant_id: uuid.UUID) -> Redelivery | None:
        state = plant_repository.get_plant_state(self.pool, plant_id)
        if state is None:
            log.warning("plant_message_skipped", reason="plant not found")
            return None
        if state.status in (ProcessingStatus.COMPLETED, ProcessingStatus.FAILED):
            log.info(
                "plant_message_skipped",
                reason="plant already finished",
                status=state.status,
            )
            return None
        held_for_s = state.processing_started_at_age_s or 0.0
        if state.status == ProcessingStatus.PROCESSING and held_for_s < self.lease_s:
            # The holder may be alive, or dead with its message redelivered
            # before the lease ran out. Looking again once the lease has run
            # out either finds the plant finished or takes it over.
            wait_s = self.lease_s - held_for_s
            log.info(
                "plant_message_deferred",
                reason="another worker holds the plant",
                claimed_for_s=round(held_for_s, 3),
                retry_in_ms=_redelivery_ms(wait_s),
            )
            return Redelivery(_redelivery_ms(wait_s))
        if state.attempts >= self.retry_policy.max_attempts:
            self.fail_exhausted(
                plant_id,
                f"plant used all {state.attempts} attempts without finishing",
            )
            return None
        # A retry that came early (clocks of worker and database differ) or a
        # duplicate: either way the plant is looked at again when it is due.
        wait_s = state.next_attempt_in_s or 0.0
        log.info(
            "plant_message_deferred",
            reason="retry not due yet",
            retry_in_ms=_redelivery_ms(wait_s),
        )
        return Redelivery(_redelivery_ms(wait_s))

    def fail_exhausted(self, plant_id: uuid.UUID, message: str) -> None:
        """Mark an unclaimed plant FAILED with MAX_ATTEMPTS_EXCEEDED."""
        if plant_repository.fail_unclaimed_plant(
            self.pool,
            plant_id,
            FailureCode.MAX_ATTEMPTS_EXCEEDED,
            message,
            lease_s=self.lease_s,
        ):
            log.error(
                "processing_status_changed",
                status=ProcessingStatus.FAILED,
                failure_code=FailureCode.MAX_ATTEMPTS_EXCEEDED,
                error=message,
            )
