"""Creating and reading plants: the intake's service layer, free of gRPC."""

import uuid
from dataclasses import dataclass

import dramatiq
import psycopg
import structlog
from psycopg_pool import ConnectionPool, PoolTimeout
from redis.exceptions import RedisError

from intake_service import plant_repository
from intake_service.image_validation import validate_image
from shared.errors import (
    InvalidRequestError,
    PlantNotFoundError,
    StorageUnavailableError,
)
from shared.image_store import ImageStore
from shared.messaging import send_plant_message
from shared.plant import PlantRecord

log = structlog.get_logger()

MAX_TEXT_FIELD_CHARS = 200


@dataclass(frozen=True)
class NewPlant:
    owner_id: str
    nickname: str
    image_bytes: bytes
    content_type_hint: str
    idempotency_key: str


@dataclass
class PlantIntake:
    """Everything `create_plant` and `get_plant` need, built once at start-up."""

    pool: ConnectionPool
    broker: dramatiq.Broker
    image_store: ImageStore
    max_image_bytes: int
    max_image_pixels: int

    def create_plant(self, request: NewPlant) -> PlantRecord:
        """Validate, store the photo, commit a PENDING plant, then queue it.

        Raises `InvalidRequestError` before anything is written, and
        `StorageUnavailableError` when the database is down. A failed send to
        the queue is logged and left to the re-send loop: the plant is
        committed, so the call still succeeds.
        """
        _check_text_field("owner_id", request.owner_id, required=True)
        _check_text_field("nickname", request.nickname)
        _check_text_field("idempotency_key", request.idempotency_key)
        idempotency_key = request.idempotency_key or None

        if idempotency_key is not None:
            existing = self._run_sql(
                plant_repository.find_by_idempotency_key,
                request.owner_id,
                idempotency_key,
            )
            if existing is not None:
                log.info("plant_create_replayed", plant_id=str(existing.id))
                return existing

        image = validate_image(
            request.image_bytes,
            max_image_bytes=self.max_image_bytes,
            max_image_pixels=self.max_image_pixels,
        )
        try:
            image_path = self.image_store.save(
                request.image_bytes, image.image_format.extension
            )
        except OSError as exc:
            log.error("image_store_failed", error=str(exc))
            msg = "image store is unavailable, retry later"
            raise StorageUnavailableError(msg) from exc
        plant, created = self._run_sql(
            plant_repository.insert_plant,
            owner_id=request.owner_id,
            nickname=request.nickname,
            image_path=image_path,
            content_type=image.image_format.mime_type,
            idempotency_key=idempotency_key,
        )
        if not created:
            log.info("plant_create_replayed", plant_id=str(plant.id))
            return plant

        structlog.contextvars.bind_contextvars(plant_id=str(plant.id))
        log.info(
            "plant_created",
            image_path=image_path,
            content_type=image.image_format.mime_type,
            width=image.width,
            height=image.height,
            image_bytes=len(request.image_bytes),
        )
        self._send(plant.id, image_path)
        return plant

    def get_plant(self, plant_id_text: str) -> PlantRecord:
        """Return the plant; raise `InvalidRequestError` or `PlantNotFoundError`."""
        try:
            plant_id = uuid.UUID(plant_id_text)
        except ValueError:
            msg = f"invalid plant id {plant_id_text[:64]!r}: expected a UUID"
            raise InvalidRequestError(msg) from None
        plant = self._run_sql(plant_repository.get_plant, plant_id)
        if plant is None:
            msg = f"plant {plant_id} not found"
            raise PlantNotFoundError(msg)
        return plant

    def _send(self, plant_id: uuid.UUID, image_path: str) -> None:
        try:
            message_id = send_plant_message(self.broker, plant_id, image_path)
        except (dramatiq.errors.BrokerError, RedisError, OSError) as exc:
            log.warning(
                "plant_message_send_failed",
                error_type=type(exc).__name__,
                error=str(exc),
            )
            return
        try:
            plant_repository.mark_message_sent(self.pool, plant_id)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            # The message is out; at worst the re-send loop sends a duplicate,
            # which the worker's claim turns away.
            log.warning("plant_message_mark_failed", error=str(exc))
        log.info("plant_queued", message_id=message_id)

    def _run_sql(self, function, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return function(self.pool, *args, **kwargs)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            msg = "database is unavailable, retry later"
            raise StorageUnavailableError(msg) from exc


def _check_text_field(name: str, value: str, *, required: bool = False) -> None:
    if required and not value.strip():
        msg = f"{name} is required"
        raise InvalidRequestError(msg)
    if len(value) > MAX_TEXT_FIELD_CHARS:
        msg = f"{name} is {len(value)} characters, limit is {MAX_TEXT_FIELD_CHARS}"
        raise InvalidRequestError(msg)
