"""Checks that an uploaded photo is an image we can identify.

The format is recognised from the file signature, never from the declared
content type. Only headers are parsed: the format's Pillow plug-in reads the
size without decoding pixels, so a huge or hostile upload costs almost nothing
to reject. Truncation is detected from each format's framing (end marker,
declared lengths), which catches a cut-off upload but not corrupt pixel data
inside a complete file.
"""

import io
from collections.abc import Callable
from dataclasses import dataclass

from PIL import ImageFile, JpegImagePlugin, PngImagePlugin, WebPImagePlugin
from pillow_heif.as_plugin import HeifImageFile

from shared.errors import InvalidImageError
from shared.image_formats import (
    ACCEPTED_FORMATS,
    ImageFormat,
    heif_format,
    register_image_plugins,
)

register_image_plugins()

EXPECTED_FORMATS = "expected JPEG, PNG, WebP, HEIC or HEIF"

# ftyp major brands that pillow-heif 1.9 opens (its `_is_supported_heif`).
_HEIF_BRANDS = frozenset(
    {
        b"heic", b"heix", b"heim", b"heis", b"hevc",
        b"hevx", b"hevm", b"hevs", b"mif1", b"msf1",
    }
)  # fmt: skip

# Formats we reject, recognised only to name them in the message.
_OTHER_SIGNATURES = [
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x0a", "JPEG XL"),
    (b"%PDF", "PDF"),
]

_PNG_IEND = b"IEND\xaeB`\x82"
_JPEG_EOI = b"\xff\xd9"
# Trailing bytes some cameras and editors append after the last marker.
_TRAILER_ALLOWANCE = 1024


@dataclass(frozen=True)
class ValidatedImage:
    image_format: ImageFormat
    width: int
    height: int


def validate_image(
    image_bytes: bytes, *, max_image_bytes: int, max_image_pixels: int
) -> ValidatedImage:
    """Return the detected format and size of an acceptable photo.

    Raises `InvalidImageError` for an empty, oversized, unsupported,
    unreadable or truncated file, and for one whose declared width times height
    is above `max_image_pixels` (a decompression bomb, or just too big).
    """
    if not image_bytes:
        raise InvalidImageError("image is empty: send the photo's bytes in `image`")
    if len(image_bytes) > max_image_bytes:
        msg = (
            f"image is {format_bytes(len(image_bytes))}, "
            f"limit is {format_bytes(max_image_bytes)}"
        )
        raise InvalidImageError(msg)

    pillow_format = _sniff_format(image_bytes)
    _check_complete(pillow_format, image_bytes)
    if pillow_format == "WEBP":
        # The WebP decoder allocates the whole canvas when it opens the file.
        _check_pixels(*_webp_size(image_bytes), max_image_pixels)
    image = _open_header(pillow_format, image_bytes)
    with image:
        width, height = image.size
        _check_pixels(width, height, max_image_pixels)
        if pillow_format == "HEIF":
            image_format = heif_format(getattr(image, "custom_mimetype", ""))
        else:
            image_format = ACCEPTED_FORMATS[pillow_format]
    return ValidatedImage(image_format, width, height)


def format_bytes(size: int) -> str:
    """Format a byte count as MiB with the exact count, for error messages."""
    return f"{size / (1024 * 1024):.1f} MiB ({size} bytes)"


def _sniff_format(image_bytes: bytes) -> str:
    if image_bytes.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if image_bytes.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if image_bytes[0:4] == b"RIFF" and image_bytes[8:12] == b"WEBP":
        return "WEBP"
    if image_bytes[4:8] == b"ftyp":
        brand = image_bytes[8:12]
        if brand in _HEIF_BRANDS:
            return "HEIF"
        name = "AVIF" if brand in (b"avif", b"avis") else f"ISO media ({brand!r})"
        raise InvalidImageError(f"unsupported image format {name}: {EXPECTED_FORMATS}")
    for signature, name in _OTHER_SIGNATURES:
        if image_bytes.startswith(signature):
            msg = f"unsupported image format {name}: {EXPECTED_FORMATS}"
            raise InvalidImageError(msg)
    msg = f"image is not a recognised image file: {EXPECTED_FORMATS}"
    raise InvalidImageError(msg)


_OPENERS: dict[str, Callable[[io.BytesIO], ImageFile.ImageFile]] = {
    # JpegImageFile rather than Pillow's factory: an MPO's first frame is a
    # plain JPEG, and the factory warns on malformed MPO headers.
    "JPEG": JpegImagePlugin.JpegImageFile,
    "PNG": PngImagePlugin.PngImageFile,
    "WEBP": WebPImagePlugin.WebPImageFile,
    "HEIF": HeifImageFile,
}


def _open_header(pillow_format: str, image_bytes: bytes) -> ImageFile.ImageFile:
    # The plug-in class is used directly instead of Image.open: only the
    # sniffed format is tried, and Image.open's own bomb check, which warns
    # through the process-wide warnings filters, is replaced by _check_pixels.
    try:
        return _OPENERS[pillow_format](io.BytesIO(image_bytes))
    except ValueError as exc:
        if "Decompressed data too large" in str(exc):
            msg = (
                "image is a decompression bomb: a PNG text chunk expands beyond "
                f"{format_bytes(PngImagePlugin.MAX_TEXT_CHUNK)}"
            )
            raise InvalidImageError(msg) from None
        raise _unreadable(pillow_format, exc) from None
    except (OSError, SyntaxError, EOFError, IndexError, KeyError) as exc:
        raise _unreadable(pillow_format, exc) from None


def _unreadable(pillow_format: str, error: Exception) -> InvalidImageError:
    return InvalidImageError(
        f"image has a {pillow_format} signature but its header is invalid "
        f"({type(error).__name__}): {EXPECTED_FORMATS}"
    )


def _check_pixels(width: int, height: int, max_image_pixels: int) -> None:
    pixels = width * height
    if pixels > max_image_pixels:
        msg = (
            f"image is {width}x{height} ({pixels / 1e6:.1f} megapixels), "
            f"limit is {max_image_pixels / 1e6:.1f} megapixels"
        )
        raise InvalidImageError(msg)


def _check_complete(pillow_format: str, image_bytes: bytes) -> None:
    tail = image_bytes[-_TRAILER_ALLOWANCE:]
    # NOTE: a JPEG cut off inside its scan data passes when an end marker was
    # appended after the cut. Only decoding the scan would tell, and Pillow
    # then fills the missing rows with grey instead of raising.
    if pillow_format == "JPEG" and _JPEG_EOI not in tail:
        raise InvalidImageError("image is truncated: the JPEG end marker is missing")
    if pillow_format == "PNG" and _PNG_IEND not in tail:
        raise InvalidImageError("image is truncated: the PNG IEND chunk is missing")
    if pillow_format == "WEBP":
        declared = int.from_bytes(image_bytes[4:8], "little") + 8
        if declared > len(image_bytes):
            msg = (
                f"image is truncated: the WebP header declares {declared} bytes, "
                f"the upload has {len(image_bytes)}"
            )
            raise InvalidImageError(msg)
    if pillow_format == "HEIF":
        _check_boxes_complete(image_bytes)


def _check_boxes_complete(image_bytes: bytes) -> None:
    """Check that every top-level ISO media box ends within the upload."""
    offset = 0
    while offset < len(image_bytes):
        header = image_bytes[offset : offset + 16]
        size = int.from_bytes(header[0:4], "big")
        box_type = header[4:8].decode("latin-1")
        if size == 1 and len(header) == 16:
            size = int.from_bytes(header[8:16], "big")
        elif size == 0:
            return  # The last box runs to the end of the file.
        if size < 8 or offset + size > len(image_bytes):
            msg = (
                f"image is truncated: the HEIF box {box_type!r} at byte {offset} "
                f"declares {size} bytes, {len(image_bytes) - offset} remain"
            )
            raise InvalidImageError(msg)
        offset += size


def _webp_size(image_bytes: bytes) -> tuple[int, int]:
    """Read the canvas size from a WebP header (layouts as in RFC 9649)."""
    chunk = image_bytes[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(image_bytes[24:27], "little") + 1
        height = int.from_bytes(image_bytes[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L":
        bits = int.from_bytes(image_bytes[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        width = int.from_bytes(image_bytes[26:28], "little") & 0x3FFF
        height = int.from_bytes(image_bytes[28:30], "little") & 0x3FFF
        return width, height
    return 0, 0  # Unknown layout: the decoder's own checks decide.
