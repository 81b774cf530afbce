"""The message contract between the intake service and the AI worker.

The intake sends by queue and actor name without importing `ai_worker`, so the
two services deploy independently. Dramatiq validates neither name at send
time, which is why a contract test checks the worker declares both.
"""

import uuid

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

QUEUE_NAME = "plant-processing"
ACTOR_NAME = "identify_plant"


def create_broker(
    redis_url: str,
    *,
    namespace: str = "dramatiq",
    middleware: list[Middleware] | None = None,
) -> RedisBroker:
    """Create a Redis broker; `middleware` replaces Dramatiq's defaults when given."""
    return RedisBroker(url=redis_url, namespace=namespace, middleware=middleware)


def build_plant_message(plant_id: uuid.UUID, image_path: str) -> dramatiq.Message:
    """Build the message asking the worker to identify one plant."""
    return dramatiq.Message(
        queue_name=QUEUE_NAME,
        actor_name=ACTOR_NAME,
        args=(),
        kwargs={"plant_id": str(plant_id), "image_path": image_path},
        options={},
    )


def send_plant_message(
    broker: dramatiq.Broker, plant_id: uuid.UUID, image_path: str
) -> str:
    """Send the identification message for a plant; return its message id.

    Raises `dramatiq.errors.BrokerConnectionError` (or a redis error) when the
    broker is unreachable; the caller decides whether the plant is re-sent.
    """
    message = broker.enqueue(build_plant_message(plant_id, image_path))
    return message.message_id
