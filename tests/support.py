"""Helpers for tests that run the real services as processes."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

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
        """Send a signal to the process and all its children."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signum)

    def stop(self, timeout_s: float = 30.0) -> int:
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.process.wait(timeout=10)
        finally:
            self._log_file.close()

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log_file.close()


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
