"""Claims, settings and broker options of the worker, on the real database."""

import os
import subprocess
import sys
import time

import pytest
from psycopg_pool import ConnectionPool

from ai_worker import plant_repository
from ai_worker.settings import WorkerSettings
from gemini_emulator import canned_plants
from shared.plant import FailureCode
from shared.plant_data import AIPlantData
from shared.settings import SettingsError, load_settings
from tests.support import REPO_ROOT, insert_plant, read_plant

PLANT_DATA = AIPlantData.model_validate(canned_plants()[0])


def test_stale_claim_cannot_overwrite_newer_result(db_pool: ConnectionPool) -> None:
    plant_id = insert_plant(db_pool, f"aa/{'a' * 64}.png")
    stale = plant_repository.claim_plant(db_pool, plant_id, max_attempts=5, lease_s=60)
    assert stale is not None
    time.sleep(0.05)
    newer = plant_repository.claim_plant(
        db_pool, plant_id, max_attempts=5, lease_s=0.01
    )
    assert newer is not None

    newer_done = plant_repository.complete_plant(db_pool, newer, PLANT_DATA, {})
    stale_failed = plant_repository.fail_claimed_plant(
        db_pool, stale, FailureCode.AI_BLOCKED, "stale"
    )
    stale_released = plant_repository.release_plant(
        db_pool, stale, FailureCode.AI_UNAVAILABLE, "stale", delay_ms=10
    )
    stale_done = plant_repository.complete_plant(db_pool, stale, PLANT_DATA, {})

    row = read_plant(db_pool, plant_id)
    assert newer_done
    assert not stale_failed
    assert not stale_released
    assert not stale_done
    assert row["ai_processing_status"] == "COMPLETED"
    assert row["attempts"] == 2
    assert row["failure_code"] is None


def test_live_claim_blocks_second_claim(db_pool: ConnectionPool) -> None:
    plant_id = insert_plant(db_pool, f"aa/{'b' * 64}.png")

    first = plant_repository.claim_plant(db_pool, plant_id, max_attempts=5, lease_s=60)
    second = plant_repository.claim_plant(db_pool, plant_id, max_attempts=5, lease_s=60)

    assert first is not None
    assert second is None
    assert read_plant(db_pool, plant_id)["attempts"] == 1


def worker_environment(**overrides: str) -> dict[str, str]:
    return {
        "DATABASE_URL": "postgresql://127.0.0.1/unused",
        "IMAGE_STORE_DIR": "/tmp",
        "GEMINI_API_KEY": "test-api-key",
        **overrides,
    }


def test_worker_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in worker_environment().items():
        monkeypatch.setenv(name, value)

    settings = load_settings(WorkerSettings)

    assert settings.worker_max_attempts == 5
    assert settings.queue_heartbeat_timeout_ms == 60_000
    assert settings.queue_maintenance_chance == 10_000
    assert settings.actor_time_limit_ms > settings.gemini_timeout_s * 1000


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        (
            {"GEMINI_TIMEOUT_S": "30", "PROCESSING_LEASE_S": "60"},
            "WORKER_TIME_LIMIT_S (60.0) must be at least 1 s below "
            "PROCESSING_LEASE_S (60.0)",
        ),
        (
            {"GEMINI_TIMEOUT_S": "5", "WORKER_TIME_LIMIT_S": "5"},
            "GEMINI_TIMEOUT_S (5.0) must be below WORKER_TIME_LIMIT_S (5.0)",
        ),
        (
            {"WORKER_MIN_BACKOFF_MS": "500", "WORKER_MAX_BACKOFF_MS": "100"},
            "WORKER_MIN_BACKOFF_MS (500) must not exceed WORKER_MAX_BACKOFF_MS",
        ),
        ({"QUEUE_MAINTENANCE_CHANCE": "2000000"}, "QUEUE_MAINTENANCE_CHANCE"),
    ],
)
def test_inconsistent_worker_settings_rejected(
    monkeypatch: pytest.MonkeyPatch, overrides: dict[str, str], problem: str
) -> None:
    for name, value in worker_environment(**overrides).items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError) as caught:
        load_settings(WorkerSettings)

    assert problem in str(caught.value)


def test_worker_broker_and_actor_take_settings() -> None:
    env = worker_environment(
        QUEUE_HEARTBEAT_TIMEOUT_MS="7000",
        QUEUE_MAINTENANCE_CHANCE="123",
        WORKER_MAX_ATTEMPTS="4",
        WORKER_MIN_BACKOFF_MS="11",
        WORKER_MAX_BACKOFF_MS="22",
        GEMINI_TIMEOUT_S="9",
        REDIS_MAX_CONNECTIONS="77",
    )
    code = (
        "import ai_worker.actors as actors\n"
        "from ai_worker.gemini import GeminiIdentifier\n"
        "broker = actors.broker\n"
        "options = actors.identify_plant.options\n"
        "identifier = GeminiIdentifier(actors.settings, max_connections=1)\n"
        "http_options = identifier._client._api_client._http_options\n"
        "print(broker.heartbeat_timeout, broker.maintenance_chance,"
        " broker.client.connection_pool.max_connections)\n"
        "print(options['max_retries'], options['min_backoff'],"
        " options['max_backoff'], options['time_limit'])\n"
        "print(http_options.retry_options, http_options.timeout)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    broker_line, actor_line, client_line = result.stdout.splitlines()
    assert broker_line == "7000 123 77"
    assert actor_line == "6 11 22 39000"
    # No SDK retries: Dramatiq owns them.
    assert client_line == "None 9000"
