"""Checks that an uploaded photo is an image we can identify.

Only the header is parsed: Pillow reads format and size without decoding the
pixels, so a huge or hostile upload costs almost nothing to reject.
"""

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from shared.errors import InvalidImageError
from shared.image_formats import ACCEPTED_FORMATS, ImageFormat, register_image_plugins

register_image_plugins()

_END_MARKERS = {
    # A JPEG ends with the EOI marker; a cut-off upload does not.
    "JPEG": b"\xff\xd9",
    "MPO": b"\xff\xd9",
}


@dataclass(frozen=True)
class ValidatedImage:
    image_format: ImageFormat
    width: int
    height: int


def validate_image(
    image_bytes: bytes, *, max_image_bytes: int, max_image_pixels: int
) -> ValidatedImage:
    """Return the detected format and size; raise `InvalidImageError` otherwise."""
    if not image_bytes:
        raise InvalidImageError("image is empty: send the photo's bytes in `image`")
    if len(image_bytes) > max_image_bytes:
        msg = (
            f"image is {_format_bytes(len(image_bytes))}, "
            f"limit is {_format_bytes(max_image_bytes)}"
        )
        raise InvalidImageError(msg)

    try:
        # Pillow's own bomb check warns or raises depending on size; the pixel
        # limit below is the one that applies, so its warning is not wanted.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(image_bytes))
    except Image.DecompressionBombError as exc:
        msg = f"image is a decompression bomb: {exc}"
        raise InvalidImageError(msg) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        msg = (
            "image could not be read as JPEG, PNG, WebP, HEIC or HEIF"
            f" ({type(exc).__name__})"
        )
        raise InvalidImageError(msg) from None

    with image:
        image_format = ACCEPTED_FORMATS.get(image.format or "")
        if image_format is None:
            msg = (
                f"unsupported image format {image.format}: "
                "expected JPEG, PNG, WebP, HEIC or HEIF"
            )
            raise InvalidImageError(msg)
        width, height = image.size
        pixels = width * height
        if pixels > max_image_pixels:
            msg = (
                f"image is {width}x{height} ({pixels / 1e6:.1f} megapixels), "
                f"limit is {max_image_pixels / 1e6:.1f} megapixels"
            )
            raise InvalidImageError(msg)
        end_marker = _END_MARKERS.get(image.format or "")
        if end_marker and end_marker not in image_bytes[-1024:]:
            raise InvalidImageError(
                "image is truncated: the JPEG end marker is missing"
            )
    return ValidatedImage(image_format, width, height)


def _format_bytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB ({size} bytes)"
