"""Dramatiq actors of the AI worker; `dramatiq ai_worker.actors` loads this module.

Importing it reads the settings and builds the broker (each worker process
imports it once); connections are opened later by `WorkerResources`.
"""

import sys
import uuid
from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import CurrentMessage

from ai_worker.processing import Redelivery
from ai_worker.resources import WorkerResources
from ai_worker.settings import WorkerSettings
from shared.logging import configure_logging
from shared.messaging import (
    ACTOR_NAME,
    QUEUE_NAME,
    build_plant_message,
    create_broker,
    with_max_connections,
    with_socket_timeouts,
)
from shared.settings import SettingsError, load_settings

log = structlog.get_logger()

RETRIES_EXHAUSTED_ACTOR_NAME = "fail_plant_after_retries"

try:
    settings = load_settings(WorkerSettings)
except SettingsError as exc:
    print(f"ai_worker: {exc}", file=sys.stderr, flush=True)
    sys.exit(2)

configure_logging("ai_worker", settings.log_level)
resources = WorkerResources(settings)
broker = create_broker(
    with_max_connections(
        with_socket_timeouts(settings.broker_url, settings.redis_timeout_s),
        settings.redis_max_connections,
    ),
    namespace=settings.queue_namespace,
    heartbeat_timeout_ms=settings.queue_heartbeat_timeout_ms,
    maintenance_chance=settings.queue_maintenance_chance,
)
broker.add_middleware(CurrentMessage())
broker.add_middleware(resources)
dramatiq.set_broker(broker)


@dramatiq.actor(
    actor_name=ACTOR_NAME,
    queue_name=QUEUE_NAME,
    # The attempts column on the row is the real cap. These few extra
    # deliveries cover failures outside a model call, such as the database
    # being down during the claim.
    max_retries=settings.worker_max_attempts + 2,
    min_backoff=max(settings.worker_min_backoff_ms, 1),
    max_backoff=max(settings.worker_max_backoff_ms, 1),
    # A backstop only: the model call has its own, shorter client timeout,
    # because this limit cannot interrupt a thread blocked in I/O.
    time_limit=settings.actor_time_limit_ms,
    on_retry_exhausted=RETRIES_EXHAUSTED_ACTOR_NAME,
)
def identify_plant(plant_id: str, image_path: str) -> None:
    """Identify one plant; raises `dramatiq.Retry` to try again after a delay."""
    _bind_message_context(plant_id, image_path)
    try:
        plant_uuid = uuid.UUID(plant_id)
    except ValueError:
        # Retrying cannot fix the message, so it is acknowledged and dropped.
        log.error("plant_message_invalid", error="plant_id is not a UUID")
        return
    outcome = resources.processor.process(plant_uuid)
    if isinstance(outcome, Redelivery):
        # A new message, so that waiting for another worker's claim or for a
        # backoff does not use up this message's retries.
        broker.enqueue(
            build_plant_message(plant_uuid, image_path),
            delay=outcome.delay_ms,
        )
    elif outcome is not None:
        raise dramatiq.Retry(delay=outcome)


@dramatiq.actor(
    actor_name=RETRIES_EXHAUSTED_ACTOR_NAME, queue_name=QUEUE_NAME, max_retries=3
)
def fail_plant_after_retries(
    message_data: dict[str, Any], retry_info: dict[str, Any]
) -> None:
    """Mark a plant FAILED when Dramatiq gave up on its message."""
    plant_id = message_data.get("kwargs", {}).get("plant_id")
    if plant_id is None:
        log.error(
            "retries_exhausted_without_plant", message_id=message_data.get("message_id")
        )
        return
    _bind_message_context(plant_id, message_data["kwargs"].get("image_path", ""))
    try:
        plant_uuid = uuid.UUID(plant_id)
    except ValueError:
        log.error("plant_message_invalid", error="plant_id is not a UUID")
        return
    resources.processor.fail_exhausted(
        plant_uuid,
        f"message retried {retry_info.get('retries')} times without success",
    )


def _bind_message_context(plant_id: str, image_path: str) -> None:
    message = CurrentMessage.get_current_message()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        plant_id=plant_id,
        image_path=image_path,
        message_id=message.message_id if message is not None else None,
    )
