"""Repeated CreatePlant calls with one idempotency key create one plant."""

import threading
import uuid
from pathlib import Path

import grpc
import pytest
import redis
from psycopg_pool import ConnectionPool

from protos.plants.v1 import plants_pb2, plants_pb2_grpc
from shared.messaging import QUEUE_NAME
from tests.conftest import REDIS_URL
from tests.support import DATA_DIR, make_png

FLOWER_JPEG = (DATA_DIR / "flower-sklearn.jpg").read_bytes()
WEBP_PHOTO = (DATA_DIR / "webp-flower-frangipani.webp").read_bytes()


def queued_message_count(queue_namespace: str) -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.hlen(f"{queue_namespace}:{QUEUE_NAME}.msgs"))
    finally:
        client.close()


def plant_ids(db_pool: ConnectionPool, owner_id: str) -> list[str]:
    with db_pool.connection() as conn:
        rows = conn.execute(
            "SELECT id FROM plants WHERE owner_id = %s", (owner_id,)
        ).fetchall()
    return [str(plant_id) for (plant_id,) in rows]


def image_path_of(db_pool: ConnectionPool, plant_id: str) -> str:
    with db_pool.connection() as conn:
        row = conn.execute(
            "SELECT original_image_path FROM plants WHERE id = %s", (plant_id,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def create_request(
    owner_id: str, key: str, image: bytes = FLOWER_JPEG, nickname: str = "fern"
) -> plants_pb2.CreatePlantRequest:
    return plants_pb2.CreatePlantRequest(
        owner_id=owner_id, nickname=nickname, image=image, idempotency_key=key
    )


def test_concurrent_calls_create_one_plant(
    grpc_stub: plants_pb2_grpc.PlantServiceStub,
    db_pool: ConnectionPool,
    image_store_dir: Path,
    queue_namespace: str,
) -> None:
    owner_id = f"owner-{uuid.uuid4()}"
    callers = 8
    barrier = threading.Barrier(callers)
    replies: list[plants_pb2.Plant] = []

    def call() -> None:
        barrier.wait()
        replies.append(
            grpc_stub.CreatePlant(create_request(owner_id, "retry-1"), timeout=10)
        )

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(replies) == callers
    assert len({reply.id for reply in replies}) == 1
    assert plant_ids(db_pool, owner_id) == [replies[0].id]
    assert len([path for path in image_store_dir.rglob("*") if path.is_file()]) == 1
    assert queued_message_count(queue_namespace) == 1


def test_concurrent_calls_other_photos_one_file(
    grpc_stub: plants_pb2_grpc.PlantServiceStub,
    db_pool: ConnectionPool,
    image_store_dir: Path,
    queue_namespace: str,
) -> None:
    """Racing calls with one key and different photos store only the winner's."""
    owner_id = f"owner-{uuid.uuid4()}"
    callers = 20
    barrier = threading.Barrier(callers)
    replies: list[plants_pb2.Plant] = []
    codes: list[grpc.StatusCode] = []

    def call(index: int) -> None:
        request = create_request(owner_id, "retry-1", image=make_png(index))
        barrier.wait()
        try:
            replies.append(grpc_stub.CreatePlant(request, timeout=10))
        except grpc.RpcError as exc:
            codes.append(exc.code())

    threads = [threading.Thread(target=call, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(replies) == 1
    assert codes == [grpc.StatusCode.ALREADY_EXISTS] * (callers - 1)
    assert plant_ids(db_pool, owner_id) == [replies[0].id]
    stored = [path for path in image_store_dir.rglob("*") if path.is_file()]
    assert [path.relative_to(image_store_dir).as_posix() for path in stored] == [
        image_path_of(db_pool, replies[0].id)
    ]
    assert queued_message_count(queue_namespace) == 1


def test_key_is_scoped_to_owner(
    grpc_stub: plants_pb2_grpc.PlantServiceStub, db_pool: ConnectionPool
) -> None:
    first_owner, second_owner = f"owner-{uuid.uuid4()}", f"owner-{uuid.uuid4()}"

    first = grpc_stub.CreatePlant(create_request(first_owner, "same"), timeout=10)
    second = grpc_stub.CreatePlant(create_request(second_owner, "same"), timeout=10)

    assert first.id != second.id
    assert plant_ids(db_pool, first_owner) == [first.id]
    assert plant_ids(db_pool, second_owner) == [second.id]


@pytest.mark.parametrize(
    ("image", "nickname", "expected_words"),
    [
        pytest.param(WEBP_PHOTO, "fern", "different image", id="other-photo"),
        pytest.param(FLOWER_JPEG, "cactus", "nickname 'fern'", id="other-nickname"),
    ],
)
def test_reused_key_with_other_request_rejected(
    grpc_stub: plants_pb2_grpc.PlantServiceStub,
    db_pool: ConnectionPool,
    queue_namespace: str,
    image: bytes,
    nickname: str,
    expected_words: str,
) -> None:
    owner_id = f"owner-{uuid.uuid4()}"
    first = grpc_stub.CreatePlant(create_request(owner_id, "key-1"), timeout=10)

    with pytest.raises(grpc.RpcError) as caught:
        grpc_stub.CreatePlant(
            create_request(owner_id, "key-1", image=image, nickname=nickname),
            timeout=10,
        )

    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert first.id in caught.value.details()
    assert expected_words in caught.value.details()
    assert plant_ids(db_pool, owner_id) == [first.id]
    assert queued_message_count(queue_namespace) == 1
