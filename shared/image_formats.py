"""Image formats the product accepts, and Pillow plug-in registration."""

from dataclasses import dataclass

import pillow_heif


@dataclass(frozen=True)
class ImageFormat:
    mime_type: str
    extension: str


JPEG = ImageFormat("image/jpeg", "jpg")
PNG = ImageFormat("image/png", "png")
WEBP = ImageFormat("image/webp", "webp")
HEIC = ImageFormat("image/heic", "heic")
HEIF = ImageFormat("image/heif", "heif")

# Pillow format name -> what we store and send. These are the image types
# Gemini accepts inline (PNG, JPEG, WebP, HEIC, HEIF). Pillow names every
# HEIF-family file "HEIF", so `heif_format` picks HEIC or generic HEIF.
ACCEPTED_FORMATS = {
    "JPEG": JPEG,
    # Multi-picture JPEG from stereo cameras; the first frame is plain JPEG.
    "MPO": JPEG,
    "PNG": PNG,
    "WEBP": WEBP,
    "HEIF": HEIF,
}


def heif_format(mime_type: str) -> ImageFormat:
    """Return HEIC or HEIF for the MIME type libheif reports for a file.

    libheif (pillow-heif 1.9) derives it from the major brand of the `ftyp`
    box: `heic`, `heix` and other HEVC brands give image/heic, `mif1` gives
    image/heif. Image sequences are stored as their still-image type.
    """
    if mime_type.startswith("image/heic"):
        return HEIC
    return HEIF


_registered = False


def register_image_plugins() -> None:
    """Teach Pillow to open HEIC and HEIF files; safe to call more than once."""
    global _registered
    if not _registered:
        pillow_heif.register_heif_opener()
        _registered = True
