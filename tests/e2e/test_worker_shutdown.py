"""A worker stopped or killed during a slow model call loses no plant."""

import os
import signal
import time

import dramatiq
import pytest
from psycopg_pool import ConnectionPool

from gemini_emulator import EmulatorHandle
from shared.image_store import ImageStore
from shared.messaging import send_plant_message
from tests.conftest import WorkerFactory
from tests.support import (
    insert_plant,
    make_png,
    read_plant,
    sent_image_sha256,
    wait_for_final_row,
    wait_until,
)


@pytest.mark.slow
def test_sigterm_lets_in_flight_call_finish(
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
    db_pool: ConnectionPool,
    image_store: ImageStore,
    plant_broker: dramatiq.Broker,
) -> None:
    image = make_png(1)
    emulator.script(
        {"kind": "ok", "delay_s": 2.0}, image_sha256=sent_image_sha256(image)
    )
    worker = start_worker()
    image_path = image_store.save(image, "png")
    plant_id = insert_plant(db_pool, image_path)

    send_plant_message(plant_broker, plant_id, image_path)
    wait_until(lambda: emulator.requests(), timeout_s=15)
    # Only the master gets SIGTERM, as from a container runtime: it forwards
    # the signal to its worker process, and a second SIGTERM (such as one sent
    # to the whole process group) would make that process exit at once.
    os.kill(worker.process.pid, signal.SIGTERM)
    exit_code = worker.process.wait(timeout=30)
    worker.stop()

    row = read_plant(db_pool, plant_id)
    assert exit_code == 0
    assert row["ai_processing_status"] == "COMPLETED"
    assert row["attempts"] == 1
    assert len(emulator.requests()) == 1


@pytest.mark.slow
def test_killed_worker_plant_finishes_after_restart(
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
    db_pool: ConnectionPool,
    image_store: ImageStore,
    plant_broker: dramatiq.Broker,
) -> None:
    image = make_png(1)
    emulator.script(
        {"kind": "ok", "delay_s": 5.0}, image_sha256=sent_image_sha256(image)
    )
    fast_recovery = {
        "QUEUE_HEARTBEAT_TIMEOUT_MS": "1000",
        "QUEUE_MAINTENANCE_CHANCE": "1000000",
        "PROCESSING_LEASE_S": "4",
        "GEMINI_TIMEOUT_S": "2",
        "WORKER_TIME_LIMIT_S": "3",
    }
    first_worker = start_worker(**fast_recovery)
    image_path = image_store.save(image, "png")
    plant_id = insert_plant(db_pool, image_path)

    send_plant_message(plant_broker, plant_id, image_path)
    wait_until(lambda: emulator.requests(), timeout_s=15)
    first_worker.kill()
    killed_at = time.monotonic()
    assert read_plant(db_pool, plant_id)["ai_processing_status"] == "PROCESSING"
    start_worker(**fast_recovery)
    row = wait_for_final_row(db_pool, plant_id, timeout_s=60)
    recovered_after_s = time.monotonic() - killed_at

    calls = emulator.requests()
    assert row["ai_processing_status"] == "COMPLETED"
    assert row["attempts"] == 2
    assert len(calls) == 2
    with db_pool.connection() as conn:
        processing = conn.execute(
            "SELECT count(*) FROM plants WHERE id = %s"
            " AND ai_processing_status = 'PROCESSING'",
            (plant_id,),
        ).fetchone()
    assert processing == (0,)
    print(f"plant finished {recovered_after_s:.1f} s after the kill")
