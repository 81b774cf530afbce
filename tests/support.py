"""Helpers for tests that run the real services as processes."""

import contextlib
import datetime
import hashlib
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
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


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """A throw-away `redis-server` on a loopback port, for outage tests."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._log_path = log_path
        self._server: ServiceProcess | None = None

    def start(self) -> None:
        self._server = ServiceProcess(
            [
                "redis-server",
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
            ],
            {},
            self._log_path,
        )  # fmt: skip
        self._server.wait_for_output(r"Ready to accept connections")

    def stop(self) -> None:
        if self._server is not None and self._server.process.poll() is None:
            self._server.stop(timeout_s=10)
        self._server = None


class TcpProxy:
    """Forwards a loopback port to a target address, and can pause or cut traffic.

    `pause` delays every byte until `resume`, like a stalled network. `cut`
    closes every connection and refuses new ones until `restore`.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._is_cut = False
        self._flowing = threading.Event()
        self._flowing.set()
        self.held_bytes = 0
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def pause(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def cut(self) -> None:
        with self._lock:
            self._is_cut = True
            sockets = list(self._sockets)
        for sock in sockets:
            _close_quietly(sock)

    def restore(self) -> None:
        with self._lock:
            self._is_cut = False

    def close(self) -> None:
        self._closed = True
        self.resume()
        self.cut()
        _close_quietly(self._listener)

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                is_cut = self._is_cut
            if is_cut:
                _close_quietly(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                _close_quietly(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink), daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                if not self._flowing.is_set():
                    self.held_bytes += len(chunk)
                    self._flowing.wait()
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            _close_quietly(source)
            _close_quietly(sink)
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def make_self_signed_certificate(
    directory: Path, prefix: str = "server"
) -> tuple[Path, Path]:
    """Write a certificate for `localhost` and its PEM key into `directory`.

    Returns the paths `<prefix>-cert.pem` and `<prefix>-key.pem`.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / f"{prefix}-cert.pem"
    key_path = directory / f"{prefix}-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
