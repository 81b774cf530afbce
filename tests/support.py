"""Helpers for tests that run the real services as processes."""

import contextlib
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from ai_worker.image_preparation import prepare_image

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "tests" / "data"
VENV_BIN = Path(sys.executable).parent


def wait_until(
    condition: Callable[[], object], *, timeout_s: float, interval_s: float = 0.05
) -> object:
    """Poll `condition` until it returns a true value; fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            msg = f"condition not met within {timeout_s} s"
            raise TimeoutError(msg)
        time.sleep(interval_s)


class ServiceProcess:
    """A service started as a child process, with its output in a log file."""

    def __init__(
        self, arguments: list[str], env: dict[str, str], log_path: Path
    ) -> None:
        self.log_path = log_path
        self._log_file = log_path.open("wb")
        self.process = subprocess.Popen(
            arguments,
            env={**os.environ, **env},
            cwd=REPO_ROOT,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_output(self, pattern: str, *, timeout_s: float = 30.0) -> None:
        regex = re.compile(pattern)

        def found() -> bool:
            if self.process.poll() is not None and not regex.search(self.output()):
                msg = (
                    f"process exited with {self.process.returncode} before "
                    f"printing {pattern!r}:\n{self.output()[-4000:]}"
                )
                raise RuntimeError(msg)
            return bool(regex.search(self.output()))

        wait_until(found, timeout_s=timeout_s)

    def signal(self, signum: int) -> None:
        """Send a signal to the process alone, as a container runtime does."""
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self, timeout_s: float = 30.0) -> int:
        """Send SIGTERM and wait; kill the whole process group after timeout_s.

        Dramatiq's master forwards SIGTERM to its worker processes and treats
        a second SIGTERM as "stop at once", so the group is not signalled.
        """
        try:
            self.signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
                return self.process.returncode
        finally:
            self._kill_leftovers()
            self._log_file.close()

    def kill(self) -> None:
        """SIGKILL the process and every child it started."""
        self._kill_leftovers()
        self.process.wait(timeout=10)
        self._log_file.close()

    def _kill_leftovers(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def make_png(index: int) -> bytes:
    """Encode a small PNG whose colour, and so whose bytes, depend on `index`."""
    color = (index * 37 % 256, index * 91 % 256, (200 + index * 13) % 256)
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), color).save(buffer, format="PNG")
    return buffer.getvalue()


def sent_image_sha256(image_bytes: bytes, max_side_px: int = 1024) -> str:
    """Return the SHA-256 of the JPEG the worker sends to the model for a photo."""
    prepared = prepare_image(image_bytes, max_side_px=max_side_px)
    return hashlib.sha256(prepared.jpeg_bytes).hexdigest()


def insert_plant(pool: ConnectionPool, image_path: str, **columns: Any) -> uuid.UUID:
    """Insert a PENDING plant the way the intake does; `columns` overrides values."""
    values = {
        "id": uuid.uuid4(),
        "owner_id": "owner-worker-tests",
        "original_image_path": image_path,
        "image_content_type": "image/png",
        **columns,
    }
    statement = sql.SQL("INSERT INTO plants ({}) VALUES ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(map(sql.Placeholder, values)),
    )
    with pool.connection() as conn:
        conn.execute(statement, values)
    return values["id"]


def read_plant(pool: ConnectionPool, plant_id: uuid.UUID) -> dict[str, Any]:
    """Return the plant's row as a dict."""
    with pool.connection() as conn:
        cursor = conn.cursor(row_factory=dict_row)
        row = cursor.execute(
            "SELECT * FROM plants WHERE id = %s", (plant_id,)
        ).fetchone()
    assert row is not None, f"plant {plant_id} not found"
    return row


def wait_for_final_row(
    pool: ConnectionPool, plant_id: uuid.UUID, timeout_s: float = 30
) -> dict[str, Any]:
    """Wait until the plant is COMPLETED or FAILED and return its row."""

    def final_row() -> dict[str, Any] | None:
        row = read_plant(pool, plant_id)
        final = row["ai_processing_status"] in ("COMPLETED", "FAILED")
        return row if final else None

    return wait_until(final_row, timeout_s=timeout_s)  # type: ignore[return-value]
