"""The message contract between the intake service and the AI worker.

The intake sends by queue and actor name without importing `ai_worker`, so the
two services deploy independently. Dramatiq validates neither name at send
time, which is why a contract test checks the worker declares both.
"""

import urllib.parse
import uuid

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

QUEUE_NAME = "plant-processing"
ACTOR_NAME = "identify_plant"

# Dramatiq's own default, kept: a worker that misses heartbeats this long is
# taken for dead, so a shorter value risks running a live worker's messages
# twice.
DEFAULT_HEARTBEAT_TIMEOUT_MS = 60_000
# Broker calls per million that run maintenance. Dramatiq's default is 1 000,
# and `CommonSettings.queue_maintenance_chance` explains why this is higher.
DEFAULT_MAINTENANCE_CHANCE = 10_000
MAINTENANCE_SCALE = 1_000_000


def create_broker(
    redis_url: str,
    *,
    namespace: str = "dramatiq",
    middleware: list[Middleware] | None = None,
    heartbeat_timeout_ms: int = DEFAULT_HEARTBEAT_TIMEOUT_MS,
    maintenance_chance: int = DEFAULT_MAINTENANCE_CHANCE,
) -> RedisBroker:
    """Create a Redis broker; `middleware` replaces Dramatiq's defaults when given.

    `heartbeat_timeout_ms` and `maintenance_chance` (per million broker calls)
    decide how soon a killed worker's unacknowledged messages are redelivered.
    """
    return RedisBroker(
        url=redis_url,
        namespace=namespace,
        middleware=middleware,
        heartbeat_timeout=heartbeat_timeout_ms,
        maintenance_chance=maintenance_chance,
    )


def with_socket_timeouts(redis_url: str, timeout_s: float) -> str:
    """Add socket timeouts to a Redis URL unless it sets its own.

    redis-py waits forever by default, so an unreachable Redis would hang
    the thread that sends or fetches a message.
    """
    return _with_query_defaults(
        redis_url,
        socket_timeout=str(timeout_s),
        socket_connect_timeout=str(timeout_s),
    )


def with_max_connections(redis_url: str, max_connections: int) -> str:
    """Cap the Redis connection pool at max_connections unless the URL sets a cap.

    redis-py 8 caps a pool created without a setting at 100 connections, and a
    worker with more threads than that can run out while acknowledging.
    """
    return _with_query_defaults(redis_url, max_connections=str(max_connections))


def _with_query_defaults(redis_url: str, **defaults: str) -> str:
    parts = urllib.parse.urlsplit(redis_url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    for name, value in defaults.items():
        query.setdefault(name, value)
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


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
