"""SQL the worker runs against the plants table.

Every write after the claim is guarded by the claim token, so a worker that
lost its claim (its lease ran out and another worker took the plant) cannot
overwrite the newer worker's result.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from shared.plant import FailureCode, ProcessingStatus
from shared.plant_data import AIPlantData


@dataclass(frozen=True)
class Claim:
    plant_id: uuid.UUID
    claim_token: uuid.UUID
    attempts: int
    image_path: str
    last_error_code: str | None


@dataclass(frozen=True)
class PlantState:
    status: ProcessingStatus
    attempts: int
    processing_started_at_age_s: float | None
    # Seconds until a retry may claim the plant; None when it may now.
    next_attempt_in_s: float | None


_CLAIM = """
    UPDATE plants
    SET ai_processing_status = 'PROCESSING',
        attempts = attempts + 1,
        claim_token = %(claim_token)s,
        processing_started_at = now(),
        next_attempt_at = NULL,
        updated_at = now()
    WHERE id = %(plant_id)s
      AND attempts < %(max_attempts)s
      AND (next_attempt_at IS NULL OR next_attempt_at <= now())
      AND (
          ai_processing_status = 'PENDING'
          OR (
              ai_processing_status = 'PROCESSING'
              AND processing_started_at < now() - make_interval(secs => %(lease_s)s)
          )
      )
    RETURNING attempts, original_image_path, last_error_code
"""

_SELECT_STATE = """
    SELECT ai_processing_status, attempts,
           EXTRACT(EPOCH FROM now() - processing_started_at)::float8,
           CASE WHEN next_attempt_at > now()
                THEN EXTRACT(EPOCH FROM next_attempt_at - now())::float8
           END
    FROM plants
    WHERE id = %(plant_id)s
"""

_COMPLETE = """
    UPDATE plants
    SET ai_processing_status = 'COMPLETED',
        scientific_name = %(scientific_name)s,
        description = %(description)s,
        ai_data = %(ai_data)s,
        ai_usage = %(ai_usage)s,
        failure_code = NULL,
        failure_message = NULL,
        last_error_code = NULL,
        last_error_message = NULL,
        claim_token = NULL,
        updated_at = now()
    WHERE id = %(plant_id)s
      AND ai_processing_status = 'PROCESSING'
      AND claim_token = %(claim_token)s
"""

_FAIL_CLAIMED = """
    UPDATE plants
    SET ai_processing_status = 'FAILED',
        failure_code = %(code)s,
        failure_message = %(message)s,
        ai_usage = COALESCE(%(ai_usage)s, ai_usage),
        claim_token = NULL,
        updated_at = now()
    WHERE id = %(plant_id)s
      AND ai_processing_status = 'PROCESSING'
      AND claim_token = %(claim_token)s
"""

# For plants that no worker has a live claim on: attempts used up before a
# claim, or retries exhausted after the claiming worker died.
_FAIL_UNCLAIMED = """
    UPDATE plants
    SET ai_processing_status = 'FAILED',
        failure_code = %(code)s,
        failure_message = %(message)s,
        claim_token = NULL,
        updated_at = now()
    WHERE id = %(plant_id)s
      AND (
          ai_processing_status = 'PENDING'
          OR (
              ai_processing_status = 'PROCESSING'
              AND processing_started_at < now() - make_interval(secs => %(lease_s)s)
          )
      )
"""

_RELEASE = """
    UPDATE plants
    SET ai_processing_status = 'PENDING',
        claim_token = NULL,
        processing_started_at = NULL,
        next_attempt_at = now() + make_interval(secs => %(delay_ms)s / 1000.0),
        last_error_code = %(code)s,
        last_error_message = %(message)s,
        updated_at = now()
    WHERE id = %(plant_id)s
      AND ai_processing_status = 'PROCESSING'
      AND claim_token = %(claim_token)s
"""


def claim_plant(
    pool: ConnectionPool, plant_id: uuid.UUID, *, max_attempts: int, lease_s: float
) -> Claim | None:
    """Move a PENDING or abandoned plant to PROCESSING and count the attempt.

    One conditional UPDATE, so of several concurrent deliveries exactly one
    gets a claim. Returns None when the plant is not claimable.
    """
    claim_token = uuid.uuid4()
    with pool.connection() as conn:
        row = conn.execute(
            _CLAIM,
            {
                "plant_id": plant_id,
                "claim_token": claim_token,
                "max_attempts": max_attempts,
                "lease_s": lease_s,
            },
        ).fetchone()
    if row is None:
        return None
    attempts, image_path, last_error_code = row
    return Claim(plant_id, claim_token, attempts, image_path, last_error_code)


def get_plant_state(pool: ConnectionPool, plant_id: uuid.UUID) -> PlantState | None:
    with pool.connection() as conn:
        row = conn.execute(_SELECT_STATE, {"plant_id": plant_id}).fetchone()
    if row is None:
        return None
    return PlantState(ProcessingStatus(row[0]), row[1], row[2], row[3])


def complete_plant(
    pool: ConnectionPool, claim: Claim, plant_data: AIPlantData, usage: dict[str, Any]
) -> bool:
    """Store the validated care profile and mark the plant COMPLETED.

    Returns False, writing nothing, when the claim is no longer current.
    """
    with pool.connection() as conn:
        cursor = conn.execute(
            _COMPLETE,
            {
                "plant_id": claim.plant_id,
                "claim_token": claim.claim_token,
                "scientific_name": plant_data.scientific_name,
                "description": plant_data.description,
                "ai_data": Jsonb(plant_data.model_dump(mode="json")),
                "ai_usage": Jsonb(usage),
            },
        )
        return cursor.rowcount == 1


def fail_claimed_plant(
    pool: ConnectionPool,
    claim: Claim,
    code: FailureCode,
    message: str,
    usage: dict[str, Any] | None = None,
) -> bool:
    """Mark the claimed plant FAILED; False when the claim is no longer current."""
    with pool.connection() as conn:
        cursor = conn.execute(
            _FAIL_CLAIMED,
            {
                "plant_id": claim.plant_id,
                "claim_token": claim.claim_token,
                "code": code.value,
                "message": message,
                "ai_usage": Jsonb(usage) if usage is not None else None,
            },
        )
        return cursor.rowcount == 1


def fail_unclaimed_plant(
    pool: ConnectionPool,
    plant_id: uuid.UUID,
    code: FailureCode,
    message: str,
    *,
    lease_s: float,
) -> bool:
    """Mark a plant FAILED unless it is final or a worker's claim on it is live."""
    with pool.connection() as conn:
        cursor = conn.execute(
            _FAIL_UNCLAIMED,
            {
                "plant_id": plant_id,
                "code": code.value,
                "message": message,
                "lease_s": lease_s,
            },
        )
        return cursor.rowcount == 1


def release_plant(
    pool: ConnectionPool,
    claim: Claim,
    code: FailureCode,
    message: str,
    *,
    delay_ms: int,
) -> bool:
    """Put the plant back to PENDING, claimable again after delay_ms."""
    with pool.connection() as conn:
        cursor = conn.execute(
            _RELEASE,
            {
                "plant_id": claim.plant_id,
                "claim_token": claim.claim_token,
                "code": code.value,
                "message": message,
                "delay_ms": delay_ms,
            },
        )
        return cursor.rowcount == 1
