"""Each way a model call can fail, through a real worker, Redis and the emulator.

One worker serves a table of plants at once. Each plant has its own photo, and
the emulator scripts its faults by the SHA-256 of the JPEG the worker sends,
so the cases run concurrently without taking each other's scripted replies.
"""

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

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
)

MAX_ATTEMPTS = 3
RETRY_DELAY_S = 0.8


@dataclass(frozen=True)
class Case:
    name: str
    script: list[Any]
    status: str
    failure_code: str | None
    attempts: int
    model_calls: int
    # Text the stored description must contain, for repaired replies.
    description_contains: str | None = None
    extra_checks: tuple[str, ...] = field(default_factory=tuple)


def failed(name: str, script: list[Any], code: str, attempts: int) -> Case:
    return Case(name, script, "FAILED", code, attempts, attempts)


def recovered(name: str, script: list[Any], **extra: Any) -> Case:
    """A plant whose first call fails transiently or invalidly, then succeeds."""
    return Case(name, [*script, "ok"], "COMPLETED", None, 2, 2, **extra)


CASES = [
    # Transient: retried with backoff, the next call succeeds.
    recovered(
        "429 with RetryInfo",
        [{"kind": "rate_limited", "retry_delay": f"{RETRY_DELAY_S}s"}],
        extra_checks=("waits_for_retry_delay",),
    ),
    *(
        recovered(f"HTTP {code}", [{"kind": "http_error", "code": code}])
        for code in (500, 502, 503, 504)
    ),
    recovered("client timeout", [{"kind": "hang", "delay_s": 3}]),
    recovered("connection closed", ["disconnect"]),
    recovered("STOP without parts", ["stop_empty"]),
    recovered("STOP with empty text", ["stop_empty_text"]),
    recovered("empty candidates", ["empty_candidates"]),
    recovered(
        "200 with an HTML body",
        [{"kind": "raw", "status": 200, "body": "<html>proxy login</html>"}],
    ),
    # Invalid output: retried once.
    recovered("MAX_TOKENS once", ["truncated"]),
    recovered("invalid JSON once", ["invalid_json"]),
    recovered(
        "schema violation once",
        [{"kind": "schema_violation", "variant": "missing_soil"}],
    ),
    failed("MAX_TOKENS twice", [{"kind": "truncated", "times": 2}], "AI_TRUNCATED", 2),
    failed(
        "invalid JSON twice",
        [{"kind": "invalid_json", "times": 2}],
        "AI_OUTPUT_INVALID",
        2,
    ),
    *(
        failed(
            f"schema violation {variant} twice",
            [{"kind": "schema_violation", "variant": variant, "times": 2}],
            "AI_OUTPUT_INVALID",
            2,
        )
        for variant in (
            "missing_soil",
            "ph_level_string",
            "min_above_max",
            "extra_key",
            "zero_watering_days",
        )
    ),
    failed(
        "MAX_TOKENS then invalid JSON",
        ["truncated", "invalid_json"],
        "AI_OUTPUT_INVALID",
        2,
    ),
    failed(
        "invalid JSON then schema violation",
        ["invalid_json", {"kind": "schema_violation", "variant": "extra_key"}],
        "AI_OUTPUT_INVALID",
        2,
    ),
    # Deterministic repairs: completed at the first call.
    Case("fenced JSON", ["fenced_json"], "COMPLETED", None, 1, 1),
    Case(
        "lower-case enum",
        [{"kind": "schema_violation", "variant": "lowercase_enum"}],
        "COMPLETED",
        None,
        1,
        1,
    ),
    Case(
        "NUL in text",
        ["nul_in_text"],
        "COMPLETED",
        None,
        1,
        1,
        description_contains="Grown indoors worldwide.",
    ),
    Case(
        "lone surrogate",
        ["lone_surrogate"],
        "COMPLETED",
        None,
        1,
        1,
        description_contains="Popular \ufffd houseplant.",
    ),
    # Permanent at once.
    failed("blocked prompt", ["blocked_prompt"], "AI_BLOCKED", 1),
    *(
        failed(
            f"finish reason {reason}",
            [{"kind": "finish_reason", "finish_reason": reason}],
            "AI_BLOCKED",
            1,
        )
        for reason in ("SAFETY", "RECITATION", "PROHIBITED_CONTENT")
    ),
    failed("HTTP 400", [{"kind": "http_error", "code": 400}], "AI_REQUEST_REJECTED", 1),
    *(
        failed(
            f"HTTP {code}",
            [{"kind": "http_error", "code": code}],
            "AI_CONFIGURATION_ERROR",
            1,
        )
        for code in (401, 403, 404)
    ),
    failed("not a plant", ["not_a_plant"], "NOT_A_PLANT", 1),
    # Transient every time: the attempts run out; the message names the last code.
    failed(
        "HTTP 503 on every attempt",
        [{"kind": "http_error", "code": 503, "times": MAX_ATTEMPTS}],
        "MAX_ATTEMPTS_EXCEEDED",
        MAX_ATTEMPTS,
    ),
    failed(
        "timeout on every attempt",
        [{"kind": "hang", "delay_s": 3, "times": MAX_ATTEMPTS}],
        "MAX_ATTEMPTS_EXCEEDED",
        MAX_ATTEMPTS,
    ),
]


def log_events(output: str, event: str) -> list[dict[str, Any]]:
    events = []
    for line in output.splitlines():
        if f'"{event}"' in line:
            events.append(json.loads(line))
    return events


@pytest.mark.slow
def test_every_model_failure_kind_ends_as_classified(
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
    db_pool: ConnectionPool,
    image_store: ImageStore,
    plant_broker: dramatiq.Broker,
    subtests: pytest.Subtests,
) -> None:
    worker = start_worker(
        threads=8, WORKER_MAX_ATTEMPTS=str(MAX_ATTEMPTS), GEMINI_TIMEOUT_S="1"
    )
    plants: list[tuple[Case, uuid.UUID, str]] = []
    for index, case in enumerate(CASES):
        image = make_png(index)
        image_sha256 = sent_image_sha256(image)
        emulator.script(*case.script, image_sha256=image_sha256)
        image_path = image_store.save(image, "png")
        plant_id = insert_plant(db_pool, image_path)
        plants.append((case, plant_id, image_sha256))

    for _, plant_id, _ in plants:
        send_plant_message(
            plant_broker, plant_id, read_plant(db_pool, plant_id)["original_image_path"]
        )
    rows = {
        plant_id: wait_for_final_row(db_pool, plant_id, 60) for _, plant_id, _ in plants
    }
    calls = emulator.requests()
    worker.stop()
    output = worker.output()

    for case, plant_id, image_sha256 in plants:
        with subtests.test(case.name):
            row = rows[plant_id]
            plant_calls = [call for call in calls if call.image_sha256 == image_sha256]
            assert row["ai_processing_status"] == case.status
            assert row["failure_code"] == case.failure_code
            assert row["attempts"] == case.attempts
            assert len(plant_calls) == case.model_calls
            if case.status == "COMPLETED":
                assert row["ai_data"] is not None
                assert row["description"] == row["ai_data"]["description"]
            else:
                assert row["failure_message"]
            if case.description_contains is not None:
                assert case.description_contains in row["description"]
                assert "\x00" not in json.dumps(row["ai_data"])
            if "waits_for_retry_delay" in case.extra_checks:
                first, second = plant_calls
                assert first.status == 429
                assert second.received_monotonic - first.responded_monotonic >= (
                    RETRY_DELAY_S
                )

    not_found = log_events(output, "model_not_found")
    assert len(not_found) == 1
    assert not_found[0]["level"] == "error"
