"""The gRPC edge: status codes, deadlines, health, logging, auth and TLS."""

import hashlib
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from psycopg_pool import ConnectionPool
from structlog.testing import capture_logs

from intake_service.server import IntakeServer
from protos.plants.v1 import plants_pb2, plants_pb2_grpc
from shared.messaging import QUEUE_NAME
from tests.conftest import (
    REDIS_URL,
    IntakeFactory,
    plant_stub,
    temporary_database,
)
from tests.support import (
    DATA_DIR,
    TcpProxy,
    make_self_signed_certificate,
    wait_until,
)

FLOWER_JPEG = (DATA_DIR / "flower-sklearn.jpg").read_bytes()
GRASS_PNG = (DATA_DIR / "grass-texture-gray.png").read_bytes()
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def health_status(server: IntakeServer, service: str = "") -> int:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return int(reply.status)


def count_plants(db_pool: ConnectionPool, owner_id: str) -> int:
    with db_pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM plants WHERE owner_id = %s", (owner_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def queued_messages(queue_namespace: str) -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.hlen(f"{queue_namespace}:{QUEUE_NAME}.msgs"))
    finally:
        client.close()


def create_request(owner_id: str = "owner-1") -> plants_pb2.CreatePlantRequest:
    return plants_pb2.CreatePlantRequest(owner_id=owner_id, image=FLOWER_JPEG)


def test_database_outage_reported_by_health_and_calls(
    start_intake: IntakeFactory, database_proxy: tuple[TcpProxy, str]
) -> None:
    proxy, proxied_url = database_proxy
    server = start_intake(
        database_url=proxied_url, health_check_interval_s=0.2, db_pool_timeout_s=1
    )
    channel, stub = plant_stub(server)
    serving_before = health_status(server, "plants.v1.PlantService")

    proxy.cut()
    wait_until(lambda: health_status(server) == NOT_SERVING, timeout_s=10)
    with channel, pytest.raises(grpc.RpcError) as during:
        stub.CreatePlant(create_request(), timeout=10)
    proxy.restore()
    wait_until(lambda: health_status(server) == SERVING, timeout_s=10)
    channel_after, stub_after = plant_stub(server)
    with channel_after:
        after = stub_after.CreatePlant(create_request(), timeout=10)

    assert serving_before == SERVING
    assert during.value.code() == grpc.StatusCode.UNAVAILABLE
    assert during.value.details() == "database is unavailable, retry later"
    assert after.status == plants_pb2.PROCESSING_STATUS_PENDING


def stored_files(image_store_dir: Path) -> list[Path]:
    return [path for path in image_store_dir.rglob("*") if path.is_file()]


def test_database_down_leaves_no_file(
    start_intake: IntakeFactory,
    database_proxy: tuple[TcpProxy, str],
    image_store_dir: Path,
) -> None:
    proxy, proxied_url = database_proxy
    proxy.cut()
    server = start_intake(database_url=proxied_url, db_pool_timeout_s=1)
    channel, stub = plant_stub(server)

    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.CreatePlant(create_request(), timeout=10)

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert stored_files(image_store_dir) == []


def test_failed_image_write_removes_plant(
    grpc_stub: plants_pb2_grpc.PlantServiceStub,
    db_pool: ConnectionPool,
    image_store_dir: Path,
    queue_namespace: str,
) -> None:
    """A photo that cannot be written after the insert takes its row away again."""
    owner_id = f"owner-{uuid.uuid4()}"
    # A file where the photo's shard directory belongs makes the write fail.
    shard = hashlib.sha256(FLOWER_JPEG).hexdigest()[:2]
    (image_store_dir / shard).write_bytes(b"")

    with capture_logs() as logs, pytest.raises(grpc.RpcError) as caught:
        grpc_stub.CreatePlant(create_request(owner_id), timeout=10)

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert caught.value.details() == "image store is unavailable, retry later"
    assert count_plants(db_pool, owner_id) == 0
    assert queued_messages(queue_namespace) == 0
    events = [entry["event"] for entry in logs]
    assert "image_store_failed" in events
    assert "plant_created" not in events


def test_database_down_at_start_not_serving(
    start_intake: IntakeFactory, database_proxy: tuple[TcpProxy, str]
) -> None:
    proxy, proxied_url = database_proxy
    proxy.cut()
    server = start_intake(database_url=proxied_url, db_pool_timeout_s=1)
    channel, stub = plant_stub(server)

    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.GetPlant(plants_pb2.GetPlantRequest(id=str(uuid.uuid4())), timeout=10)

    assert health_status(server) == NOT_SERVING
    assert health_status(server, "plants.v1.PlantService") == NOT_SERVING
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.fixture
def unmigrated_database_url() -> Iterator[str]:
    with temporary_database("plants_empty") as url:
        yield url


def test_unexpected_error_is_internal_without_sql(
    start_intake: IntakeFactory, unmigrated_database_url: str
) -> None:
    server = start_intake(database_url=unmigrated_database_url)
    channel, stub = plant_stub(server)

    with channel, capture_logs() as logs, pytest.raises(grpc.RpcError) as caught:
        stub.CreatePlant(create_request(), timeout=10)

    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert caught.value.details() == "internal error"
    finished = [entry for entry in logs if entry["event"] == "rpc_finished"]
    assert len(finished) == 1
    assert finished[0]["code"] == "INTERNAL"
    assert finished[0]["log_level"] == "error"
    assert finished[0]["exc_info"] is True


def test_call_logs_one_line_with_code_and_duration(
    start_intake: IntakeFactory,
) -> None:
    server = start_intake()
    channel, stub = plant_stub(server)

    with channel, capture_logs() as logs:
        created = stub.CreatePlant(create_request(), timeout=10)
        with pytest.raises(grpc.RpcError):
            stub.GetPlant(plants_pb2.GetPlantRequest(id="nope"), timeout=10)

    finished = [entry for entry in logs if entry["event"] == "rpc_finished"]
    assert [entry["code"] for entry in finished] == ["OK", "INVALID_ARGUMENT"]
    assert all(entry["duration_ms"] >= 0 for entry in finished)
    plant_created = [entry for entry in logs if entry["event"] == "plant_created"]
    assert len(plant_created) == 1
    assert created.id


def test_nul_in_owner_id_invalid(
    grpc_stub: plants_pb2_grpc.PlantServiceStub,
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        grpc_stub.CreatePlant(create_request("owner\x00one"), timeout=10)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "owner_id contains a NUL character" in caught.value.details()


@pytest.mark.parametrize(
    ("request_bytes", "expected_words"),
    [
        pytest.param(b"\xff\xff\xff", "Wire format was corrupt", id="garbage"),
        # Field 1 (owner_id), length 2, bytes that are not UTF-8.
        pytest.param(b"\x0a\x02\xff\xfe", "bad UTF-8", id="invalid-utf8"),
    ],
)
def test_malformed_request_invalid_argument(
    grpc_channel: grpc.Channel, request_bytes: bytes, expected_words: str
) -> None:
    create_plant = grpc_channel.unary_unary("/plants.v1.PlantService/CreatePlant")

    with capture_logs() as logs, pytest.raises(grpc.RpcError) as caught:
        create_plant(request_bytes, timeout=10)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert expected_words in caught.value.details()
    assert finished_codes(logs) == ["INVALID_ARGUMENT"]


def finished_codes(logs: list[dict[str, object]]) -> list[object]:
    return [entry["code"] for entry in logs if entry["event"] == "rpc_finished"]


def test_deadline_bounds_wait_for_connection(
    start_intake: IntakeFactory,
    database_proxy: tuple[TcpProxy, str],
    db_pool: ConnectionPool,
    image_store_dir: Path,
) -> None:
    """A call whose deadline passes while it waits for a connection writes nothing.

    Without the bound, the call would wait for the pool's own timeout (30 s
    here), get the connection once the database responds again, and insert a
    plant for a client that already gave up.
    """
    proxy, proxied_url = database_proxy
    server = start_intake(
        database_url=proxied_url,
        db_pool_max_size=1,
        db_pool_timeout_s=30,
        health_check_interval_s=3600,
    )
    channel, stub = plant_stub(server)
    owner_id = f"owner-{uuid.uuid4()}"

    with channel, capture_logs() as logs:
        # The only pooled connection waits on the stalled database...
        proxy.pause()
        blocker = threading.Thread(
            target=lambda: stub.CreatePlant(create_request("blocker"), timeout=30)
        )
        blocker.start()
        wait_until(lambda: proxy.held_bytes > 0, timeout_s=10)
        # ...so this call waits for a connection until its deadline passes.
        with pytest.raises(grpc.RpcError) as late:
            stub.CreatePlant(
                plants_pb2.CreatePlantRequest(owner_id=owner_id, image=GRASS_PNG),
                timeout=1,
            )
        # The late call must give up while the database is still stalled.
        wait_until(lambda: finished_codes(logs) == ["DEADLINE_EXCEEDED"], timeout_s=10)
        proxy.resume()
        blocker.join(30)
        wait_until(lambda: len(finished_codes(logs)) == 2, timeout_s=10)

    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert finished_codes(logs) == ["DEADLINE_EXCEEDED", "OK"]
    assert count_plants(db_pool, owner_id) == 0
    grass_digest = hashlib.sha256(GRASS_PNG).hexdigest()
    assert not (image_store_dir / grass_digest[:2] / f"{grass_digest}.png").exists()


def test_tls_server_accepts_only_tls(
    start_intake: IntakeFactory, tmp_path: Path
) -> None:
    cert_path, key_path = make_self_signed_certificate(tmp_path)
    server = start_intake(intake_tls_cert_file=cert_path, intake_tls_key_file=key_path)
    credentials = grpc.ssl_channel_credentials(root_certificates=cert_path.read_bytes())
    target = f"127.0.0.1:{server.port}"
    options = [("grpc.ssl_target_name_override", "localhost")]

    with grpc.secure_channel(target, credentials, options=options) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    with (
        grpc.insecure_channel(target) as plain_channel,
        pytest.raises(grpc.RpcError) as plain,
    ):
        health_pb2_grpc.HealthStub(plain_channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )

    assert reply.status == SERVING
    assert plain.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    ("metadata", "expected_code"),
    [
        pytest.param((), grpc.StatusCode.UNAUTHENTICATED, id="no-token"),
        pytest.param(
            (("authorization", "Bearer wrong"),),
            grpc.StatusCode.UNAUTHENTICATED,
            id="wrong-token",
        ),
        pytest.param(
            (("authorization", "Basic beta"),),
            grpc.StatusCode.UNAUTHENTICATED,
            id="wrong-scheme",
        ),
        pytest.param(
            (("authorization", "Bearer beta"),), grpc.StatusCode.NOT_FOUND, id="second"
        ),
        pytest.param(
            (("authorization", "bearer alpha"),),
            grpc.StatusCode.NOT_FOUND,
            id="lower-case-scheme",
        ),
    ],
)
def test_auth_tokens_guard_plant_service(
    start_intake: IntakeFactory,
    metadata: tuple[tuple[str, str], ...],
    expected_code: grpc.StatusCode,
) -> None:
    server = start_intake(intake_auth_tokens="alpha, beta")
    channel, stub = plant_stub(server)

    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.GetPlant(
            plants_pb2.GetPlantRequest(id=str(uuid.uuid4())),
            metadata=metadata,
            timeout=5,
        )

    assert caught.value.code() == expected_code
    assert health_status(server) == SERVING


def test_without_auth_tokens_calls_need_none(start_intake: IntakeFactory) -> None:
    server = start_intake()
    channel, stub = plant_stub(server)

    with channel:
        created = stub.CreatePlant(create_request(), timeout=10)

    assert created.status == plants_pb2.PROCESSING_STATUS_PENDING
