"""The re-send loop: the relay of the outbox that the plants table serves as.

A plant is committed before its message goes to Redis, and no transaction
spans the two. This loop sends the messages of plants that were never sent,
that no worker claimed long after the send, or whose worker died holding them.
Duplicates are harmless: the worker's conditional claim lets one through.
"""

import threading

import dramatiq
import psycopg
import structlog
from psycopg_pool import ConnectionPool, PoolTimeout
from redis.exceptions import RedisError

from intake_service import plant_repository
from shared.messaging import send_plant_message

log = structlog.get_logger()


class ResendLoop:
    """Runs `resend_due_plants` every `interval_s` in a background thread."""

    def __init__(
        self,
        pool: ConnectionPool,
        broker: dramatiq.Broker,
        *,
        interval_s: float,
        lease_s: float,
        batch_size: int,
    ) -> None:
        self.pool = pool
        self.broker = broker
        self.interval_s = interval_s
        self.lease_s = lease_s
        self.batch_size = batch_size
        self._stop_requested = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="resend-loop", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    @property
    def is_running(self) -> bool:
        return self._thread.is_alive()

    def request_stop(self) -> None:
        """Let the current pass finish and start no other."""
        self._stop_requested.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Request a stop and wait up to `timeout_s` for the current pass."""
        self.request_stop()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def resend_due_plants(self) -> int:
        """Send the messages of one batch of due plants and return how many went out.

        Plants are locked with `FOR UPDATE SKIP LOCKED` and marked sent in the
        same transaction, so replicas running this at once never pick the same
        plant. A failed send ends the pass, and the remaining plants stay due.
        """
        sent: list[plant_repository.DuePlant] = []
        with self.pool.connection() as conn:
            due = plant_repository.lock_due_plants(
                conn,
                unsent_after_s=self.interval_s,
                lease_s=self.lease_s,
                batch_size=self.batch_size,
            )
            for plant in due:
                try:
                    message_id = send_plant_message(
                        self.broker, plant.plant_id, plant.image_path
                    )
                except (dramatiq.errors.BrokerError, RedisError, OSError) as exc:
                    log.warning(
                        "plant_resend_failed",
                        plant_id=str(plant.plant_id),
                        reason=plant.reason,
                        error_type=type(exc).__name__,
                        error=str(exc),
                    )
                    break
                sent.append(plant)
                log.info(
                    "plant_message_resent",
                    plant_id=str(plant.plant_id),
                    reason=plant.reason,
                    message_id=message_id,
                )
            plant_repository.mark_messages_sent(
                conn, [plant.plant_id for plant in sent]
            )
        return len(sent)

    def _run(self) -> None:
        log.info("resend_loop_started", interval_s=self.interval_s)
        while not self._stop_requested.wait(self.interval_s):
            try:
                # A full batch means more may be due: go again at once.
                while self.resend_due_plants() == self.batch_size:
                    if self._stop_requested.is_set():
                        break
            except (psycopg.Error, PoolTimeout) as exc:
                log.warning(
                    "resend_pass_failed", error_type=type(exc).__name__, error=str(exc)
                )
            except Exception:
                log.exception("resend_pass_crashed")
        log.info("resend_loop_stopped")
