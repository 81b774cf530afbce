"""Worker behaviour around the model call: quotas, images, retries, duplicates.

Each test starts a real `dramatiq ai_worker.actors` process on its own queue
namespace and sends the identification message the way the intake does.
"""

import json
import socket
import uuid
from typing import Any

import dramatiq
import pytest
from psycopg_pool import ConnectionPool

from gemini_emulator import EmulatorHandle
from shared.image_store import ImageStore
from shared.messaging import build_plant_message, send_plant_message
from tests.conftest import WorkerFactory
from tests.support import (
    DATA_DIR,
    TcpProxy,
    insert_plant,
    make_png,
    read_plant,
    sent_image_sha256,
    wait_for_final_row,
    wait_until,
)

FLOWER_JPEG = (DATA_DIR / "flower-sklearn.jpg").read_bytes()


def log_events(output: str, event: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if f'"{event}"' in line]


def store_plant(
    db_pool: ConnectionPool, image_store: ImageStore, image: bytes, **columns: Any
) -> uuid.UUID:
    return insert_plant(db_pool, image_store.save(image, "png"), **columns)


def send(broker: dramatiq.Broker, db_pool: ConnectionPool, plant_id: uuid.UUID) -> None:
    image_path = read_plant(db_pool, plant_id)["original_image_path"]
    send_plant_message(broker, plant_id, image_path)


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_daily_quota_fails_burst_with_one_error_log(
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
    db_pool: ConnectionPool,
    image_store: ImageStore,
    plant_broker: dramatiq.Broker,
) -> None:
    emulator.script({"kind": "daily_quota", "times": 4})
    worker = start_worker(threads=2)
    plant_ids = [store_plant(db_pool, image_store, make_png(i)) for i in range(4)]

    for plant_id in plant_ids:
        send(plant_broker, db_pool, plant_id)
    rows = [wait_for_final_row(db_pool, plant_id) for plant_id in plant_ids]
    # Each state-change line follows its database write; stopping the worker
    # puts every line on disk before they are counted.
    worker.stop()

    for row in rows:
        assert row["ai_processing_status"] == "FAILED"
        assert row["failure_code"] == "AI_QUOTA_EXHAUSTED"
        assert "PerDay" in row["failure_message"]
        assert row["attempts"] == 1
    assert len(emulator.requests()) == 4
    alerts = log_events(worker.output(), "model_daily_quota_exhausted")
    assert len(alerts) == 1
    assert alerts[0]["level"] == "error"
    failures = [
        event
        for event in log_events(worker.output(), "processing_status_changed")
        if event["status"] == "FAILED"
    ]
    assert len(failures) == 4


@pytest.mark.slow
def test_unreachable_endpoint_fails_after_max_attempts(
    start_worker: WorkerFactory,
    db_pool: ConnectionPool,
    image_store: ImageStore,
    plant_broker: dramatiq.Broker,
) -> None:
    start_worker(
        GEMINI_BASE_URL=f"http://127.0.0.1:{free_loopback_port()}",
        WORKER_MAX_ATTEMPTS="2",
    )
    plant_id = store_plant(db_pool, image_store, make_png(1))

    send(plant_broker, db_pool, plant_id)
    row = wait_for_final_row(db_pool, plant_id)

    assert row["ai_processing_status"] == "FAILED"
    assert row["failure_code"] == "MAX_ATTEMPTS_EXCEEDED"
    assert "last error AI_UNAVAILABLE" in row["failure_message"]
    assert "unreachable" in row["failure_message"]
    assert row["attempts"] == 2


@pytest.mark.slow
def test_bad_stored_images_fail_without_model_call(
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
    db_pool: ConnectionPool,
    image_store: ImageStore,
    plant_broker: dramatiq.Broker,
    tmp_path: Any,
    subtests: pytest.Subtests,
) -> None:
    start_worker()
    missing_key = image_store.save(make_png(1), "png")
    image_store.path_for(missing_key).unlink()
    unreadable_key = image_store.save(b"\x89PNG\r\n\x1a\n not really a png", "png")
    outside_file = tmp_path / "outside.png"
    outside_file.write_bytes(make_png(2))
    symlink_key = f"ee/{'e' * 64}.png"
    symlink_path = image_store.root / symlink_key
    symlink_path.parent.mkdir(parents=True)
    symlink_path.symlink_to(outside_file)
    cases = {
        "missing file": (missing_key, "IMAGE_MISSING"),
        "key with ..": ("../../etc/passwd", "IMAGE_MISSING"),
        "symlink out of the store": (symlink_key, "IMAGE_MISSING"),
        "unreadable bytes": (unreadable_key, "IMAGE_UNREADABLE"),
    }
    plant_ids = {
        name: insert_plant(db_pool, image_path)
        for name, (image_path, _) in cases.items()
    }

    for plant_id in plant_ids.values():
        send(plant_broker, db_pool, plant_id)
    rows = {
        name: wait_for_final_row(db_pool, plant_id)
        for name, plant_id in plant_ids.items()
    }

    for name, (_, failure_code) in cases.items():
        with subtests.test(name):
            assert rows[name]["ai_processing_status"] == "FAILED"
            assert rows[name]["failure_code"] == failure_code
            assert rows[name]["attempts"] == 1
    assert emulator.requests() == []


@pytest.mark.slow
def test_plant_whose_attempts_ran_out_in_crashes_fails(
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
    db_pool: ConnectionPool,
    image_store: ImageStore,
    plant_broker: dramatiq.Broker,
) -> None:
    # As a worker killed during each of its five calls leaves the plant.
    plant_id = store_plant(db_pool, image_store, make_png(1), attempts=5)
    with db_pool.connection() as conn:
        conn.execute(
            "UPDATE plants SET ai_processing_status = 'PROCESSING',"
            " processing_started_at = now() - interval '1 hour' WHERE id = %s",
            (plant_id,),
        )
    start_worker()

    send(plant_broker, db_pool, plant_id)
    row = wait_for_final_row(db_pool, plant_id)

    assert row["ai_processing_status"] == "FAILED"
    assert row["failure_code"] == "MAX_ATTEMPTS_EXCEEDED"
    assert row["attempts"] == 5
    assert emulator.requests() == []


@pytest.mark.slow
def test_exhausted_message_retries_fail_plant(
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
    db_pool: ConnectionPool,
    image_store: ImageStore,
    plant_broker: dramatiq.Broker,
) -> None:
    """The database rejects every claim of this plant, so Dramatiq's retries
    run out and its on_retry_exhausted actor has to write FAILED."""
    plant_id = store_plant(db_pool, image_store, make_png(1))
    trigger_function = f"reject_claim_{plant_id.hex}"
    with db_pool.connection() as conn:
        conn.execute(
            f"""
            CREATE FUNCTION {trigger_function}() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'claim rejected by test trigger';
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER {trigger_function} BEFORE UPDATE ON plants
                FOR EACH ROW
                WHEN (NEW.id = '{plant_id}' AND NEW.ai_processing_status = 'PROCESSING')
                EXECUTE FUNCTION {trigger_function}();
            """
        )
    worker = start_worker(WORKER_MAX_ATTEMPTS="1")

    try:
        send(plant_broker, db_pool, plant_id)
        row = wait_for_final_row(db_pool, plant_id)
    finally:
        with db_pool.connection() as conn:
            conn.execute(f"DROP TRIGGER {trigger_function} ON plants")
            conn.execute(f"DROP FUNCTION {trigger_function}()")

    assert row["ai_processing_status"] == "FAILED"
    assert row["failure_code"] == "MAX_ATTEMPTS_EXCEEDED"
    assert "retried 3 times" in row["failure_message"]
    assert row["attempts"] == 0
    assert emulator.requests() == []
    assert worker.output().count("claim rejected by test trigger") >= 4


@pytest.mark.slow
def test_duplicate_deliveries_make_one_model_call(
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
    db_pool: ConnectionPool,
    image_store: ImageStore,
    plant_broker: dramatiq.Broker,
) -> None:
    image = make_png(1)
    emulator.script(
        {"kind": "ok", "delay_s": 1.0}, image_sha256=sent_image_sha256(image)
    )
    worker = start_worker(
        threads=4,
        PROCESSING_LEASE_S="4",
        GEMINI_TIMEOUT_S="2",
        WORKER_TIME_LIMIT_S="3",
    )
    plant_id = store_plant(db_pool, image_store, image)
    message = build_plant_message(
        plant_id, read_plant(db_pool, plant_id)["original_image_path"]
    )

    for _ in range(3):
        plant_broker.enqueue(message)
    row = wait_for_final_row(db_pool, plant_id)
    # The other two deliveries come back when the lease would have run out.
    wait_until(
        lambda: len(log_events(worker.output(), "plant_message_skipped")) == 2,
        timeout_s=15,
    )

    assert row["ai_processing_status"] == "COMPLETED"
    assert row["attempts"] == 1
    assert len(emulator.requests()) == 1
    deferred = log_events(worker.output(), "plant_message_deferred")
    assert [event["reason"] for event in deferred] == [
        "another worker holds the plant"
    ] * 2
    skipped = log_events(worker.output(), "plant_message_skipped")
    assert {event["reason"] for event in skipped} == {"plant already finished"}
    assert {event["level"] for event in skipped} == {"info"}


@pytest.mark.slow
def test_message_for_finished_plant_is_skipped(
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
    db_pool: ConnectionPool,
    image_store: ImageStore,
    plant_broker: dramatiq.Broker,
) -> None:
    plant_id = store_plant(
        db_pool,
        image_store,
        make_png(1),
        ai_processing_status="FAILED",
        failure_code="NOT_A_PLANT",
        attempts=1,
    )
    worker = start_worker()

    send(plant_broker, db_pool, plant_id)
    worker.wait_for_output('"plant_message_skipped"')

    skipped = log_events(worker.output(), "plant_message_skipped")
    assert skipped[0]["reason"] == "plant already finished"
    assert skipped[0]["level"] == "info"
    assert skipped[0]["plant_id"] == str(plant_id)
    assert read_plant(db_pool, plant_id)["attempts"] == 1
    assert emulator.requests() == []


@pytest.mark.slow
def test_message_with_malformed_plant_id_is_dropped(
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
    db_pool: ConnectionPool,
    image_store: ImageStore,
    plant_broker: dramatiq.Broker,
) -> None:
    earlier_plant_id = store_plant(db_pool, image_store, make_png(2))
    worker = start_worker()
    send(plant_broker, db_pool, earlier_plant_id)
    wait_for_final_row(db_pool, earlier_plant_id)
    message = build_plant_message(uuid.uuid4(), "ab/x.jpg")
    message.kwargs["plant_id"] = "not-a-uuid"

    plant_broker.enqueue(message)
    worker.wait_for_output('"plant_message_invalid"')
    worker.stop()

    invalid = log_events(worker.output(), "plant_message_invalid")
    assert len(invalid) == 1
    assert invalid[0]["plant_id"] == "not-a-uuid"
    assert invalid[0]["message_id"] == message.message_id
    assert "Retrying message" not in worker.output()
    assert len(emulator.requests()) == 1


@pytest.mark.slow
def test_trickling_reply_cut_at_time_limit(
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
    db_pool: ConnectionPool,
    image_store: ImageStore,
    plant_broker: dramatiq.Broker,
) -> None:
    image = make_png(3)
    # Every read arrives within the 1 s read timeout, but the reply would
    # take 8 s in all, past the 2 s time limit.
    emulator.script(
        {"kind": "drip", "chunks": 20, "interval_s": 0.4},
        image_sha256=sent_image_sha256(image),
    )
    worker = start_worker(
        GEMINI_TIMEOUT_S="1", WORKER_TIME_LIMIT_S="2", PROCESSING_LEASE_S="4"
    )
    plant_id = store_plant(db_pool, image_store, image)

    send(plant_broker, db_pool, plant_id)
    row = wait_for_final_row(db_pool, plant_id)

    calls = emulator.requests()
    assert row["ai_processing_status"] == "COMPLETED"
    assert row["attempts"] == 2
    assert len(calls) == 2
    # The second call started before the first reply could have finished.
    assert calls[1].received_monotonic - calls[0].received_monotonic < 7
    retries = [
        event
        for event in log_events(worker.output(), "processing_status_changed")
        if event["status"] == "PENDING"
    ]
    assert [event["failure_code"] for event in retries] == ["AI_TIMEOUT"]


@pytest.mark.slow
def test_answer_kept_through_database_outage(
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
    db_pool: ConnectionPool,
    image_store: ImageStore,
    plant_broker: dramatiq.Broker,
    database_proxy: tuple[TcpProxy, str],
) -> None:
    proxy, proxied_url = database_proxy
    image = make_png(4)
    emulator.script(
        {"kind": "ok", "delay_s": 1.5}, image_sha256=sent_image_sha256(image)
    )
    worker = start_worker(DATABASE_URL=proxied_url, WORKER_TIME_LIMIT_S="90")
    plant_id = store_plant(db_pool, image_store, image)

    send(plant_broker, db_pool, plant_id)
    wait_until(lambda: emulator.requests(), timeout_s=15)
    proxy.cut()
    wait_until(
        lambda: log_events(worker.output(), "plant_write_retry_scheduled"),
        timeout_s=15,
    )
    proxy.restore()
    row = wait_for_final_row(db_pool, plant_id, timeout_s=60)

    assert row["ai_processing_status"] == "COMPLETED"
    assert row["attempts"] == 1
    assert len(emulator.requests()) == 1


@pytest.mark.slow
def test_worker_boot_applies_poll_interval_and_pool_size(
    start_worker: WorkerFactory,
) -> None:
    worker = start_worker(threads=3, WORKER_POLL_INTERVAL_MS="250")

    started = log_events(worker.output(), "Worker started...")

    assert len(started) == 1
    assert started[0]["poll_interval_ms"] == 250
    assert started[0]["threads"] == 3
    assert started[0]["db_pool_max_size"] == 4
