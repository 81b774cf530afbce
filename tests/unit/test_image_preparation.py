"""Image preparation: reduced-scale JPEG decode, orientation, size, alpha."""

import io

import pytest
from PIL import Image, JpegImagePlugin

from ai_worker.image_preparation import fitted_size, prepare_image


def make_jpeg(width: int, height: int, *, orientation: int | None = None) -> bytes:
    # Left half red, right half blue, so the orientation can be checked.
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    output = io.BytesIO()
    image.save(output, format="JPEG", quality=90, exif=exif.tobytes())
    return output.getvalue()


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((4608, 2592), (1024, 576)),
        ((2592, 4608), (576, 1024)),
        ((640, 427), (640, 427)),
        ((1024, 1024), (1024, 1024)),
        ((5000, 3), (1024, 1)),
    ],
)
def test_fitted_size_keeps_aspect_ratio(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert fitted_size(size, 1024) == expected


def test_wide_jpeg_decodes_at_reduced_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded_sizes = []
    original_draft = JpegImagePlugin.JpegImageFile.draft

    def recording_draft(self, mode, size):  # type: ignore[no-untyped-def]
        result = original_draft(self, mode, size)
        decoded_sizes.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", recording_draft)

    prepared = prepare_image(make_jpeg(3200, 1800), max_side_px=1024)

    # A square request would have allowed no reduction: 1800 // 1024 == 1.
    assert decoded_sizes[0] == (1600, 900)
    assert (prepared.width, prepared.height) == (1024, 576)
    assert (prepared.original_width, prepared.original_height) == (3200, 1800)


def test_exif_orientation_applied_after_draft() -> None:
    # Orientation 6: the stored pixels must be turned 90° clockwise for display.
    prepared = prepare_image(make_jpeg(1600, 900, orientation=6), max_side_px=1024)

    with Image.open(io.BytesIO(prepared.jpeg_bytes)) as upright:
        assert upright.size == (576, 1024)
        top_pixel = upright.convert("RGB").getpixel((288, 50))
        bottom_pixel = upright.convert("RGB").getpixel((288, 970))
        has_exif = bool(upright.getexif())
    # The stored left half (red) ends up on top after the turn.
    assert top_pixel[0] > 200
    assert top_pixel[2] < 60
    assert bottom_pixel[2] > 200
    assert not has_exif


def test_small_jpeg_keeps_its_size() -> None:
    prepared = prepare_image(make_jpeg(640, 427), max_side_px=1024)

    assert (prepared.width, prepared.height) == (640, 427)


def test_transparent_png_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (2000, 1000), (0, 128, 0, 0))
    image.paste((0, 128, 0, 255), (0, 0, 1000, 1000))
    output = io.BytesIO()
    image.save(output, format="PNG")

    prepared = prepare_image(output.getvalue(), max_side_px=1024)

    with Image.open(io.BytesIO(prepared.jpeg_bytes)) as flattened:
        assert flattened.mode == "RGB"
        assert flattened.size == (1024, 512)
        opaque = flattened.getpixel((200, 256))
        transparent = flattened.getpixel((800, 256))
    assert opaque[1] > 100
    assert opaque[0] < 40
    assert min(transparent) > 240
