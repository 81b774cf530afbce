"""SQL the intake service runs against the plants table."""

import uuid
from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row
from psycopg_pool import ConnectionPool

from shared.plant import PLANT_RECORD_COLUMNS, PlantRecord

# message_sent_at is set on insert, on the expectation that the send right
# after the commit succeeds; that saves a second transaction per call. A failed
# send clears it again. If the process dies in between, the plant is still
# found by the re-send loop, as unclaimed, a lease later.
_INSERT_PLANT = f"""
    INSERT INTO plants (
        id, owner_id, nickname, original_image_path, image_content_type,
        idempotency_key, message_sent_at
    )
    VALUES (
        %(id)s, %(owner_id)s, %(nickname)s, %(image_path)s, %(content_type)s,
        %(idempotency_key)s, now()
    )
    ON CONFLICT (owner_id, idempotency_key) DO NOTHING
    RETURNING {PLANT_RECORD_COLUMNS}
"""

_SELECT_BY_IDEMPOTENCY_KEY = f"""
    SELECT {PLANT_RECORD_COLUMNS}
    FROM plants
    WHERE owner_id = %(owner_id)s AND idempotency_key = %(idempotency_key)s
"""

_SELECT_BY_ID = f"""
    SELECT {PLANT_RECORD_COLUMNS}
    FROM plants
    WHERE id = %(id)s
"""

# The status condition spares a plant that a worker has claimed, which can
# happen only when the re-send loop sent it while the photo was being written.
_DELETE_PENDING_PLANT = """
    DELETE FROM plants
    WHERE id = %(id)s AND ai_processing_status = 'PENDING'
"""

_MARK_MESSAGE_UNSENT = """
    UPDATE plants
    SET message_sent_at = NULL
    WHERE id = %(id)s AND ai_processing_status = 'PENDING'
"""


def find_by_idempotency_key(
    pool: ConnectionPool,
    owner_id: str,
    idempotency_key: str,
    *,
    timeout_s: float | None = None,
) -> PlantRecord | None:
    """Return the plant an earlier call created with this key, if any.

    `timeout_s` bounds the wait for a pool connection, as in every function
    here; None means the pool's own timeout.
    """
    with pool.connection(timeout=timeout_s) as conn:
        cursor = conn.cursor(row_factory=class_row(PlantRecord))
        cursor.execute(
            _SELECT_BY_IDEMPOTENCY_KEY,
            {"owner_id": owner_id, "idempotency_key": idempotency_key},
        )
        return cursor.fetchone()


def insert_plant(
    pool: ConnectionPool,
    *,
    owner_id: str,
    nickname: str,
    image_path: str,
    content_type: str,
    idempotency_key: str | None,
    timeout_s: float | None = None,
) -> tuple[PlantRecord, bool]:
    """Insert a PENDING plant and commit.

    Returns the plant and whether this call created it. When a concurrent call
    already created a plant with the same owner and idempotency key, that
    plant is returned with False, and nothing new is written.
    """
    params = {
        "id": uuid.uuid4(),
        "owner_id": owner_id,
        "nickname": nickname,
        "image_path": image_path,
        "content_type": content_type,
        "idempotency_key": idempotency_key,
    }
    with pool.connection(timeout=timeout_s) as conn:
        cursor = conn.cursor(row_factory=class_row(PlantRecord))
        cursor.execute(_INSERT_PLANT, params)
        created = cursor.fetchone()
        if created is not None:
            return created, True
        # The conflicting row is committed by now: ON CONFLICT waited for it.
        cursor.execute(_SELECT_BY_IDEMPOTENCY_KEY, params)
        existing = cursor.fetchone()
    if existing is None:
        msg = f"plant with idempotency key {idempotency_key!r} vanished after conflict"
        raise RuntimeError(msg)
    return existing, False


def get_plant(
    pool: ConnectionPool, plant_id: uuid.UUID, *, timeout_s: float | None = None
) -> PlantRecord | None:
    with pool.connection(timeout=timeout_s) as conn:
        cursor = conn.cursor(row_factory=class_row(PlantRecord))
        cursor.execute(_SELECT_BY_ID, {"id": plant_id})
        return cursor.fetchone()


def delete_pending_plant(pool: ConnectionPool, plant_id: uuid.UUID) -> None:
    """Delete a PENDING plant whose photo could not be stored."""
    with pool.connection() as conn:
        conn.execute(_DELETE_PENDING_PLANT, {"id": plant_id})


def mark_message_unsent(pool: ConnectionPool, plant_id: uuid.UUID) -> None:
    """Record that the plant's message did not reach the queue, for the re-send loop."""
    with pool.connection() as conn:
        conn.execute(_MARK_MESSAGE_UNSENT, {"id": plant_id})


@dataclass(frozen=True)
class DuePlant:
    """A plant whose identification message the re-send loop sends again."""

    plant_id: uuid.UUID
    image_path: str
    # never_sent, not_claimed or lease_expired
    reason: str


# Three cases, each served by a partial index:
# - PENDING and never sent: the send after commit failed. Younger rows are
#   left to the call still sending.
# - PENDING, sent, and still unclaimed a lease after the later of the send and
#   next_attempt_at: the message or the worker's delayed retry was lost, or
#   the intake died between the commit and the send.
# - PROCESSING longer than the lease: the worker died holding the plant.
# Each re-send sets message_sent_at, so a plant is re-sent at most once per
# lease. SKIP LOCKED lets replicas split the rows instead of queueing on them.
_SELECT_DUE_PLANTS = """
    SELECT id, original_image_path,
           CASE
               WHEN ai_processing_status = 'PROCESSING' THEN 'lease_expired'
               WHEN message_sent_at IS NULL THEN 'never_sent'
               ELSE 'not_claimed'
           END
    FROM plants
    WHERE (
        ai_processing_status = 'PENDING'
        AND message_sent_at IS NULL
        AND created_at < now() - make_interval(secs => %(unsent_after_s)s)
        AND (next_attempt_at IS NULL OR next_attempt_at <= now())
    ) OR (
        ai_processing_status = 'PENDING'
        AND GREATEST(message_sent_at, next_attempt_at)
            < now() - make_interval(secs => %(lease_s)s)
    ) OR (
        ai_processing_status = 'PROCESSING'
        AND processing_started_at < now() - make_interval(secs => %(lease_s)s)
        AND COALESCE(message_sent_at, '-infinity')
            < now() - make_interval(secs => %(lease_s)s)
    )
    ORDER BY created_at
    LIMIT %(batch_size)s
    FOR UPDATE SKIP LOCKED
"""

_MARK_MESSAGES_SENT = """
    UPDATE plants
    SET message_sent_at = now()
    WHERE id = ANY(%(ids)s)
"""


def lock_due_plants(
    conn: psycopg.Connection,
    *,
    unsent_after_s: float,
    lease_s: float,
    batch_size: int,
) -> list[DuePlant]:
    """Lock and return plants to re-send, skipping rows another replica holds.

    The locks last until the caller's transaction ends.
    """
    rows = conn.execute(
        _SELECT_DUE_PLANTS,
        {
            "unsent_after_s": unsent_after_s,
            "lease_s": lease_s,
            "batch_size": batch_size,
        },
    ).fetchall()
    return [
        DuePlant(plant_id, image_path, reason) for plant_id, image_path, reason in rows
    ]


def mark_messages_sent(conn: psycopg.Connection, plant_ids: list[uuid.UUID]) -> None:
    """Record that these plants' messages reached the queue, in `conn`'s transaction."""
    if plant_ids:
        conn.execute(_MARK_MESSAGES_SENT, {"ids": plant_ids})
