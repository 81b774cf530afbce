"""Image formats the product accepts, and Pillow plug-in registration."""

from dataclasses import dataclass

import pillow_heif


@dataclass(frozen=True)
class ImageFormat:
    mime_type: str
    extension: str


# Pillow format name -> what we store and send. These are the image types
# Gemini accepts inline (PNG, JPEG, WebP, HEIC, HEIF).
ACCEPTED_FORMATS = {
    "JPEG": ImageFormat("image/jpeg", "jpg"),
    # Multi-picture JPEG from stereo cameras; the first frame is plain JPEG.
    "MPO": ImageFormat("image/jpeg", "jpg"),
    "PNG": ImageFormat("image/png", "png"),
    "WEBP": ImageFormat("image/webp", "webp"),
    "HEIF": ImageFormat("image/heic", "heic"),
}

_registered = False


def register_image_plugins() -> None:
    """Teach Pillow to open HEIC and HEIF files; safe to call more than once."""
    global _registered
    if not _registered:
        pillow_heif.register_heif_opener()
        _registered = True
