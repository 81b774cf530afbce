"""Processes and data of one benchmark run: database, queue, emulator, services.

Everything listens on loopback ports picked at run time. The run creates its
own database (`plants_bench_<run id>`), Redis key namespace and image directory
under `.bench/`, so two runs on one machine do not disturb each other, and
removes all three when it stops.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import redis
from psycopg import sql

from gemini_emulator.control import EmulatorControl
from shared.image_store import ImageStore
from shared.messaging import QUEUE_NAME
from shared.migrate import migrate

REPO_ROOT = Path(__file__).resolve().parent.parent
# Logs and photos of a run; BENCH_RUN_DIR moves them, for example for tests.
RUN_DIR = Path(os.environ.get("BENCH_RUN_DIR", REPO_ROOT / ".bench"))
BIN = Path(sys.executable).parent
# The server on which each run creates, then drops, its own database.
DEFAULT_ADMIN_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
EMULATOR_API_KEY = "bench-key"


class Child:
    """A started process whose output goes to a log file under .bench/."""

    def __init__(self, name: str, arguments: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log_path = RUN_DIR / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            arguments,
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.psutil_process = psutil.Process(self.process.pid)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, pattern: str, timeout_s: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output())
            if match:
                return match
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        msg = f"{self.name} did not print {pattern!r}; see {self.log_path}"
        raise RuntimeError(msg)

    def cpu_s(self) -> float:
        """Return user + system CPU seconds of the process and its children."""
        total = 0.0
        for process in [self.psutil_process, *self._children()]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def rss_bytes(self) -> int:
        """Return the largest resident set size among the process and its children."""
        sizes = [0]
        for process in [self.psutil_process, *self._children()]:
            try:
                sizes.append(process.memory_info().rss)
            except psutil.NoSuchProcess:
                continue
        return max(sizes)

    def _children(self) -> list[psutil.Process]:
        try:
            return self.psutil_process.children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # A worker process can outlive its `dramatiq` main process by a moment
        # and write a heartbeat after the run deleted its Redis keys.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()


class _Termination:
    """Whether a stop signal must wait, and the signal that is waiting."""

    deferring = False
    pending: int | None = None


def stop_on_signal(signum: int, _frame: object) -> None:
    """Signal handler that ends the run, so that `Stack.__exit__` cleans up.

    Inside `signals_deferred` the signal is only recorded; the section's end
    acts on it.
    """
    if _Termination.deferring:
        _Termination.pending = signum
        return
    _raise_for(signum)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGTERM and SIGINT until a child is started and registered.

    A signal between `Popen` returning and the child being recorded would
    otherwise leave a process that the cleanup does not know about.
    """
    _Termination.deferring = True
    try:
        yield
    finally:
        _Termination.deferring = False
        pending, _Termination.pending = _Termination.pending, None
        if pending is not None:
            _raise_for(pending)


def _raise_for(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def create_database(admin_url: str, name: str) -> str:
    """Create database `name` on the server of admin_url and return its URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return psycopg.conninfo.make_conninfo(admin_url, dbname=name)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )


class Stack:
    """The shared pieces of one benchmark run, and factories for its services."""

    def __init__(self) -> None:
        self.admin_database_url = os.environ.get(
            "BENCH_DATABASE_ADMIN_URL", DEFAULT_ADMIN_DATABASE_URL
        )
        self.redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
        run_id = uuid.uuid4().hex[:8]
        self.database_name = f"plants_bench_{run_id}"
        self.database_url = ""
        self.namespace = f"plants-bench-{run_id}"
        self.image_store_dir = RUN_DIR / f"images-{run_id}"
        self.image_store = ImageStore(self.image_store_dir)
        self.redis = redis.Redis.from_url(self.redis_url)
        self.db: psycopg.Connection | None = None
        self._children: list[Child] = []
        self.emulator: Child | None = None
        self.emulator_url = ""

    def __enter__(self) -> "Stack":
        try:
            self.image_store_dir.mkdir(parents=True, exist_ok=True)
            self.database_url = create_database(
                self.admin_database_url, self.database_name
            )
            migrate(self.database_url)
            self.db = psycopg.connect(self.database_url, autocommit=True)
            self._start_emulator()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start_emulator(self) -> None:
        self.emulator = self.start(
            "emulator",
            [
                str(BIN / "python"),
                "-m",
                "gemini_emulator",
                "--port",
                "0",
                "--log-level",
                "WARNING",
            ],
        )
        match = self.emulator.wait_for_output(r"(?m)^listening on (http://[^\s;]+)$")
        self.emulator_url = match.group(1)
        self.emulator_control = EmulatorControl(self.emulator_url)

    def __exit__(self, *exc_info: object) -> None:
        # Each step runs even when an earlier one fails, so that a broken
        # Redis or database does not leave processes or files behind.
        for child in reversed(self._children):
            child.stop()
        shutil.rmtree(self.image_store_dir, ignore_errors=True)
        if self.db is not None:
            self.db.close()
        try:
            self._delete_redis_keys()
        except redis.RedisError as exc:
            print(f"bench: could not delete Redis keys: {exc}", file=sys.stderr)
        finally:
            self.redis.close()
        try:
            drop_database(self.admin_database_url, self.database_name)
        except psycopg.Error as exc:
            print(
                f"bench: could not drop database {self.database_name}: {exc}",
                file=sys.stderr,
            )

    def env(self, **overrides: str) -> dict[str, str]:
        """Return the environment of a service started by this run."""
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "QUEUE_NAMESPACE": self.namespace,
            "IMAGE_STORE_DIR": str(self.image_store_dir),
            "GEMINI_API_KEY": EMULATOR_API_KEY,
            "GEMINI_BASE_URL": self.emulator_url,
            "GEMINI_TIMEOUT_S": "30",
            "LOG_LEVEL": "WARNING",
            **overrides,
        }

    def start(
        self, name: str, arguments: list[str], log_level: str = "INFO", **env: str
    ) -> Child:
        """Start a child; services log at INFO, their production default."""
        with signals_deferred():
            child = Child(name, arguments, self.env(LOG_LEVEL=log_level, **env))
            self._children.append(child)
        return child

    def stop(self, child: Child) -> None:
        child.stop()
        self._children.remove(child)

    def start_worker(self, name: str, threads: int, **env: str) -> Child:
        """Start `dramatiq ai_worker.actors` with one process and wait until ready."""
        worker = self.start(
            name,
            [
                str(BIN / "dramatiq"),
                "ai_worker.actors",
                "--processes",
                "1",
                "--threads",
                str(threads),
            ],
            **env,
        )
        worker.wait_for_output(r"Worker started\.\.\.")
        return worker

    def start_intake(self, name: str = "intake") -> tuple[Child, int]:
        port = free_port()
        intake = self.start(
            name,
            [str(BIN / "python"), "-m", "intake_service"],
            INTAKE_GRPC_HOST="127.0.0.1",
            INTAKE_GRPC_PORT=str(port),
            SHUTDOWN_GRACE_S="1",
        )
        intake.wait_for_output(r"intake_started")
        return intake, port

    def queue_length(self, queue_name: str = QUEUE_NAME) -> int:
        """Return the messages of a queue not yet acknowledged (queued or running)."""
        return int(self.redis.hlen(f"{self.namespace}:{queue_name}.msgs"))

    def reset_data(self) -> None:
        """Delete this run's plants, photos and Redis keys between benchmarks.

        The database is this run's own, so emptying its table touches no one
        else's data.
        """
        self.connection().execute("TRUNCATE plants")
        for path in self.image_store_dir.glob("*/*"):
            path.unlink()
        self._delete_redis_keys()

    def _delete_redis_keys(self) -> None:
        keys = list(self.redis.scan_iter(f"{self.namespace}:*", count=1000))
        for start in range(0, len(keys), 1000):
            self.redis.delete(*keys[start : start + 1000])

    def connection(self) -> psycopg.Connection:
        if self.db is None:
            msg = "the benchmark stack is not started"
            raise RuntimeError(msg)
        return self.db

    def status_counts(self) -> dict[str, int]:
        rows = (
            self.connection()
            .execute("SELECT ai_processing_status, count(*) FROM plants GROUP BY 1")
            .fetchall()
        )
        return {status: count for status, count in rows}
