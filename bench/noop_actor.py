"""A Dramatiq actor that does nothing, the baseline of the worker benchmark.

`dramatiq bench.noop_actor --processes 1 --threads 8` builds the same Redis
broker as the AI worker, from REDIS_URL and QUEUE_NAMESPACE.
"""

import os

import dramatiq

from shared.messaging import create_broker

QUEUE_NAME = "bench-noop"
ACTOR_NAME = "do_nothing"

broker = create_broker(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    namespace=os.environ.get("QUEUE_NAMESPACE", "dramatiq"),
)
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name=ACTOR_NAME, queue_name=QUEUE_NAME, max_retries=0)
def do_nothing(index: int) -> None:
    """Return at once."""
