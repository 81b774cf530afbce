"""Fixtures that give each test run real PostgreSQL, Redis, gRPC and workers.

The test run gets its own database, created from TEST_DATABASE_ADMIN_URL and
dropped at the end, and each test its own Redis key namespace, so runs and
tests do not see each other's plants or messages.
"""

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import dramatiq
import grpc
import psycopg
import pytest
import redis
from psycopg import sql
from psycopg_pool import ConnectionPool

from gemini_emulator import EmulatorHandle, start_emulator
from intake_service.server import IntakeServer, build_server
from intake_service.settings import IntakeSettings
from protos.plants.v1 import plants_pb2_grpc
from shared.image_store import ImageStore
from shared.messaging import create_broker
from shared.migrate import migrate
from tests.support import VENV_BIN, ServiceProcess, TcpProxy

ADMIN_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
EMULATOR_API_KEY = "test-api-key"


@contextlib.contextmanager
def temporary_database(prefix: str) -> Iterator[str]:
    """Create an empty database on the test server; drop it on exit; yield its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield psycopg.conninfo.make_conninfo(ADMIN_DATABASE_URL, dbname=name)
    finally:
        with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with temporary_database("plants_test") as url:
        migrate(url)
        yield url


@pytest.fixture
def database_proxy(database_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy in front of the test database, and a URL that goes through it."""
    params = psycopg.conninfo.conninfo_to_dict(database_url)
    proxy = TcpProxy(
        str(params.get("host", "127.0.0.1")), int(params.get("port", 5432))
    )
    yield (
        proxy,
        psycopg.conninfo.make_conninfo(database_url, host="127.0.0.1", port=proxy.port),
    )
    proxy.close()


@pytest.fixture(scope="session")
def db_pool(database_url: str) -> Iterator[ConnectionPool]:
    pool = ConnectionPool(database_url, min_size=1, max_size=4, open=True)
    yield pool
    pool.close()


@pytest.fixture
def queue_namespace() -> Iterator[str]:
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    yield namespace
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{namespace}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def image_store_dir(tmp_path: Path) -> Path:
    path = tmp_path / "images"
    path.mkdir()
    return path


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    handle = start_emulator(api_key=EMULATOR_API_KEY)
    yield handle
    handle.stop()


@pytest.fixture
def service_env(
    database_url: str, queue_namespace: str, image_store_dir: Path
) -> dict[str, str]:
    """Environment shared by the intake and the worker of one test."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "QUEUE_NAMESPACE": queue_namespace,
        "IMAGE_STORE_DIR": str(image_store_dir),
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture
def worker_env(service_env: dict[str, str], emulator: EmulatorHandle) -> dict[str, str]:
    return {
        **service_env,
        "GEMINI_API_KEY": EMULATOR_API_KEY,
        "GEMINI_BASE_URL": emulator.base_url,
        "GEMINI_TIMEOUT_S": "10",
        "WORKER_MIN_BACKOFF_MS": "50",
        "WORKER_MAX_BACKOFF_MS": "400",
    }


WorkerFactory = Callable[..., ServiceProcess]


@pytest.fixture
def start_worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[WorkerFactory]:
    """Return a function that starts `dramatiq ai_worker.actors` and waits for it."""
    started: list[ServiceProcess] = []

    def start(threads: int = 2, **env_overrides: str) -> ServiceProcess:
        log_path = tmp_path / f"worker-{len(started)}.log"
        worker = ServiceProcess(
            [
                str(VENV_BIN / "dramatiq"),
                "ai_worker.actors",
                "--processes",
                "1",
                "--threads",
                str(threads),
            ],
            {**worker_env, **env_overrides},
            log_path,
        )
        started.append(worker)
        worker.wait_for_output(r"Worker started\.\.\.")
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def intake_settings(service_env: dict[str, str]) -> IntakeSettings:
    return IntakeSettings(
        **{key.lower(): value for key, value in service_env.items()},
        intake_grpc_host="127.0.0.1",
        intake_grpc_port=0,
        shutdown_grace_s=1,
    )


@pytest.fixture
def intake_server(intake_settings: IntakeSettings) -> Iterator[IntakeServer]:
    server = build_server(intake_settings)
    yield server
    server.stop(grace_s=1)


@pytest.fixture
def grpc_channel(intake_server: IntakeServer) -> Iterator[grpc.Channel]:
    channel = grpc.insecure_channel(
        f"127.0.0.1:{intake_server.port}",
        options=[("grpc.max_send_message_length", 64 * 1024 * 1024)],
    )
    yield channel
    channel.close()


@pytest.fixture
def grpc_stub(grpc_channel: grpc.Channel) -> plants_pb2_grpc.PlantServiceStub:
    return plants_pb2_grpc.PlantServiceStub(grpc_channel)


@pytest.fixture
def image_store(image_store_dir: Path) -> ImageStore:
    """The image store that the test's worker reads."""
    return ImageStore(image_store_dir)


@pytest.fixture
def plant_broker(queue_namespace: str) -> Iterator[dramatiq.Broker]:
    """A broker on the test's queue namespace, for sending worker messages."""
    broker = create_broker(REDIS_URL, namespace=queue_namespace)
    yield broker
    broker.close()


IntakeFactory = Callable[..., IntakeServer]


@pytest.fixture
def start_intake(intake_settings: IntakeSettings) -> Iterator[IntakeFactory]:
    """Return a function that starts an in-process intake with setting overrides."""
    started: list[IntakeServer] = []

    def start(**overrides: object) -> IntakeServer:
        settings = intake_settings.model_copy(update=overrides)
        server = build_server(IntakeSettings.model_validate(settings.model_dump()))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(grace_s=1)


def plant_stub(
    server: IntakeServer, channel_credentials: grpc.ChannelCredentials | None = None
) -> tuple[grpc.Channel, plants_pb2_grpc.PlantServiceStub]:
    """Open a channel to `server` that can send photos up to 64 MiB."""
    target = f"127.0.0.1:{server.port}"
    options = [("grpc.max_send_message_length", 64 * 1024 * 1024)]
    if channel_credentials is None:
        channel = grpc.insecure_channel(target, options=options)
    else:
        channel = grpc.secure_channel(target, channel_credentials, options=options)
    return channel, plants_pb2_grpc.PlantServiceStub(channel)
