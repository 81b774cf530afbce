"""Turning a stored photo into the small upright JPEG sent to the model."""

import io
import math
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from ai_worker.failures import IdentificationRejectedError
from shared.image_formats import register_image_plugins
from shared.plant import FailureCode

register_image_plugins()

JPEG_QUALITY = 85


@dataclass(frozen=True)
class PreparedImage:
    jpeg_bytes: bytes
    width: int
    height: int
    original_width: int
    original_height: int

    mime_type = "image/jpeg"


def prepare_image(image_bytes: bytes, *, max_side_px: int) -> PreparedImage:
    """Apply the EXIF orientation, fit within max_side_px and re-encode as JPEG.

    Re-encoding also drops EXIF, so GPS positions never reach the model.
    Raises `IdentificationRejectedError` (IMAGE_UNREADABLE) for bytes that do
    not decode.
    """
    try:
        with warnings.catch_warnings():
            # The intake already enforced its own pixel limit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image_bytes)) as image:
                original_width, original_height = image.size
                # For JPEG, decode at 1/2, 1/4 or 1/8 scale when that still
                # covers the target: most of the decode cost disappears.
                image.draft("RGB", fitted_size(image.size, max_side_px))
                upright = ImageOps.exif_transpose(image)
                upright.thumbnail((max_side_px, max_side_px), reducing_gap=2.0)
                rgb = _flatten_to_rgb(upright)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        msg = f"stored image could not be decoded: {type(exc).__name__}: {exc}"
        raise IdentificationRejectedError(FailureCode.IMAGE_UNREADABLE, msg) from exc

    output = io.BytesIO()
    rgb.save(output, format="JPEG", quality=JPEG_QUALITY, optimize=False)
    return PreparedImage(
        jpeg_bytes=output.getvalue(),
        width=rgb.width,
        height=rgb.height,
        original_width=original_width,
        original_height=original_height,
    )


def fitted_size(size: tuple[int, int], max_side_px: int) -> tuple[int, int]:
    """Return the size that fits `size` within a max_side_px square, same aspect ratio.

    Asking `draft` for this size rather than for the square lets a 16:9 photo
    decode at 1/4 scale instead of 1/2: the square's height, not the fitted
    height, would otherwise limit the reduction. The square fits the same
    size whether or not the EXIF orientation later turns the photo by 90°.
    """
    width, height = size
    scale = min(1.0, max_side_px / max(width, height))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _flatten_to_rgb(image: Image.Image) -> Image.Image:
    """Composite transparency onto white: transparent pixels often hold junk colour."""
    if image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    ):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode != "RGB":
        return image.convert("RGB")
    return image
