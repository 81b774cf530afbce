"""The re-send loop: no accepted plant stays PENDING or PROCESSING forever."""

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg_pool import ConnectionPool
from structlog.testing import capture_logs

from gemini_emulator import EmulatorHandle
from protos.plants.v1 import plants_pb2, plants_pb2_grpc
from shared.messaging import QUEUE_NAME
from tests.conftest import REDIS_URL, IntakeFactory, WorkerFactory, plant_stub
from tests.support import DATA_DIR, PrivateRedis, wait_until

FLOWER_JPEG = (DATA_DIR / "flower-sklearn.jpg").read_bytes()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis.log")
    server.start()
    yield server
    server.stop()


def plant_row(db_pool: ConnectionPool, plant_id: str) -> dict[str, object]:
    with db_pool.connection() as conn:
        cursor = conn.execute(
            "SELECT ai_processing_status, attempts, message_sent_at "
            "FROM plants WHERE id = %s",
            (uuid.UUID(plant_id),),
        )
        row = cursor.fetchone()
    assert row is not None
    return dict(zip(("status", "attempts", "message_sent_at"), row, strict=True))


def create_flower(stub: plants_pb2_grpc.PlantServiceStub) -> plants_pb2.Plant:
    return stub.CreatePlant(
        plants_pb2.CreatePlantRequest(owner_id="owner-1", image=FLOWER_JPEG),
        timeout=15,
    )


def queued_messages(redis_url: str, queue_namespace: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.hlen(f"{queue_namespace}:{QUEUE_NAME}.msgs"))
    finally:
        client.close()


@pytest.mark.slow
def test_plant_completes_after_redis_outage(
    start_intake: IntakeFactory,
    start_worker: WorkerFactory,
    private_redis: PrivateRedis,
    db_pool: ConnectionPool,
) -> None:
    server = start_intake(redis_url=private_redis.url, resend_interval_s=0.5)
    start_worker(REDIS_URL=private_redis.url)
    channel, stub = plant_stub(server)
    private_redis.stop()

    with channel, capture_logs() as logs:
        created = create_flower(stub)
        unsent = plant_row(db_pool, created.id)
        private_redis.start()
        wait_until(
            lambda: plant_row(db_pool, created.id)["status"] == "COMPLETED",
            timeout_s=45,
            interval_s=0.2,
        )

    assert created.status == plants_pb2.PROCESSING_STATUS_PENDING
    assert unsent["message_sent_at"] is None
    assert "plant_message_send_failed" in [entry["event"] for entry in logs]
    resent = [
        entry
        for entry in logs
        if entry["event"] == "plant_message_resent" and entry["plant_id"] == created.id
    ]
    assert len(resent) == 1
    assert resent[0]["reason"] == "never_sent"
    assert plant_row(db_pool, created.id)["message_sent_at"] is not None


@pytest.mark.slow
def test_killed_workers_plant_resent_after_lease(
    start_intake: IntakeFactory,
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
    db_pool: ConnectionPool,
) -> None:
    emulator.script({"kind": "hang", "delay_s": 60})
    server = start_intake(resend_interval_s=0.5, processing_lease_s=4)
    # The worker requires its time limit to stay a second below the lease.
    worker_settings = {
        "PROCESSING_LEASE_S": "4",
        "GEMINI_TIMEOUT_S": "2",
        "WORKER_TIME_LIMIT_S": "3",
    }
    first_worker = start_worker(**worker_settings)
    channel, stub = plant_stub(server)

    with channel, capture_logs() as logs:
        created = create_flower(stub)
        wait_until(
            lambda: plant_row(db_pool, created.id)["status"] == "PROCESSING",
            timeout_s=20,
        )
        first_worker.kill()
        # Dramatiq itself would redeliver only after its 60 s heartbeat timeout.
        start_worker(**worker_settings)
        wait_until(
            lambda: plant_row(db_pool, created.id)["status"] == "COMPLETED",
            timeout_s=45,
            interval_s=0.2,
        )

    # More than two when a claim outlives the short lease and is re-sent again.
    assert plant_row(db_pool, created.id)["attempts"] >= 2
    reasons = [
        entry["reason"]
        for entry in logs
        if entry["event"] == "plant_message_resent" and entry["plant_id"] == created.id
    ]
    assert reasons
    assert set(reasons) == {"lease_expired"}


def set_plant_state(db_pool: ConnectionPool, plant_id: str, assignments: str) -> None:
    with db_pool.connection() as conn:
        conn.execute(
            f"UPDATE plants SET {assignments} WHERE id = %s",
            (uuid.UUID(plant_id),),
        )


@pytest.mark.parametrize(
    ("assignments", "is_due"),
    [
        pytest.param(
            "message_sent_at = now() - interval '1 hour', next_attempt_at = NULL",
            True,
            id="pending-unclaimed-for-an-hour",
        ),
        pytest.param(
            "message_sent_at = now() - interval '1 hour', "
            "next_attempt_at = now() + interval '1 hour'",
            False,
            id="pending-retry-not-due",
        ),
        pytest.param(
            "message_sent_at = now() - interval '1 hour', "
            "next_attempt_at = now() - interval '5 seconds'",
            False,
            id="pending-retry-just-due",
        ),
        pytest.param(
            "message_sent_at = NULL, created_at = now() - interval '1 hour', "
            "next_attempt_at = now() + interval '1 hour'",
            False,
            id="unsent-retry-not-due",
        ),
        pytest.param(
            "ai_processing_status = 'PROCESSING', "
            "processing_started_at = now() - interval '5 seconds'",
            False,
            id="processing-within-lease",
        ),
        pytest.param(
            "ai_processing_status = 'PROCESSING', "
            "message_sent_at = now() - interval '1 hour', "
            "processing_started_at = now() - interval '1 hour'",
            True,
            id="processing-lease-expired",
        ),
        pytest.param(
            "ai_processing_status = 'COMPLETED', ai_data = '{}', "
            "message_sent_at = NULL",
            False,
            id="completed",
        ),
    ],
)
def test_resend_picks_only_due_plants(
    start_intake: IntakeFactory,
    db_pool: ConnectionPool,
    queue_namespace: str,
    assignments: str,
    is_due: bool,
) -> None:
    server = start_intake(resend_interval_s=3600, processing_lease_s=60)
    channel, stub = plant_stub(server)
    with channel:
        created = create_flower(stub)
    set_plant_state(db_pool, created.id, assignments)

    sent = server.resend_loop.resend_due_plants()

    assert sent == (1 if is_due else 0)
    # The call's own message plus the re-sent one.
    assert queued_messages(REDIS_URL, queue_namespace) == 1 + sent


def test_resend_skips_plants_locked_elsewhere(
    start_intake: IntakeFactory, db_pool: ConnectionPool, database_url: str
) -> None:
    server = start_intake(resend_interval_s=3600, processing_lease_s=60)
    channel, stub = plant_stub(server)
    with channel:
        locked = create_flower(stub)
        free = create_flower(stub)
    for plant in (locked, free):
        set_plant_state(
            db_pool,
            plant.id,
            "message_sent_at = NULL, created_at = now() - interval '1 hour'",
        )
    results: list[int] = []

    with psycopg.connect(database_url) as other_replica:
        other_replica.execute(
            "SELECT id FROM plants WHERE id = %s FOR UPDATE", (uuid.UUID(locked.id),)
        )
        thread = threading.Thread(
            target=lambda: results.append(server.resend_loop.resend_due_plants())
        )
        thread.start()
        thread.join(10)
        first_pass_done = not thread.is_alive()
    second_pass = server.resend_loop.resend_due_plants()

    assert first_pass_done
    assert results == [1]
    assert second_pass == 1
    assert plant_row(db_pool, free.id)["message_sent_at"] is not None
    assert plant_row(db_pool, locked.id)["message_sent_at"] is not None


def test_resend_loop_stops_with_server(start_intake: IntakeFactory) -> None:
    server = start_intake(resend_interval_s=0.1)

    with capture_logs() as logs:
        server.stop(grace_s=1)

    assert not server.resend_loop.is_running
    assert "resend_loop_stopped" in [entry["event"] for entry in logs]
