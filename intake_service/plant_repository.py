"""SQL the intake service runs against the plants table."""

import uuid

from psycopg.rows import class_row
from psycopg_pool import ConnectionPool

from shared.plant import PLANT_RECORD_COLUMNS, PlantRecord

_INSERT_PLANT = f"""
    INSERT INTO plants (
        id, owner_id, nickname, original_image_path, image_content_type,
        idempotency_key
    )
    VALUES (
        %(id)s, %(owner_id)s, %(nickname)s, %(image_path)s, %(content_type)s,
        %(idempotency_key)s
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

_MARK_MESSAGE_SENT = """
    UPDATE plants
    SET message_sent_at = now()
    WHERE id = %(id)s
"""


def find_by_idempotency_key(
    pool: ConnectionPool, owner_id: str, idempotency_key: str
) -> PlantRecord | None:
    """Return the plant an earlier call created with this key, if any."""
    with pool.connection() as conn:
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
    with pool.connection() as conn:
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


def get_plant(pool: ConnectionPool, plant_id: uuid.UUID) -> PlantRecord | None:
    with pool.connection() as conn:
        cursor = conn.cursor(row_factory=class_row(PlantRecord))
        cursor.execute(_SELECT_BY_ID, {"id": plant_id})
        return cursor.fetchone()


def mark_message_sent(pool: ConnectionPool, plant_id: uuid.UUID) -> None:
    """Record that the plant's message reached the queue (the outbox step)."""
    with pool.connection() as conn:
        conn.execute(_MARK_MESSAGE_SENT, {"id": plant_id})
