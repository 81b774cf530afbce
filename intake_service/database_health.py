"""Health status that follows whether PostgreSQL is reachable."""

import threading
from collections.abc import Callable

import psycopg
import structlog

log = structlog.get_logger()


class DatabaseHealthMonitor:
    """Probes PostgreSQL every `interval_s` and reports each change.

    The probe uses its own connection, not the request pool, so a pool that
    is merely busy never reads as a database that is down.
    """

    def __init__(
        self,
        database_url: str,
        on_change: Callable[[bool], None],
        *,
        interval_s: float,
    ) -> None:
        self.database_url = database_url
        self.on_change = on_change
        self.interval_s = interval_s
        self.is_up: bool | None = None
        self._conn: psycopg.Connection | None = None
        self._stop_requested = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="database-health", daemon=True
        )

    def start(self) -> None:
        """Probe once, report the result, then keep probing in the background."""
        self.check()
        self._thread.start()

    def request_stop(self) -> None:
        self._stop_requested.set()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Request a stop and wait up to `timeout_s` for a probe in progress.

        A probe stuck on an unresponsive server keeps its daemon thread and
        connection until its own timeout. The process may exit meanwhile.
        """
        self.request_stop()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self._close()

    def check(self) -> bool:
        """Run one probe and call `on_change` when the result differs from the last."""
        is_up = self._probe()
        if is_up != self.is_up:
            self.is_up = is_up
            if is_up:
                log.info("database_status_changed", status="reachable")
            else:
                log.error("database_status_changed", status="unreachable")
            self.on_change(is_up)
        return is_up

    def _probe(self) -> bool:
        # The timeout keeps a probe shorter than a few intervals even when
        # packets are dropped instead of refused.
        timeout_s = max(1, round(self.interval_s * 2))
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(
                    self.database_url,
                    autocommit=True,
                    connect_timeout=timeout_s,
                    tcp_user_timeout=timeout_s * 1000,
                    application_name="intake-health",
                )
            self._conn.execute("SELECT 1")
        except psycopg.Error as exc:
            log.debug("database_probe_failed", error=str(exc))
            self._close()
            return False
        return True

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self) -> None:
        while not self._stop_requested.wait(self.interval_s):
            try:
                self.check()
            except Exception:
                log.exception("database_probe_crashed")
