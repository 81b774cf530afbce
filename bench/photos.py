"""The photos the benchmarks send, and a way to make each upload unique."""

import io
import itertools
from functools import cache
from pathlib import Path

from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
SMALL_PHOTO = REPO_ROOT / "tests" / "data" / "flower-sklearn.jpg"
LARGE_SOURCE = Path(__file__).resolve().parent / "data" / "dandelions.jpg"
# 16:9 at 12 megapixels, a common phone camera mode.
LARGE_SIZE = (4608, 2592)

_counter = itertools.count()


def small_photo() -> bytes:
    """Return the ~143 KB test photo (640x427 JPEG)."""
    return SMALL_PHOTO.read_bytes()


@cache
def large_photo() -> bytes:
    """Return a 12-megapixel baseline JPEG made from the dandelion photo.

    The source is a 5312x2988 progressive JPEG; phones write baseline JPEGs,
    so the photo is resized to 4608x2592 and saved baseline at quality 90.
    """
    with Image.open(LARGE_SOURCE) as source:
        resized = source.convert("RGB").resize(LARGE_SIZE, Image.Resampling.LANCZOS)
    output = io.BytesIO()
    resized.save(output, format="JPEG", quality=90, progressive=False)
    return output.getvalue()


def make_unique(jpeg_bytes: bytes, tag: str = "") -> bytes:
    """Insert a JPEG comment after the SOI marker so the bytes hash differently.

    The image store keys photos by SHA-256 and skips the write of a photo it
    already has, so a benchmark that sent one photo again and again would
    measure no storage at all.
    """
    text = f"bench {tag} {next(_counter)}".encode()
    segment = b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text
    return jpeg_bytes[:2] + segment + jpeg_bytes[2:]
