"""A real photo through gRPC, Redis, the Dramatiq worker and the emulator."""

import json
import uuid

import grpc
import pytest
from psycopg_pool import ConnectionPool

from gemini_emulator import PLANT_NAMES, EmulatorHandle
from protos.plants.v1 import plants_pb2, plants_pb2_grpc
from shared.plant_data import AIPlantData
from tests.conftest import WorkerFactory
from tests.support import DATA_DIR, wait_until

FLOWER_JPEG = (DATA_DIR / "flower-sklearn.jpg").read_bytes()
FINAL_STATUSES = (
    plants_pb2.PROCESSING_STATUS_COMPLETED,
    plants_pb2.PROCESSING_STATUS_FAILED,
)


def create_flower(stub: plants_pb2_grpc.PlantServiceStub) -> plants_pb2.Plant:
    return stub.CreatePlant(
        plants_pb2.CreatePlantRequest(
            owner_id="owner-1",
            nickname="kitchen flower",
            image=FLOWER_JPEG,
            image_content_type="image/jpeg",
        ),
        timeout=10,
    )


def wait_for_final(
    stub: plants_pb2_grpc.PlantServiceStub, plant_id: str, timeout_s: float = 30
) -> plants_pb2.Plant:
    def final_plant() -> plants_pb2.Plant | None:
        plant = stub.GetPlant(plants_pb2.GetPlantRequest(id=plant_id), timeout=5)
        return plant if plant.status in FINAL_STATUSES else None

    return wait_until(final_plant, timeout_s=timeout_s)  # type: ignore[return-value]


@pytest.mark.slow
def test_photo_ends_completed_with_care_profile(
    grpc_stub: plants_pb2_grpc.PlantServiceStub,
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
    db_pool: ConnectionPool,
) -> None:
    start_worker()

    created = create_flower(grpc_stub)
    plant = wait_for_final(grpc_stub, created.id)

    assert created.status == plants_pb2.PROCESSING_STATUS_PENDING
    assert plant.status == plants_pb2.PROCESSING_STATUS_COMPLETED
    assert plant.scientific_name in PLANT_NAMES
    assert plant.description
    assert plant.care.care_level != plants_pb2.CARE_LEVEL_UNSPECIFIED
    assert plant.care.watering.frequency_summer_days >= 1
    assert plant.care.environment.humidity != plants_pb2.HUMIDITY_UNSPECIFIED
    assert plant.care.soil.ph_level > 0
    assert plant.care.fertilizer.type
    assert plant.failure_code == ""

    with db_pool.connection() as conn:
        ai_data, ai_usage, attempts = conn.execute(
            "SELECT ai_data, ai_usage, attempts FROM plants WHERE id = %s",
            (uuid.UUID(plant.id),),
        ).fetchone()
    stored = AIPlantData.model_validate(ai_data)
    assert stored.scientific_name == plant.scientific_name
    assert ai_usage["total_tokens"] > 0
    assert attempts == 1

    calls = emulator.requests()
    assert len(calls) == 1
    assert calls[0].mime_type == "image/jpeg"
    assert calls[0].generation_config.get("responseMimeType") == "application/json"


@pytest.mark.slow
def test_model_error_fails_plant_with_code(
    grpc_stub: plants_pb2_grpc.PlantServiceStub,
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
) -> None:
    emulator.script({"kind": "http_error", "code": 400, "status": "INVALID_ARGUMENT"})
    worker = start_worker()

    created = create_flower(grpc_stub)
    plant = wait_for_final(grpc_stub, created.id)

    assert plant.status == plants_pb2.PROCESSING_STATUS_FAILED
    assert plant.failure_code == "AI_REQUEST_REJECTED"
    assert "400" in plant.failure_message
    assert plant.care.care_level == plants_pb2.CARE_LEVEL_UNSPECIFIED
    # The state-change line follows the database write, so the worker is
    # stopped first: its whole output is then on disk.
    worker.stop()
    failure_lines = [
        json.loads(line)
        for line in worker.output().splitlines()
        if '"processing_status_changed"' in line and '"FAILED"' in line
    ]
    assert len(failure_lines) == 1
    assert failure_lines[0]["plant_id"] == created.id
    assert failure_lines[0]["failure_code"] == "AI_REQUEST_REJECTED"
    assert failure_lines[0]["level"] == "error"


@pytest.mark.slow
def test_not_a_plant_fails_without_care(
    grpc_stub: plants_pb2_grpc.PlantServiceStub,
    start_worker: WorkerFactory,
    emulator: EmulatorHandle,
) -> None:
    emulator.script({"kind": "not_a_plant"})
    start_worker()

    created = create_flower(grpc_stub)
    plant = wait_for_final(grpc_stub, created.id)

    assert plant.status == plants_pb2.PROCESSING_STATUS_FAILED
    assert plant.failure_code == "NOT_A_PLANT"
    assert plant.scientific_name == ""


def test_get_plant_unknown_id_not_found(
    grpc_stub: plants_pb2_grpc.PlantServiceStub,
) -> None:
    unknown_id = str(uuid.uuid4())

    with pytest.raises(grpc.RpcError) as caught:
        grpc_stub.GetPlant(plants_pb2.GetPlantRequest(id=unknown_id), timeout=5)

    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert unknown_id in caught.value.details()


@pytest.mark.parametrize("bad_id", ["", "not-a-uuid", "1234", "'; DROP TABLE plants"])
def test_get_plant_malformed_id_invalid(
    grpc_stub: plants_pb2_grpc.PlantServiceStub, bad_id: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        grpc_stub.GetPlant(plants_pb2.GetPlantRequest(id=bad_id), timeout=5)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "expected a UUID" in caught.value.details()
