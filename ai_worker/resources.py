"""Per-process resources of a worker: database pool, Gemini client, processor.

Dramatiq forks worker processes, and neither a libpq connection nor an HTTP
client may cross a fork. So nothing is opened at import time: this middleware
opens everything in each process just before its worker threads start, and
closes it after they stop.
"""

import os
from pathlib import Path

import dramatiq
import structlog
from dramatiq.middleware import Middleware

from ai_worker.gemini import GeminiIdentifier
from ai_worker.processing import PlantProcessor, RetryPolicy
from ai_worker.settings import WorkerSettings
from shared.db import create_pool
from shared.image_store import ImageStore

log = structlog.get_logger()


class WorkerResources(Middleware):
    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self._processor: PlantProcessor | None = None
        self._identifier: GeminiIdentifier | None = None

    @property
    def processor(self) -> PlantProcessor:
        if self._processor is None:
            msg = "worker resources are not open: the worker has not booted"
            raise RuntimeError(msg)
        return self._processor

    def before_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.Message
    ) -> None:
        # Bound here rather than in the actor, so that a message whose
        # arguments are rejected is not logged with the previous message's
        # plant id.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            message_id=message.message_id,
            plant_id=message.kwargs.get("plant_id"),
        )

    def before_worker_boot(
        self, broker: dramatiq.Broker, worker: dramatiq.Worker
    ) -> None:
        settings = self.settings
        threads = worker.worker_threads
        # Consumers and worker threads are created after this hook, and both
        # read the interval from here.
        worker.worker_timeout = settings.worker_poll_interval_ms
        pool = create_pool(
            settings.database_url.get_secret_value(),
            name="ai_worker",
            max_size=settings.db_pool_max_size or min(threads + 1, 20),
        )
        pool.open(wait=False)
        self._identifier = GeminiIdentifier(settings, max_connections=threads)
        self._processor = PlantProcessor(
            pool=pool,
            image_store=ImageStore(Path(settings.image_store_dir)),
            identifier=self._identifier,
            retry_policy=RetryPolicy(
                max_attempts=settings.worker_max_attempts,
                min_backoff_ms=settings.worker_min_backoff_ms,
                max_backoff_ms=settings.worker_max_backoff_ms,
            ),
            lease_s=settings.processing_lease_s,
            image_max_side_px=settings.image_max_side_px,
        )

    def after_worker_boot(
        self, broker: dramatiq.Broker, worker: dramatiq.Worker
    ) -> None:
        log.info(
            "Worker started...",
            pid=os.getpid(),
            threads=worker.worker_threads,
            queues=sorted(worker.consumer_whitelist or broker.get_declared_queues()),
            model=self.settings.gemini_model,
            model_endpoint=self.settings.gemini_base_url or "Gemini API",
            poll_interval_ms=worker.worker_timeout,
            db_pool_max_size=self.processor.pool.max_size,
        )

    def after_worker_shutdown(
        self, broker: dramatiq.Broker, worker: dramatiq.Worker
    ) -> None:
        if self._processor is not None:
            self._processor.pool.close()
        if self._identifier is not None:
            self._identifier.close()
        log.info("worker_stopped", pid=os.getpid())
