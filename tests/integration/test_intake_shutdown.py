"""SIGTERM to `python -m intake_service`: drain in-flight calls, then exit."""

import signal
import threading
import uuid
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from psycopg_pool import ConnectionPool

from protos.plants.v1 import plants_pb2, plants_pb2_grpc
from tests.support import (
    DATA_DIR,
    VENV_BIN,
    ServiceProcess,
    TcpProxy,
    free_port,
    wait_until,
)

FLOWER_JPEG = (DATA_DIR / "flower-sklearn.jpg").read_bytes()


@pytest.mark.slow
def test_sigterm_drains_in_flight_call(
    service_env: dict[str, str],
    database_proxy: tuple[TcpProxy, str],
    db_pool: ConnectionPool,
    tmp_path: Path,
) -> None:
    proxy, proxied_url = database_proxy
    port = free_port()
    intake = ServiceProcess(
        [str(VENV_BIN / "python"), "-m", "intake_service"],
        {
            **service_env,
            "DATABASE_URL": proxied_url,
            "INTAKE_GRPC_HOST": "127.0.0.1",
            "INTAKE_GRPC_PORT": str(port),
            "SHUTDOWN_GRACE_S": "20",
            "HEALTH_CHECK_INTERVAL_S": "3600",
        },
        tmp_path / "intake.log",
    )
    intake.wait_for_output(r"intake_started")
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = plants_pb2_grpc.PlantServiceStub(channel)
    owner_id = f"owner-{uuid.uuid4()}"
    replies: list[plants_pb2.Plant] = []
    health_updates: list[int] = []

    watch = health_pb2_grpc.HealthStub(channel).Watch(
        health_pb2.HealthCheckRequest(service=""), timeout=60
    )

    def follow_health() -> None:
        try:
            for update in watch:
                health_updates.append(update.status)
        except grpc.RpcError:
            pass  # The stream ends when the server stops.

    watcher = threading.Thread(target=follow_health)
    watcher.start()
    wait_until(lambda: health_updates, timeout_s=10)
    proxy.pause()
    caller = threading.Thread(
        target=lambda: replies.append(
            stub.CreatePlant(
                plants_pb2.CreatePlantRequest(owner_id=owner_id, image=FLOWER_JPEG),
                timeout=30,
            )
        )
    )
    caller.start()
    wait_until(lambda: proxy.held_bytes > 0, timeout_s=10)

    intake.signal(signal.SIGTERM)
    wait_until(
        lambda: health_pb2.HealthCheckResponse.NOT_SERVING in health_updates,
        timeout_s=10,
    )
    # An open Watch stream is an in-flight call too: end it, as a load
    # balancer does once it receives NOT_SERVING.
    watch.cancel()
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetPlant(plants_pb2.GetPlantRequest(id=str(uuid.uuid4())), timeout=5)
    proxy.resume()
    caller.join(30)
    try:
        exit_code = intake.process.wait(timeout=30)
    finally:
        intake.stop()
    watcher.join(10)
    channel.close()

    assert health_updates[0] == health_pb2.HealthCheckResponse.SERVING
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert len(replies) == 1
    assert replies[0].status == plants_pb2.PROCESSING_STATUS_PENDING
    with db_pool.connection() as conn:
        row = conn.execute(
            "SELECT message_sent_at IS NOT NULL FROM plants WHERE id = %s",
            (uuid.UUID(replies[0].id),),
        ).fetchone()
    assert row == (True,)
    assert exit_code == 0
    assert "intake_stopped" in intake.output()
    assert "abandoned_calls" not in intake.output()


@pytest.mark.slow
def test_sigterm_cancels_calls_after_grace(
    service_env: dict[str, str],
    database_proxy: tuple[TcpProxy, str],
    tmp_path: Path,
) -> None:
    proxy, proxied_url = database_proxy
    port = free_port()
    intake = ServiceProcess(
        [str(VENV_BIN / "python"), "-m", "intake_service"],
        {
            **service_env,
            "DATABASE_URL": proxied_url,
            "INTAKE_GRPC_HOST": "127.0.0.1",
            "INTAKE_GRPC_PORT": str(port),
            "SHUTDOWN_GRACE_S": "1",
            "HEALTH_CHECK_INTERVAL_S": "3600",
        },
        tmp_path / "intake.log",
    )
    intake.wait_for_output(r"intake_started")
    errors: list[grpc.StatusCode] = []

    def call() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            try:
                plants_pb2_grpc.PlantServiceStub(channel).CreatePlant(
                    plants_pb2.CreatePlantRequest(owner_id="o", image=FLOWER_JPEG),
                    timeout=60,
                )
            except grpc.RpcError as exc:
                errors.append(exc.code())

    proxy.pause()
    caller = threading.Thread(target=call)
    caller.start()
    wait_until(lambda: proxy.held_bytes > 0, timeout_s=10)

    intake.signal(signal.SIGTERM)
    try:
        exit_code = intake.process.wait(timeout=30)
    finally:
        proxy.resume()
        intake.stop()
    caller.join(10)

    assert exit_code == 0
    assert "abandoned_calls" in intake.output()
    # CANCELLED when gRPC's cancellation reaches the client first,
    # UNAVAILABLE when the process exit closes the connection first.
    assert len(errors) == 1
    assert errors[0] in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
