"""CreatePlant with real photos: accepted ones complete, bad ones leave nothing."""

import uuid
from pathlib import Path

import grpc
import pytest
from psycopg_pool import ConnectionPool

from intake_service.server import IntakeServer
from protos.plants.v1 import plants_pb2, plants_pb2_grpc
from tests.conftest import IntakeFactory, WorkerFactory, plant_stub
from tests.support import DATA_DIR, wait_until

MIB = 1024 * 1024


def read_photo(name: str) -> bytes:
    return (DATA_DIR / name).read_bytes()


def as_generic_heif(heic_bytes: bytes) -> bytes:
    """Rewrite the ftyp brands of the iPhone HEIC so that it reads as generic HEIF.

    The file's major brand `heic` becomes `mif1`, and `heic` in the compatible
    brands (bytes 32-35 of this file) becomes `miaf`; the image is unchanged.
    """
    assert heic_bytes[4:12] == b"ftypheic"
    assert heic_bytes[32:36] == b"heic"
    return heic_bytes[:8] + b"mif1" + heic_bytes[12:32] + b"miaf" + heic_bytes[36:]


PUG_HEIC = read_photo("heic-iphone-pug.heic")

# (case, photo bytes, declared content type, stored content type, extension)
ACCEPTED_PHOTOS = [
    ("jpeg", read_photo("flower-sklearn.jpg"), "image/jpeg", "image/jpeg", "jpg"),
    ("png", read_photo("grass-texture-gray.png"), "image/png", "image/png", "png"),
    (
        "webp",
        read_photo("webp-flower-frangipani.webp"),
        "image/webp",
        "image/webp",
        "webp",
    ),
    # iPhones upload HEIC as application/octet-stream; the bytes decide.
    ("heic", PUG_HEIC, "application/octet-stream", "image/heic", "heic"),
    ("heif", as_generic_heif(PUG_HEIC), "", "image/heif", "heif"),
    (
        "exif-rotated",
        read_photo("exif-orientation-6-waterfall.jpg"),
        "image/jpeg",
        "image/jpeg",
        "jpg",
    ),
    # Above gRPC's default 4 MiB receive limit.
    (
        "8-megabyte",
        read_photo("exif-orientation-8-canon-7d-large.jpg"),
        "image/jpeg",
        "image/jpeg",
        "jpg",
    ),
    # A PNG declared as JPEG is stored as what it is.
    (
        "mislabelled",
        read_photo("grass-texture-gray.png"),
        "image/jpeg",
        "image/png",
        "png",
    ),
]


def stored_files(image_store_dir: Path) -> list[Path]:
    return [path for path in image_store_dir.rglob("*") if path.is_file()]


def count_plants(db_pool: ConnectionPool, owner_id: str) -> int:
    with db_pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM plants WHERE owner_id = %s", (owner_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.slow
def test_accepted_photos_reach_completed(
    grpc_stub: plants_pb2_grpc.PlantServiceStub,
    start_worker: WorkerFactory,
    db_pool: ConnectionPool,
    image_store_dir: Path,
) -> None:
    start_worker(threads=4)
    owner_id = f"owner-{uuid.uuid4()}"

    created = {
        case: grpc_stub.CreatePlant(
            plants_pb2.CreatePlantRequest(
                owner_id=owner_id,
                nickname=case,
                image=photo,
                image_content_type=declared,
            ),
            timeout=30,
        )
        for case, photo, declared, _, _ in ACCEPTED_PHOTOS
    }

    for case, photo, _, stored_type, extension in ACCEPTED_PHOTOS:
        with db_pool.connection() as conn:
            row = conn.execute(
                "SELECT image_content_type, original_image_path FROM plants "
                "WHERE id = %s",
                (uuid.UUID(created[case].id),),
            ).fetchone()
        assert row is not None, case
        content_type, image_path = row
        assert content_type == stored_type, case
        assert image_path.endswith(f".{extension}"), case
        assert (image_store_dir / image_path).read_bytes() == photo, case

    def all_final() -> bool:
        statuses = [
            grpc_stub.GetPlant(plants_pb2.GetPlantRequest(id=plant.id), timeout=5)
            for plant in created.values()
        ]
        return all(
            plant.status
            in (
                plants_pb2.PROCESSING_STATUS_COMPLETED,
                plants_pb2.PROCESSING_STATUS_FAILED,
            )
            for plant in statuses
        )

    wait_until(all_final, timeout_s=60, interval_s=0.2)
    for case, plant in created.items():
        final = grpc_stub.GetPlant(plants_pb2.GetPlantRequest(id=plant.id), timeout=5)
        assert final.status == plants_pb2.PROCESSING_STATUS_COMPLETED, (
            case,
            final.failure_code,
            final.failure_message,
        )


def truncated(name: str, keep_fraction: float) -> bytes:
    photo = read_photo(name)
    return photo[: int(len(photo) * keep_fraction)]


# (case, photo bytes, words the error detail must contain)
REJECTED_PHOTOS = [
    ("zero-byte", read_photo("zero-bytes.jpg"), ["image is empty"]),
    ("text-as-jpeg", read_photo("text-not-image.jpg"), ["not a recognised image"]),
    (
        "truncated-jpeg",
        read_photo("truncated-half-flower-sklearn.jpg"),
        ["truncated", "JPEG end marker"],
    ),
    (
        "truncated-png",
        truncated("grass-texture-gray.png", 0.9),
        ["truncated", "PNG IEND"],
    ),
    (
        "truncated-webp",
        truncated("webp-flower-frangipani.webp", 0.5),
        ["truncated", "WebP header declares 29556 bytes"],
    ),
    ("truncated-heic", truncated("heic-iphone-pug.heic", 0.5), ["truncated", "HEIF"]),
    (
        "bomb-png-268-megapixels",
        read_photo("bomb-png-16384x16384.png"),
        ["16384x16384", "limit is 60.0 megapixels"],
    ),
    (
        "bomb-png-text-chunk",
        read_photo("bomb-png-text-chunk.png"),
        ["decompression bomb", "text chunk"],
    ),
    (
        "bomb-gif-4-gigapixels",
        read_photo("bomb-gif-65535x66601.gif"),
        ["unsupported image format GIF"],
    ),
    (
        "gif",
        read_photo("gif-static-grace-hopper.gif"),
        ["unsupported image format GIF"],
    ),
    ("avif", read_photo("avif-grace-hopper.avif"), ["unsupported image format AVIF"]),
]


@pytest.mark.parametrize(
    ("photo", "expected_words"),
    [pytest.param(photo, words, id=case) for case, photo, words in REJECTED_PHOTOS],
)
def test_rejected_photo_leaves_nothing(
    grpc_stub: plants_pb2_grpc.PlantServiceStub,
    db_pool: ConnectionPool,
    image_store_dir: Path,
    photo: bytes,
    expected_words: list[str],
) -> None:
    owner_id = f"owner-{uuid.uuid4()}"

    with pytest.raises(grpc.RpcError) as caught:
        grpc_stub.CreatePlant(
            plants_pb2.CreatePlantRequest(
                owner_id=owner_id, image=photo, image_content_type="image/jpeg"
            ),
            timeout=10,
        )

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for word in expected_words:
        assert word in caught.value.details()
    assert count_plants(db_pool, owner_id) == 0
    assert stored_files(image_store_dir) == []


def test_photo_above_pixel_limit_rejected(
    start_intake: IntakeFactory, db_pool: ConnectionPool, image_store_dir: Path
) -> None:
    server: IntakeServer = start_intake(max_image_pixels=10_000_000)
    channel, stub = plant_stub(server)
    owner_id = f"owner-{uuid.uuid4()}"

    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.CreatePlant(
            plants_pb2.CreatePlantRequest(
                owner_id=owner_id,
                image=read_photo("exif-orientation-8-canon-7d-large.jpg"),
            ),
            timeout=10,
        )

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "3456x4052 (14.0 megapixels)" in caught.value.details()
    assert "limit is 10.0 megapixels" in caught.value.details()
    assert count_plants(db_pool, owner_id) == 0
    assert stored_files(image_store_dir) == []


def test_photo_above_byte_limit_rejected(
    start_intake: IntakeFactory, db_pool: ConnectionPool, image_store_dir: Path
) -> None:
    server = start_intake(max_image_bytes=1 * MIB)
    channel, stub = plant_stub(server)
    owner_id = f"owner-{uuid.uuid4()}"
    photo = read_photo("exif-orientation-8-canon-7d-large.jpg")

    with channel:
        with pytest.raises(grpc.RpcError) as just_over:
            stub.CreatePlant(
                plants_pb2.CreatePlantRequest(
                    owner_id=owner_id, image=photo[: 1 * MIB + 1]
                ),
                timeout=10,
            )
        with pytest.raises(grpc.RpcError) as far_over:
            stub.CreatePlant(
                plants_pb2.CreatePlantRequest(owner_id=owner_id, image=photo),
                timeout=10,
            )

    assert just_over.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "limit is 1.0 MiB (1048576 bytes)" in just_over.value.details()
    # Beyond the limit plus framing, gRPC rejects the message before the
    # handler runs, naming its own receive limit.
    assert far_over.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert str(1 * MIB + 64 * 1024) in far_over.value.details()
    assert count_plants(db_pool, owner_id) == 0
    assert stored_files(image_store_dir) == []


def test_stored_photo_is_readable_by_others(
    grpc_stub: plants_pb2_grpc.PlantServiceStub, image_store_dir: Path
) -> None:
    grpc_stub.CreatePlant(
        plants_pb2.CreatePlantRequest(
            owner_id="owner-1", image=read_photo("flower-sklearn.jpg")
        ),
        timeout=10,
    )

    files = stored_files(image_store_dir)
    assert len(files) == 1
    assert files[0].stat().st_mode & 0o777 == 0o644
