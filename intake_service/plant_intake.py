"""Creating and reading plants: the intake's service layer, free of gRPC."""

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import dramatiq
import psycopg
import structlog
from psycopg_pool import ConnectionPool, PoolTimeout
from redis.exceptions import RedisError

from intake_service import plant_repository
from intake_service.image_validation import validate_image
from shared.errors import (
    DeadlineExceededError,
    IdempotencyKeyReusedError,
    InvalidRequestError,
    PlantNotFoundError,
    StorageUnavailableError,
)
from shared.image_store import ImageStore, digest_of_key
from shared.messaging import send_plant_message
from shared.plant import PlantRecord

log = structlog.get_logger()

MAX_TEXT_FIELD_CHARS = 200

ResultT = TypeVar("ResultT")


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
    # Maximum wait for a pooled connection when the caller has no deadline.
    pool_timeout_s: float

    def create_plant(
        self, request: NewPlant, *, deadline: float | None = None
    ) -> PlantRecord:
        """Validate, commit a PENDING plant, store the photo, then queue it.

        `deadline` is a `time.monotonic()` instant: once it has passed before
        the insert, no file or row is written and `DeadlineExceededError` is
        raised. Raises `InvalidRequestError` before anything is written,
        `IdempotencyKeyReusedError` when the key already created a plant from
        another photo or nickname, and `StorageUnavailableError` when the
        database or the image store is down. A failed send to the queue is
        logged and left to the re-send loop: the plant is committed, so the
        call still succeeds.
        """
        _check_text_field("owner_id", request.owner_id, required=True)
        _check_text_field("nickname", request.nickname)
        _check_text_field("idempotency_key", request.idempotency_key)
        idempotency_key = request.idempotency_key or None
        _check_deadline(deadline)

        if idempotency_key is not None:
            existing = self._run_sql(
                plant_repository.find_by_idempotency_key,
                request.owner_id,
                idempotency_key,
                deadline=deadline,
            )
            if existing is not None:
                digest = hashlib.sha256(request.image_bytes).hexdigest()
                return _replay(existing, request, digest)

        image = validate_image(
            request.image_bytes,
            max_image_bytes=self.max_image_bytes,
            max_image_pixels=self.max_image_pixels,
        )
        # The key depends only on the bytes, so the row can name the file
        # before it exists. Only the call whose insert created the row writes
        # the file, so a failed insert or a lost idempotency race leaves none.
        image_path = ImageStore.key_for(
            request.image_bytes, image.image_format.extension
        )
        plant, created = self._run_sql(
            plant_repository.insert_plant,
            owner_id=request.owner_id,
            nickname=request.nickname,
            image_path=image_path,
            content_type=image.image_format.mime_type,
            idempotency_key=idempotency_key,
            deadline=deadline,
        )
        if not created:
            return _replay(plant, request, digest_of_key(image_path))

        structlog.contextvars.bind_contextvars(plant_id=str(plant.id))
        self._write_image(plant.id, image_path, request.image_bytes)
        # Sent only after the write, so a worker never gets a plant whose
        # file does not exist yet.
        message_id = self._send(plant.id, image_path)
        log.info(
            "plant_created",
            image_path=image_path,
            content_type=image.image_format.mime_type,
            width=image.width,
            height=image.height,
            image_bytes=len(request.image_bytes),
            message_id=message_id,
        )
        return plant

    def get_plant(
        self, plant_id_text: str, *, deadline: float | None = None
    ) -> PlantRecord:
        """Return the plant; raise `InvalidRequestError` or `PlantNotFoundError`."""
        try:
            plant_id = uuid.UUID(plant_id_text)
        except ValueError:
            msg = f"invalid plant id {plant_id_text[:64]!r}: expected a UUID"
            raise InvalidRequestError(msg) from None
        plant = self._run_sql(plant_repository.get_plant, plant_id, deadline=deadline)
        if plant is None:
            msg = f"plant {plant_id} not found"
            raise PlantNotFoundError(msg)
        return plant

    def _write_image(
        self, plant_id: uuid.UUID, image_path: str, image_bytes: bytes
    ) -> None:
        """Store the photo of a just-committed plant, or delete the plant again.

        Raises `StorageUnavailableError` when the write fails. NOTE: a
        concurrent call with the same idempotency key may already have
        returned the deleted plant's id, which then gets NOT_FOUND.
        """
        try:
            self.image_store.write(image_path, image_bytes)
        except OSError as exc:
            log.error("image_store_failed", image_path=image_path, error=str(exc))
            write_error = exc
        else:
            return
        try:
            plant_repository.delete_pending_plant(self.pool, plant_id)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            # NOTE: the plant stays PENDING without its file. The re-send loop
            # sends it a lease later, and the worker fails it as IMAGE_MISSING.
            log.error(
                "plant_delete_failed", reason="image_store_failed", error=str(exc)
            )
        msg = "image store is unavailable, retry later"
        raise StorageUnavailableError(msg) from write_error

    def _send(self, plant_id: uuid.UUID, image_path: str) -> str | None:
        """Send the plant's message; return its id, or None when the send failed.

        A failed send is logged and the plant marked unsent, so the re-send
        loop sends it at its next pass.
        """
        try:
            return send_plant_message(self.broker, plant_id, image_path)
        except (dramatiq.errors.BrokerError, RedisError, OSError) as exc:
            log.warning(
                "plant_message_send_failed",
                error_type=type(exc).__name__,
                error=str(exc),
            )
        try:
            plant_repository.mark_message_unsent(self.pool, plant_id)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            # The row still claims a send, so the re-send loop finds the plant
            # only once it has been unclaimed for a lease.
            log.warning("plant_message_unsent_mark_failed", error=str(exc))
        return None

    def _run_sql(
        self,
        function: Callable[..., ResultT],
        *args: object,
        deadline: float | None = None,
        **kwargs: object,
    ) -> ResultT:
        timeout_s = self.pool_timeout_s
        if deadline is not None:
            timeout_s = min(timeout_s, deadline - time.monotonic())
        _check_deadline(deadline)
        try:
            return function(self.pool, *args, timeout_s=timeout_s, **kwargs)
        except PoolTimeout as exc:
            if deadline is not None and time.monotonic() >= deadline:
                msg = "deadline exceeded while waiting for a database connection"
                raise DeadlineExceededError(msg) from exc
            msg = "database is unavailable, retry later"
            raise StorageUnavailableError(msg) from exc
        except psycopg.OperationalError as exc:
            msg = "database is unavailable, retry later"
            raise StorageUnavailableError(msg) from exc


def _replay(plant: PlantRecord, request: NewPlant, image_digest: str) -> PlantRecord:
    """Return the plant an earlier call with the same key created.

    `image_digest` is the SHA-256 hex digest of the request's photo. Raises
    `IdempotencyKeyReusedError` when the request differs from the one that
    created it, because returning that plant would hide the new photo.
    """
    if image_digest != digest_of_key(plant.original_image_path):
        msg = (
            f"idempotency key {request.idempotency_key!r} already created plant "
            f"{plant.id} from a different image: use a new key for a new plant"
        )
        raise IdempotencyKeyReusedError(msg)
    if plant.nickname != request.nickname:
        msg = (
            f"idempotency key {request.idempotency_key!r} already created plant "
            f"{plant.id} with nickname {plant.nickname!r}, not "
            f"{request.nickname!r}: use a new key for a new plant"
        )
        raise IdempotencyKeyReusedError(msg)
    log.info("plant_create_replayed", plant_id=str(plant.id))
    return plant


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        msg = "deadline exceeded: the call stopped before writing anything"
        raise DeadlineExceededError(msg)


def _check_text_field(name: str, value: str, *, required: bool = False) -> None:
    if required and not value.strip():
        msg = f"{name} is required"
        raise InvalidRequestError(msg)
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL characters.
        msg = f"{name} contains a NUL character"
        raise InvalidRequestError(msg)
    if len(value) > MAX_TEXT_FIELD_CHARS:
        msg = f"{name} is {len(value)} characters, limit is {MAX_TEXT_FIELD_CHARS}"
        raise InvalidRequestError(msg)
